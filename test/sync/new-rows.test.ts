/**
 * New-user rows streamed (sync/new-rows.ts): with `holdNewRows: 0` every row that would be
 * imported is read again after the plan and imported a page at a time. The outcome must be
 * the one of holding every row: same users, links, write-backs, issues and counts.
 */
import { parse } from 'csv-parse/sync';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { emailHash } from '../../src/sync/new-rows.js';
import type { SyncProgress } from '../../src/sync/sync-result.js';
import { expectNoChanges, runOf, useSyncFixture, type SyncWorld } from '../support/sync-fixture.js';

const { makeWorld } = useSyncFixture();

// Keyed by id: row 9 is there twice; rows 7 and 8 share an email (in two spellings); row 10
// has the email of a user the app already has; row 11's email is not one.
const CSV = `id,email,name,user_id
1,ann@x.io,Ann,
2,bo@x.io,Bo,
3,cy@x.io,Cy,
4,di@x.io,Di,
5,ed@x.io,Ed,
6,flo@x.io,Flo,
7,twin@x.io,Twin A,
8, TWIN@x.io,Twin B,
9,nine@x.io,Nine,
9,nine-again@x.io,Nine again,
10,app@x.io,From the source,
11,not-an-email,Nobody,
`;

/** A CSV source keyed by id (email, name, user_id), synced with a fresh directory. */
function csvWorld(csv: string): Promise<SyncWorld> {
  return makeWorld({
    files: { 'members.csv': csv },
    connections: [
      {
        name: 'sheet',
        source: 'csv:./members.csv',
        key: 'id',
        fields: { email: 'email', name: 'name', userId: 'user_id' },
      },
    ],
  });
}

async function world(): Promise<SyncWorld> {
  const w = await csvWorld(CSV);
  await w.store.createUser({ email: 'app@x.io', name: 'In the app' });
  return w;
}

async function outcome(holdNewRows: number | undefined) {
  const w = await world();
  const progress: SyncProgress[] = [];
  const run = runOf(
    await w.sync({ holdNewRows, onProgress: (p: SyncProgress) => progress.push(p) }),
    'sheet',
  );
  const users = await w.users();
  const idOf = new Map(users.map((u) => [u.id, u.email]));
  const links = (await w.links('sheet')).map((l) => `${l.key} → ${idOf.get(l.userId)}`).sort();
  const rows: Array<Record<string, string>> = parse(readFileSync(w.path('members.csv')), { columns: true });
  const written = rows.map((r) => `${r.id}:${r.user_id ? idOf.get(r.user_id) : ''}`);
  const issues = (await w.openIssues()).map((i) => `${i.kind} ${i.rows.join(',')}`).sort();
  const second = await w.sync({ holdNewRows });
  // Row 1 (linked now) changes its email to the one of a new row: neither may sync.
  const file = w.path('members.csv');
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace('1,ann@x.io,', '1,new@x.io,') + '12,new@x.io,New,\n',
  );
  await w.sync({ holdNewRows });
  const third = {
    users: (await w.users()).map((u) => u.email).sort(),
    issues: (await w.openIssues()).map((i) => `${i.kind} ${i.rows.join(',')}`).sort(),
  };
  return {
    counts: run.counts,
    users: users.map((u) => `${u.email} ${u.name}`).sort(),
    links,
    written,
    issues,
    second,
    third,
    applied: progress.filter((p) => p.phase === 'apply'),
  };
}

describe('new-user rows read again and imported page by page', () => {
  it('give what holding every row gives: users, links, write-backs, issues, counts', async () => {
    const held = await outcome(undefined);
    const streamed = await outcome(0);

    expect(streamed.users).toEqual(held.users);
    expect(streamed.links).toEqual(held.links);
    expect(streamed.written).toEqual(held.written);
    expect(streamed.issues).toEqual(held.issues);
    expect(streamed.counts).toEqual(held.counts);
    // The case itself: six imports (rows 1–6), row 10 matched (its name a conflict), the rest held by issues.
    expect(held.counts).toMatchObject({ app: { created: 6, updated: 1 }, source: { updated: 7 } });
    expect(held.issues).toEqual([
      'conflict 10',
      'duplicate_email 7,8',
      'invalid_email 11',
      'invalid_value 9', // the repeated key
    ]);
    expect(streamed.third).toEqual(held.third);
    expect(held.third.issues).toContain('duplicate_email 1,12');
    expect(held.third.users).not.toContain('new@x.io');
    expectNoChanges(streamed.second);
    expectNoChanges(held.second);
    // Progress counts the streamed imports too, up to the total announced.
    const last = streamed.applied.at(-1) as { done: number; total: number };
    expect(last.done).toBe(last.total);
    expect(last.total).toBe(7);
  });

  it('into an empty directory, a first read of the emails gives what reading every column gives', async () => {
    // The same rows without the one an app user matches: the directory starts empty.
    const csv = CSV.replace('10,app@x.io,From the source,\n', '');
    const firstSync = async (narrowFirstRead: boolean) => {
      const w = await csvWorld(csv);
      const run = runOf(await w.sync({ narrowFirstRead }), 'sheet');
      const users = await w.users();
      const idOf = new Map(users.map((u) => [u.id, u.email]));
      const rows: Array<Record<string, string>> = parse(readFileSync(w.path('members.csv')), {
        columns: true,
      });
      const outcome = {
        counts: run.counts,
        users: users.map((u) => `${u.email} ${u.name}`).sort(),
        links: (await w.links('sheet')).map((l) => `${l.key} → ${idOf.get(l.userId)}`).sort(),
        written: rows.map((r) => `${r.id}:${r.user_id ? idOf.get(r.user_id) : ''}`),
        issues: (await w.openIssues()).map((i) => `${i.kind} ${i.rows.join(',')}: ${i.message}`).sort(),
      };
      expectNoChanges(await w.sync());
      return outcome;
    };
    const narrow = await firstSync(true);
    const full = await firstSync(false);
    expect(narrow).toEqual(full);
    expect(narrow.counts).toMatchObject({ app: { created: 6 }, source: { updated: 6 } });
    expect(narrow.issues.map((i) => i.split(':')[0])).toEqual([
      'duplicate_email 7,8',
      'invalid_email 11',
      'invalid_value 9',
    ]);
  });

  it('two new rows whose emails share a hash are each imported, as when held', async () => {
    // FNV-1a gives these two addresses one 32-bit hash: the read takes them for rows sharing an email.
    expect(emailHash('m763399@x.io')).toBe(emailHash('m1109514@x.io'));
    const csv = 'id,email,name,user_id\n1,m763399@x.io,A,\n2,m1109514@x.io,B,\n3,other@x.io,C,\n';
    const imported = async (holdNewRows: number | undefined) => {
      const w = await csvWorld(csv);
      const run = runOf(await w.sync({ holdNewRows }), 'sheet');
      const users = await w.users();
      const rows: Array<Record<string, string>> = parse(readFileSync(w.path('members.csv')), {
        columns: true,
      });
      const idOf = new Map(users.map((u) => [u.id, u.email]));
      return {
        counts: run.counts,
        users: users.map((u) => `${u.email} ${u.name}`),
        written: rows.map((r) => `${r.id}:${idOf.get(r.user_id ?? '') ?? ''}`),
        issues: await w.openIssues(),
      };
    };
    const streamed = await imported(0);
    expect(streamed).toEqual(await imported(undefined));
    expect(streamed.users).toEqual(['m1109514@x.io B', 'm763399@x.io A', 'other@x.io C']);
    expect(streamed.written).toEqual(['1:m763399@x.io', '2:m1109514@x.io', '3:other@x.io']);
    expect(streamed.issues).toEqual([]);
  });
});
