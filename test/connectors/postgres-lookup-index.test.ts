import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { postgresReachable, usePostgresSources } from '../support/postgres.js';

const reachable = await postgresReachable();

const ROWS = 100_000;

interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Index Name'?: string;
  readonly 'Relation Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

/**
 * SPEC §8 / issue: a lookup by email (the login path) must use the source's index. The
 * SQL is captured as the connector sends it to the server (every query passes through
 * pg's Client.query), then EXPLAINed with the same parameters on the same table.
 */
describe.runIf(reachable)('postgres source: lookups use the table’s indexes', () => {
  const db = usePostgresSources();
  let table = '';

  beforeAll(async () => {
    table = await db.makeTable('id integer primary key, email text, full_name text');
    await db.query(
      `insert into ${db.qualified(table)} select n, 'User' || n || '@Example.com', 'User ' || n from generate_series(1, ${ROWS}) n`,
    );
    // The index docs/connectors.md recommends for case-insensitive lookups.
    await db.query(`create index ${table}_email_folded on ${db.qualified(table)} (lower(btrim(email)))`);
    await db.query(`create index ${table}_email on ${db.qualified(table)} (email)`);
    await db.query(`analyze ${db.qualified(table)}`);
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Runs the lookup and returns the plan of the query it sent (the one reading `table`). */
  async function planOfLookup(lookup: () => Promise<unknown>): Promise<PlanNode[]> {
    const query = vi.spyOn(pg.Client.prototype, 'query');
    await lookup();
    const sent = query.mock.calls
      .map(([text, values]) => ({ text: String(text), values: values as unknown[] | undefined }))
      .filter(({ text }) => text.startsWith('select') && text.includes(`"${table}"`));
    query.mockRestore();
    expect(sent).toHaveLength(1);
    const [{ text, values }] = sent as [{ text: string; values: unknown[] | undefined }];
    const [row] = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
      `explain (format json) ${text}`,
      values,
    );
    return nodesOf(row!['QUERY PLAN'][0].Plan);
  }

  const indexScans = (nodes: readonly PlanNode[]) =>
    nodes.filter((node) => /Index/.test(node['Node Type'])).map((node) => node['Index Name']);
  const seqScans = (nodes: readonly PlanNode[]) => nodes.filter((node) => node['Node Type'] === 'Seq Scan');

  it('a case-insensitive lookup by email uses the lower(btrim(email)) index', async () => {
    const connector = db.open({ table: `${db.name()}.${table}` });
    const nodes = await planOfLookup(() =>
      connector.lookup('email', [' user77@EXAMPLE.com '], ['email'], { caseInsensitive: true }),
    );
    expect(indexScans(nodes)).toEqual([`${table}_email_folded`]);
    expect(seqScans(nodes)).toEqual([]);
    expect(
      await connector.lookup('email', [' user77@EXAMPLE.com '], ['full_name'], { caseInsensitive: true }),
    ).toEqual([{ key: '77', values: { full_name: 'User 77' } }]);
  });

  it('a lookup by key uses the primary key, and a case-sensitive one by email the plain index', async () => {
    const connector = db.open({ table: `${db.name()}.${table}` });
    const byKey = await planOfLookup(() => connector.lookup('id', ['42', '4242'], ['email']));
    expect(indexScans(byKey)).toEqual([`${table}_pkey`]);
    expect(seqScans(byKey)).toEqual([]);
    const byEmail = await planOfLookup(() => connector.lookup('email', ['User42@Example.com'], ['id']));
    expect(indexScans(byEmail)).toEqual([`${table}_email`]);
    expect(seqScans(byEmail)).toEqual([]);
  });
});
