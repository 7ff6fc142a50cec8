/**
 * The REST API over a real `usersync serve` (SQLite directory, SQLite source): admin
 * authentication, validation that changes nothing, users, connections, runs and issues.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usersync } from '../support/cli.js';
import { eventually } from '../support/server.js';
import { useServerWorld } from '../support/server-world.js';

const world = useServerWorld();

describe('admin authentication', () => {
  it('refuses a missing, unknown or revoked key, and accepts a live one', async () => {
    const w = await world();
    const none = await w.server.request('GET', '/api/v1/users', { key: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect(none.body.error.message).toContain('usersync api-keys create');
    expect(none.headers.get('www-authenticate')).toBe('Bearer');

    const wrong = await w.server.request('GET', '/api/v1/users', { key: 'usk_not-a-real-key' });
    expect(wrong.status).toBe(401);
    expect((await w.server.request('GET', '/api/v1/users', { key: `${w.key}x` })).status).toBe(401);

    expect((await w.api('GET', '/api/v1/users')).status).toBe(200);
    expect((await usersync(w.dir, ['api-keys', 'revoke', 'test'])).code).toBe(0);
    expect((await w.api('GET', '/api/v1/users')).status).toBe(401);
  });

  it('lists keys with their last use and never the key itself', async () => {
    const w = await world();
    await w.api('GET', '/api/v1/users');
    const listed = await usersync(w.dir, ['api-keys', 'list', '--json']);
    const { keys } = JSON.parse(listed.stdout) as { keys: Array<Record<string, unknown>> };
    expect(keys).toHaveLength(1);
    expect(keys[0]!.name).toBe('test');
    expect(keys[0]!.lastUsedAt).not.toBeNull();
    expect(listed.stdout).not.toContain(w.key);
  });

  it('leaves health, readiness, metrics and the OpenAPI document public', async () => {
    const w = await world();
    for (const path of ['/health', '/ready', '/metrics', '/api/v1/openapi.json'])
      expect((await w.server.request('GET', path, { key: null })).status, path).toBe(200);
    const ready = await w.server.request('GET', '/ready', { key: null });
    expect(ready.body).toEqual({ status: 'ready', directory: 'sqlite', queue: 'local' });
  });
});

describe('bad input', () => {
  it('answers 400 with each problem and its path, and changes nothing', async () => {
    const w = await world();
    const bad = await w.api('POST', '/api/v1/users', { email: 'not-an-email', name: 'X' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.problems).toEqual([
      { path: 'body.email', message: expect.stringContaining('not a valid email') },
    ]);

    const unknown = await w.api('POST', '/api/v1/users', { email: 'a@example.com', plan: 'pro' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('request.invalid');
    expect(unknown.body.error.problems).toEqual([{ path: 'body.plan', message: expect.any(String) }]);

    const malformed = await w.api('POST', '/api/v1/users', '{"email": ');
    expect(malformed.status).toBe(400);

    const limit = await w.api('GET', '/api/v1/users?limit=0');
    expect(limit.status).toBe(400);
    expect(limit.body.error.problems[0].path).toBe('querystring.limit');

    expect((await w.api('GET', '/api/v1/users')).body.users).toEqual([]);
    expect(await w.club.rows()).toEqual([]);
  });

  it('refuses a connection with problems, naming each, and stores nothing', async () => {
    const w = await world();
    const bad = await w.api('POST', '/api/v1/connections', {
      name: 'two',
      source: 'sqlite:./crm.db',
      table: 'Club Members',
      fields: { name: 'x' },
      mode: 'sideways',
    });
    expect(bad.status).toBe(400);
    const paths = bad.body.error.problems.map((p: { path: string }) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['fields.email', 'mode']));
    const taken = await w.api('POST', '/api/v1/connections', {
      name: 'CRM',
      source: 'sqlite:./crm.db',
      table: 'Club Members',
      fields: { email: 'email' },
    });
    expect(taken.status).toBe(400);
    expect(taken.body.error.problems).toEqual([
      { path: 'name', message: expect.stringContaining('already the name') },
    ]);
    const { connections } = (await w.api('GET', '/api/v1/connections')).body;
    expect(connections.map((c: { name: string }) => c.name)).toEqual(['crm']);
  });

  it('refuses an update of a user that changed since the version given', async () => {
    const w = await world();
    const created = (await w.api('POST', '/api/v1/users', { email: 'v@example.com', name: 'One' })).body.user;
    const first = await w.api('PATCH', `/api/v1/users/${created.id}`, {
      name: 'Two',
      version: created.version,
    });
    expect(first.status).toBe(200);
    const stale = await w.api('PATCH', `/api/v1/users/${created.id}`, {
      name: 'Three',
      version: created.version,
    });
    expect(stale.status).toBe(409);
    expect((await w.api('GET', `/api/v1/users/${created.id}`)).body.name).toBe('Two');
  });
});

describe('users', () => {
  it('pages with a cursor, searches and filters', async () => {
    const w = await world();
    for (let i = 0; i < 7; i++)
      expect(
        (
          await w.api('POST', '/api/v1/users', {
            email: `u${i}@example.com`,
            name: i % 2 ? 'Odd One' : 'Even',
          })
        ).status,
      ).toBe(201);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: { users: { email: string }[]; next: string | null } = (
        await w.api('GET', `/api/v1/users?limit=3${after ? `&after=${after}` : ''}`)
      ).body;
      expect(page.users.length).toBeLessThanOrEqual(3);
      seen.push(...page.users.map((u) => u.email));
      after = page.next;
    } while (after);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `u${i}@example.com`));
    const odd = (await w.api('GET', '/api/v1/users?search=odd%20one')).body.users;
    expect(odd.map((u: { email: string }) => u.email).sort()).toEqual([
      'u1@example.com',
      'u3@example.com',
      'u5@example.com',
    ]);
    expect((await w.api('GET', '/api/v1/users?status=suspended')).body.users).toEqual([]);
    expect((await w.api('GET', '/api/v1/users/nope')).status).toBe(404);
  });
});

describe('runs, issues and live progress', () => {
  it('starts a run (manual), streams it as server-sent events, and lists it', async () => {
    const w = await world({
      seed: async (club) => void (await club.add({ email: 'ada@example.com', name: 'Ada' })),
    });
    const controller = new AbortController();
    const stream = await fetch(`${w.server.url}/api/v1/runs/events?connection=crm`, {
      headers: { authorization: `Bearer ${w.key}` },
      signal: controller.signal,
    });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const started = await w.api('POST', '/api/v1/runs', { connection: 'crm' });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({ queued: ['crm'] });
    const events: Array<{ trigger: string; status: string }> = [];
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!events.some((e) => e.trigger === 'manual' && e.status === 'succeeded')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      for (const block of text.split('\n\n').slice(0, -1)) {
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (block.startsWith('event: run') && data) events.push(JSON.parse(data.slice(6)));
      }
      text = text.slice(text.lastIndexOf('\n\n') + 2);
    }
    controller.abort();
    expect(events.find((e) => e.trigger === 'manual' && e.status === 'succeeded')).toBeDefined();
    const runs = (await w.api('GET', '/api/v1/runs?connection=crm')).body.runs;
    const manual = runs.find((r: { trigger: string }) => r.trigger === 'manual');
    expect(manual.counts.app.created).toBe(1);
    expect((await w.api('GET', `/api/v1/runs/${manual.id}`)).body.id).toBe(manual.id);
    expect((await w.api('GET', '/api/v1/runs/nope')).status).toBe(404);
  });

  it('shows an issue with its users and resolves it on validate fix', async () => {
    const w = await world();
    const ada = await w.club.add({ email: 'ada@example.com', name: 'Ada' });
    await w.club.add({ email: 'ADA@example.com ', name: 'Ada again' });
    await w.api('POST', '/api/v1/runs', { connection: 'crm' });
    const issue = await eventually(async () => {
      const { issues } = (await w.api('GET', '/api/v1/issues?status=open')).body;
      return issues.find((i: { kind: string }) => i.kind === 'duplicate_email');
    }, 'the duplicate_email issue');
    const details = await w.api('GET', `/api/v1/issues/${issue.id}`);
    expect(details.body.issue.rows.length).toBe(2);
    expect(details.body.issue.fix).not.toBe('');

    await w.club.remove(ada === '1' ? '2' : '1'); // the fix: one of the two rows goes
    const validated = await w.api('POST', `/api/v1/issues/${issue.id}/validate`);
    expect(validated.status).toBe(202);
    await eventually(async () => {
      const got = (await w.api('GET', `/api/v1/issues/${issue.id}`)).body.issue;
      return got.status === 'resolved' ? got : undefined;
    }, 'the issue to be resolved');
    const runs = (await w.api('GET', '/api/v1/runs?connection=crm')).body.runs;
    expect(runs[0]).toMatchObject({ trigger: 'validate_fix', status: 'succeeded' });
  });
});

describe('operations', () => {
  it('exposes runs, rows synced, durations and open issues by kind as Prometheus metrics', async () => {
    const w = await world();
    await w.club.add({ email: 'ada@example.com' });
    await w.club.add({ email: 'ADA@example.com' });
    await w.club.add({ email: 'grace@example.com' });
    await w.api('POST', '/api/v1/runs', { connection: 'crm' });
    await eventually(async () => {
      const { runs } = (await w.api('GET', '/api/v1/runs')).body;
      return runs.find((r: { status: string }) => r.status !== 'running');
    }, 'the run');
    const metrics = (await w.server.request('GET', '/metrics', { key: null })).body as string;
    expect(metrics).toContain(
      'usersync_sync_runs_total{connection="crm",trigger="manual",status="succeeded",scope="full"} 1',
    );
    expect(metrics).toContain('usersync_sync_rows_total{connection="crm",side="app",change="created"} 1');
    expect(metrics).toMatch(/usersync_sync_run_duration_seconds_count\{connection="crm",scope="full"\} 1/);
    expect(metrics).toContain('usersync_open_issues{connection="crm",kind="duplicate_email"} 1');
  });

  it('on SIGTERM finishes the run in progress, then exits 0', async () => {
    const w = await world();
    // Enough rows that the run is still going when the signal comes.
    const db = new Database(join(w.dir, 'crm.db'));
    const insert = db.prepare('insert into "Club Members" (email, "Full-Name") values (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 20_000; i++) insert.run(`m${i}@example.com`, `M ${i}`);
    })();
    db.close();
    // The queue starts the run before the 202 is sent: the signal comes while it runs.
    expect((await w.api('POST', '/api/v1/runs', { connection: 'crm' })).status).toBe(202);
    expect(await w.server.stop()).toBe(0);
    expect(w.server.logs.some((l) => l.msg === 'usersync server stopped')).toBe(true);
    const messages = w.server.logs.map((l) => l.msg);
    const finished = w.server.logs.find((l) => l.msg === 'sync run finished' && l.trigger === 'manual');
    expect(finished).toMatchObject({ status: 'succeeded', app: { created: 20_000 } });
    expect(messages.indexOf('stopping: finishing the work in progress')).toBeLessThan(
      messages.indexOf('sync run finished'),
    );
  });

  it('ensure-user called many times at once for one identity makes one user', async () => {
    const w = await world();
    const calls = await Promise.all(
      Array.from({ length: 12 }, () =>
        w.api('POST', '/api/v1/ensure-user', { externalId: 'ext-9', email: 'once@example.com' }),
      ),
    );
    expect(calls.every((c) => c.status === 200 || c.status === 201)).toBe(true);
    expect(calls.filter((c) => c.status === 201)).toHaveLength(1);
    expect(new Set(calls.map((c) => c.body.user.id)).size).toBe(1);
    expect((await w.club.rows()).filter((r) => r.email === 'once@example.com')).toHaveLength(1);
  });
});

describe('connections', () => {
  it('tests a connection and a draft source, an unreachable one being a result, not an error', async () => {
    const w = await world();
    const tested = await w.api('POST', '/api/v1/connections/crm/test');
    expect(tested.status).toBe(200);
    expect(tested.body.ok).toBe(true);
    expect(tested.body.columns.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining(['id', 'email', 'Full-Name']),
    );
    expect(tested.body.columns.find((c: { name: string }) => c.name === 'id').generated).toBe(true);

    const draft = await w.api('POST', '/api/v1/sources/describe', {
      source: 'sqlite:./crm.db',
      table: 'Club Members',
    });
    expect(draft.body.ok).toBe(true);
    const missing = await w.api('POST', '/api/v1/sources/describe', {
      source: 'sqlite:./crm.db',
      table: 'nope',
    });
    expect(missing.status).toBe(200);
    expect(missing.body).toMatchObject({
      ok: false,
      error: { code: expect.stringMatching(/^source\./), message: expect.stringContaining('nope') },
    });
    expect((await w.api('POST', '/api/v1/connections/ghost/test')).status).toBe(404);
  });

  it('updates an API connection only at its current version, and keeps credentials encrypted at rest', async () => {
    const w = await world();
    const definition = {
      name: 'pg',
      source: 'postgres://app:s3cret-pw@127.0.0.1:5432/test',
      table: 'members',
      fields: { email: 'email' },
    };
    const made = await w.api('POST', '/api/v1/connections', definition);
    expect(made.status).toBe(201);
    expect(made.body.connection.definition.source).toBe('postgres://app:***@127.0.0.1:5432/test');
    const db = new Database(join(w.dir, 'dir.db'), { readonly: true });
    const stored = db.prepare('select definition from stored_connections').get() as { definition: string };
    db.close();
    expect(stored.definition).not.toContain('s3cret');
    expect(JSON.parse(stored.definition).source).toMatch(/^enc:v1:/);

    const updated = await w.api('PUT', '/api/v1/connections/pg?version=1', { ...definition, mode: 'import' });
    expect(updated.status).toBe(200);
    expect(updated.body.connection).toMatchObject({ version: 2, mode: 'import' });
    const stale = await w.api('PUT', '/api/v1/connections/pg?version=1', { ...definition, mode: 'one-way' });
    expect(stale.status).toBe(409);
    const renamed = await w.api('PUT', '/api/v1/connections/pg', { ...definition, name: 'other' });
    expect(renamed.status).toBe(400);
    expect((await w.api('GET', '/api/v1/connections/pg')).body).toMatchObject({ version: 2, mode: 'import' });
  });
});
