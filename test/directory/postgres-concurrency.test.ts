/**
 * Several processes on one PostgreSQL directory (SPEC §5: N workers and API processes):
 * each "process" here is a store with its own pool, racing through Promise.all; the
 * deterministic cases hold a row in an open transaction of their own until the store's
 * write is seen waiting on it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { isUsersyncError } from '../../src/core/errors.js';
import type { IssueReport } from '../../src/core/issue.js';
import { openDirectory } from '../../src/directory/open.js';
import type { DirectoryStore, LockOwner } from '../../src/directory/store.js';
import {
  postgresReachable,
  postgresUrl,
  quoteIdent,
  uniqueName,
  usePostgresSchemas,
  waitUntilBlocked,
} from '../support/postgres-directory.js';
import { collect, link, newUser } from './contract/harness.js';

const reachable = await postgresReachable();
const schemas = usePostgresSchemas();
const HOST = hostname();

const opened: DirectoryStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

interface Directory {
  readonly schema: string;
  /** The "processes": stores with pools of their own on one directory. */
  readonly a: DirectoryStore;
  readonly b: DirectoryStore;
  /** A store whose sessions are recognisable in pg_stat_activity by this application name. */
  readonly watched: DirectoryStore;
  readonly application: string;
}

async function directory(): Promise<Directory> {
  const schema = schemas.newSchema();
  const application = uniqueName('usersync_test_');
  const a = await openDirectory(postgresUrl({ schema }));
  opened.push(a);
  const [b, watched] = await Promise.all([
    openDirectory(postgresUrl({ schema })),
    openDirectory(postgresUrl({ schema, application_name: application })),
  ]);
  opened.push(b, watched);
  return { schema, a, b, watched, application };
}

/** Runs `write` in a transaction of its own on the directory's schema, left open until `commit` is called. */
async function holdInTransaction(
  schema: string,
  write: (client: pg.PoolClient) => Promise<unknown>,
): Promise<() => Promise<void>> {
  const client = await schemas.admin.connect();
  await client.query(`set search_path to ${quoteIdent(schema)}`);
  await client.query('begin');
  await write(client);
  return async () => {
    await client.query('commit');
    await client.query('reset search_path');
    client.release();
  };
}

const insertUserRow = (id: string, email: string) => (client: pg.PoolClient) =>
  client.query(
    "insert into users (id, email, email_key, created_at, updated_at) values ($1, $2, lower($2), '2025-01-01', '2025-01-01')",
    [id, email],
  );

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

function report(fingerprint: string, message = 'Rows share an email.'): IssueReport {
  return {
    kind: 'duplicate_email',
    fingerprint,
    message,
    fix: 'Give each row its own email.',
    rows: ['1', '2'],
    users: [],
  };
}

/** Both orders, so neither racer always starts first. */
function race<T>(round: number, first: () => Promise<T>, second: () => Promise<T>): Promise<[T, T]> {
  if (round % 2 === 0) return Promise.all([first(), second()]);
  return Promise.all([second(), first()]).then(([y, x]) => [x, y]);
}

describe.skipIf(!reachable)('PostgreSQL directory shared by several processes', () => {
  describe('run locks (SPEC §5: one run per connection across all processes)', () => {
    const ownerA: LockOwner = { id: 'worker-a', pid: process.pid, host: HOST };
    const ownerB: LockOwner = { id: 'worker-b', pid: process.pid, host: HOST };

    it('two processes racing for a lock: exactly one wins, in each of 50 rounds', async () => {
      const { a, b } = await directory();
      for (let round = 0; round < 50; round++) {
        const [wonA, wonB] = await race(
          round,
          () => a.acquireRunLock('crm', ownerA),
          () => b.acquireRunLock('crm', ownerB),
        );
        expect([wonA, wonB].filter(Boolean)).toHaveLength(1);
        // The loser asking again still loses; the winner releases for the next round.
        const [winner, winnerStore, loser, loserStore] = wonA
          ? [ownerA, a, ownerB, b]
          : [ownerB, b, ownerA, a];
        expect(await loserStore.acquireRunLock('crm', loser)).toBe(false);
        await winnerStore.releaseRunLock('crm', winner);
      }
    });

    it("two processes racing to take over a dead holder's lock: exactly one wins, in each of 20 rounds", async () => {
      const { a, b } = await directory();
      const dead: LockOwner = { id: 'crashed', pid: await deadPid(), host: HOST };
      for (let round = 0; round < 20; round++) {
        const connection = `crm-${round}`;
        expect(await a.acquireRunLock(connection, dead)).toBe(true);
        const [wonA, wonB] = await race(
          round,
          () => a.acquireRunLock(connection, ownerA),
          () => b.acquireRunLock(connection, ownerB),
        );
        expect([wonA, wonB].filter(Boolean)).toHaveLength(1);
      }
    });
  });

  describe('no lost updates', () => {
    it('two updates of one user at the same expected version: exactly one applies, in each of 20 rounds', async () => {
      const { a, b } = await directory();
      const user = await a.createUser({ email: 'ann@example.com' });
      for (let round = 0; round < 20; round++) {
        const version = round + 1;
        const [fromA, fromB] = await race(
          round,
          () => a.updateUser(user.id, { name: `a${round}` }, version),
          () => b.updateUser(user.id, { name: `b${round}` }, version),
        );
        const applied = [fromA, fromB].filter((u) => u !== null);
        expect(applied).toHaveLength(1);
        expect(await a.getUser(user.id)).toMatchObject({ name: applied[0]!.name, version: version + 1 });
      }
    });

    it('a sync step and an app change made at one version: exactly one applies, in each of 20 rounds', async () => {
      const { a, b } = await directory();
      await a.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
      ]);
      for (let round = 0; round < 20; round++) {
        const version = round + 1;
        const [[step], app] = await race(
          round,
          () =>
            a.applyBatch('crm', [
              {
                type: 'updateUser',
                userId: 'u1',
                expectedVersion: version,
                patch: { name: `sync${round}` },
                link: link('u1', 'k1', { baseline: { name: `sync${round}` } }),
              },
            ]),
          () => b.updateUser('u1', { name: `app${round}` }, version).then((u) => [u] as const),
        ).then(([x, y]) => [x, y[0]] as const);
        expect([step === 'ok', app !== null].filter(Boolean)).toHaveLength(1);
        const user = await a.getUser('u1');
        expect(user).toMatchObject({
          name: step === 'ok' ? `sync${round}` : `app${round}`,
          version: version + 1,
        });
        // The link's baseline moves only with the sync's own write.
        const [stored] = await a.linksOfUser('crm', 'u1');
        if (step === 'ok') expect(stored?.baseline).toEqual({ name: `sync${round}` });
        else expect(stored?.baseline).not.toEqual({ name: `sync${round}` });
      }
    });

    it('two app changes without a version both apply, neither undoing the other', async () => {
      const { a, b } = await directory();
      const user = await a.createUser({ email: 'ann@example.com', custom: { plan: 'free' } });
      for (let round = 0; round < 20; round++) {
        await race(
          round,
          () => a.updateUser(user.id, { name: `name${round}`, custom: { [`a${round}`]: round } }),
          () => b.updateUser(user.id, { avatar: `https://img/${round}`, custom: { [`b${round}`]: round } }),
        );
        const now = await a.getUser(user.id);
        expect(now).toMatchObject({
          name: `name${round}`,
          avatar: `https://img/${round}`,
          version: 1 + 2 * (round + 1),
        });
        expect(now?.custom).toMatchObject({ plan: 'free', [`a${round}`]: round, [`b${round}`]: round });
      }
    });

    it('a delete racing an update bumps the version past both', async () => {
      const { a, b } = await directory();
      for (let round = 0; round < 10; round++) {
        const user = await a.createUser({ email: `user${round}@example.com` });
        await race(
          round,
          () => a.updateUser(user.id, { name: 'Ann' }),
          () => b.deleteUser(user.id),
        );
        const now = await a.getUser(user.id);
        expect(now?.deletedAt).not.toBeNull();
        expect(now?.version).toBe(now?.name === 'Ann' ? 3 : 2);
      }
    });
  });

  describe('uniqueness races', () => {
    it('two processes creating one email at once: one user, the other gets directory.conflict, in each of 20 rounds', async () => {
      const { a, b } = await directory();
      for (let round = 0; round < 20; round++) {
        const email = `user${round}@example.com`;
        const outcomes = await Promise.allSettled(
          round % 2 === 0
            ? [a.createUser({ email }), b.createUser({ email: email.toUpperCase() })]
            : [b.createUser({ email: email.toUpperCase() }), a.createUser({ email })],
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const failure = outcomes.find((o) => o.status === 'rejected');
        expect(isUsersyncError(failure?.reason, 'directory.conflict')).toBe(true);
      }
      expect(await a.countUsers()).toBe(20);
    });

    it('a create that passed the email check but lost the race on the index is directory.conflict', async () => {
      const { schema, watched, application, a } = await directory();
      // Not committed yet: invisible to the store's check, but it holds the index entry.
      const commit = await holdInTransaction(schema, insertUserRow('other', 'ann@example.com'));
      const create = watched.createUser({ email: 'Ann@example.com' }).catch((e: unknown) => e);
      await waitUntilBlocked(schemas.admin, application);
      await commit();
      const error = await create;
      expect(isUsersyncError(error, 'directory.conflict')).toBe(true);
      expect((await a.listUsers()).map((u) => u.id)).toEqual(['other']);
    });

    it('a batch step that loses a race on the email index fails alone; the rest of the batch commits', async () => {
      const { schema, watched, application, a } = await directory();
      const commit = await holdInTransaction(schema, insertUserRow('other', 'bo@example.com'));
      const batch = watched.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
        { type: 'createUser', user: newUser('u2', 'BO@example.com'), link: link('u2', 'k2') },
        { type: 'createUser', user: newUser('u3', 'cy@example.com'), link: link('u3', 'k3') },
      ]);
      await waitUntilBlocked(schemas.admin, application);
      await commit();
      expect(await batch).toEqual(['ok', 'conflict', 'ok']);
      expect(await a.getUser('u2')).toBeNull();
      expect((await collect(a.scanLinks('crm', 10))).flat().map((l) => l.key)).toEqual(['k1', 'k3']);
      expect(await a.countUsers()).toBe(3);
    });

    it('an email change in a batch that loses the race is a conflict and writes nothing', async () => {
      const { schema, watched, application, a } = await directory();
      await a.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
      ]);
      const commit = await holdInTransaction(schema, insertUserRow('other', 'ann@new.example.com'));
      const batch = watched.applyBatch('crm', [
        {
          type: 'updateUser',
          userId: 'u1',
          expectedVersion: 1,
          patch: { email: 'ann@new.example.com' },
          link: link('u1', 'k1', { baseline: { email: 'ann@new.example.com' } }),
        },
        { type: 'putLink', link: link('u1', 'k1', { baseline: { name: 'kept' } }) },
      ]);
      await waitUntilBlocked(schemas.admin, application);
      await commit();
      expect(await batch).toEqual(['conflict', 'ok']);
      expect(await a.getUser('u1')).toMatchObject({ email: 'ann@example.com', version: 1 });
      expect((await a.linksOfUser('crm', 'u1'))[0]?.baseline).toEqual({ name: 'kept' });
    });

    it('a reused user id fails the whole batch: a bug, not a conflict', async () => {
      const { a, b } = await directory();
      await a.applyBatch('crm', [
        { type: 'createUser', user: newUser('u1', 'ann@example.com'), link: link('u1', 'k1') },
      ]);
      const batch = b.applyBatch('crm', [
        { type: 'createUser', user: newUser('u2', 'bo@example.com'), link: link('u2', 'k2') },
        { type: 'createUser', user: newUser('u1', 'cy@example.com'), link: link('u1', 'k3') },
      ]);
      await expect(batch).rejects.toMatchObject({ code: '23505', constraint: 'users_pkey' });
      expect(await a.getUser('u2')).toBeNull();
    });
  });

  describe('issues (SPEC §4: seen again updates the open issue)', () => {
    it('two processes recording one new problem at once open one issue, in each of 20 rounds', async () => {
      const { a, b } = await directory();
      for (let round = 0; round < 20; round++) {
        const fingerprint = `dup:${round}`;
        const [fromA, fromB] = await race(
          round,
          () => a.recordIssues('crm', null, [report(fingerprint, 'from a')], { resolveUnseen: false }),
          () => b.recordIssues('crm', null, [report(fingerprint, 'from b')], { resolveUnseen: false }),
        );
        expect(fromA.opened.length + fromB.opened.length).toBe(1);
        const open = await a.listIssues({ connection: 'crm', status: 'open' });
        expect(open.filter((issue) => issue.fingerprint === fingerprint)).toHaveLength(1);
      }
    });

    it('an issue opened by another process, not committed yet, is updated rather than opened twice', async () => {
      const { schema, watched, application, a } = await directory();
      const commit = await holdInTransaction(schema, (client) =>
        client.query(
          `insert into issues (id, connection, kind, fingerprint, status, message, fix, first_seen_at, last_seen_at)
           values ('other', 'crm', 'duplicate_email', 'dup:a', 'open', 'from the other', 'fix', '2025-01-01', '2025-01-01')`,
        ),
      );
      const recorded = watched.recordIssues('crm', null, [report('dup:a', 'seen again')], {
        resolveUnseen: true,
      });
      await waitUntilBlocked(schemas.admin, application);
      await commit();
      expect(await recorded).toEqual({ opened: [], resolved: [] });
      const issues = await a.listIssues({ connection: 'crm' });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({
        id: 'other',
        status: 'open',
        message: 'seen again',
        firstSeenAt: '2025-01-01',
      });
    });
  });
});
