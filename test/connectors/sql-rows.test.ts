/**
 * The keyset paging the SQL connectors share (connectors/sql-rows.ts): pages in key order,
 * the next one asked for while the caller works on the current one, and a failed read
 * reported where the caller reaches it.
 */
import { describe, expect, it } from 'vitest';
import { keysetPages, type SelectedRow } from '../../src/connectors/sql-rows.js';

/** A table of `n` rows keyed 1…n; records each fetch and when the caller took each page. */
function table(n: number, failAfter?: number) {
  const events: string[] = [];
  const fetch = async (after: SelectedRow | undefined, limit: number): Promise<SelectedRow[]> => {
    const from = after === undefined ? 1 : Number(after.k) + 1;
    events.push(`fetch ${from}`);
    if (failAfter !== undefined && from > failAfter) throw new Error(`page from ${from} could not be read`);
    const rows: SelectedRow[] = [];
    for (let k = from; k <= Math.min(n, from + limit - 1); k += 1) rows.push({ k, c0: `row ${k}` });
    return rows;
  };
  return { events, fetch };
}

describe('keysetPages', () => {
  it('hands over every row once, in pages, and asks for the next page before handing over this one', async () => {
    const { events, fetch } = table(7);
    const pages: string[][] = [];
    for await (const page of keysetPages(['name'], 3, fetch)) {
      events.push(`took ${page[0]!.key}`);
      pages.push(page.map((row) => `${row.key}:${String(row.values.name)}`));
    }
    expect(pages).toEqual([
      ['1:row 1', '2:row 2', '3:row 3'],
      ['4:row 4', '5:row 5', '6:row 6'],
      ['7:row 7'],
    ]);
    expect(events).toEqual(['fetch 1', 'fetch 4', 'took 1', 'fetch 7', 'took 4', 'took 7']);
  });

  it('stops at a short page without another read', async () => {
    const { events, fetch } = table(6);
    let rows = 0;
    for await (const page of keysetPages(['name'], 3, fetch)) rows += page.length;
    expect(rows).toBe(6);
    // The second page was full, so one more (empty) read tells the end.
    expect(events).toEqual(['fetch 1', 'fetch 4', 'fetch 7']);
  });

  it('a page that cannot be read fails the read where the caller reaches it', async () => {
    const { fetch } = table(9, 3);
    const taken: string[] = [];
    const read = async () => {
      for await (const page of keysetPages(['name'], 3, fetch)) taken.push(page[0]!.key);
    };
    await expect(read()).rejects.toThrow('page from 4 could not be read');
    expect(taken).toEqual(['1']);
  });

  it('a caller that stops early leaves no failed read behind', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { events, fetch } = table(9, 3);
      for await (const page of keysetPages(['name'], 3, fetch)) if (page.length > 0) break;
      // Let the read-ahead fail and any unhandled rejection be reported.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events).toEqual(['fetch 1', 'fetch 4']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
