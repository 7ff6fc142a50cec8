/**
 * Every trigger of SPEC §5 (and ensure-user, §6) through a real `usersync serve`, with its
 * effect on a real source: SQLite, and PostgreSQL (the club table in a fresh schema).
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { postgresReachable } from '../support/postgres-directory.js';
import { eventually } from '../support/server.js';
import { useServerWorld, type ServerWorld } from '../support/server-world.js';

const world = useServerWorld();
const sources = (await postgresReachable()) ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const);

type Run = {
  id: string;
  trigger: string;
  status: string;
  counts: { source: Record<string, number>; app: Record<string, number> };
};

async function runsOf(w: ServerWorld, trigger: string): Promise<Run[]> {
  const { runs } = (await w.api('GET', '/api/v1/runs?connection=crm&limit=200')).body as { runs: Run[] };
  return runs.filter((r) => r.trigger === trigger);
}

function finished(w: ServerWorld, trigger: string): Promise<Run> {
  return eventually(
    async () => (await runsOf(w, trigger)).find((r) => r.status !== 'running'),
    `a finished ${trigger} run`,
  );
}

const byEmail = (rows: Record<string, unknown>[], email: string) => rows.find((r) => r.email === email);

describe.each(sources)('triggers with a %s source', (source) => {
  it('login: sets lastSeenAt and syncs that user to the source at once', async () => {
    const w = await world({
      source,
      connection: {
        fields: { email: 'email', name: 'Full-Name', userId: 'app_user_id', lastSeenAt: 'signup_date' },
      },
    });
    await w.club.add({ email: 'ada@example.com', name: 'Ada' });
    await w.api('POST', '/api/v1/runs', { connection: 'crm' });
    await finished(w, 'manual');
    const login = await w.api('POST', '/api/v1/login', { email: ' ADA@example.com' });
    expect(login.status).toBe(200);
    expect(login.body.pushed).toEqual([expect.objectContaining({ connection: 'crm', status: 'succeeded' })]);
    const seen = login.body.user.lastSeenAt as string;
    expect(Date.now() - Date.parse(seen)).toBeLessThan(60_000);
    const row = byEmail(await w.club.rows(), 'ada@example.com')!;
    expect(new Date(String(row.signup_date)).toISOString()).toBe(seen);
    expect((await runsOf(w, 'login'))[0]).toMatchObject({ status: 'succeeded' });

    expect((await w.api('POST', '/api/v1/login', { email: 'nobody@example.com' })).status).toBe(404);
    await w.api('PATCH', `/api/v1/users/${login.body.user.id}`, { status: 'suspended' });
    const refused = await w.api('POST', '/api/v1/login', { userId: login.body.user.id });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('user.suspended');
  });

  it('app_change: users created, updated and deleted through the API reach the source at once', async () => {
    const w = await world({ source });
    const created = await w.api('POST', '/api/v1/users', {
      email: 'grace@example.com',
      name: 'Grace',
      custom: { company: 'Navy' },
    });
    expect(created.status).toBe(201);
    expect(created.body.pushed[0]).toMatchObject({ connection: 'crm', status: 'succeeded' });
    const id = created.body.user.id as string;
    expect(byEmail(await w.club.rows(), 'grace@example.com')).toMatchObject({
      'Full-Name': 'Grace',
      company: 'Navy',
      app_user_id: id,
    });

    await w.api('PATCH', `/api/v1/users/${id}`, { name: 'Grace Hopper' });
    expect(byEmail(await w.club.rows(), 'grace@example.com')).toMatchObject({ 'Full-Name': 'Grace Hopper' });

    const deleted = await w.api('DELETE', `/api/v1/users/${id}`);
    expect(deleted.status).toBe(200);
    expect(byEmail(await w.club.rows(), 'grace@example.com')).toBeUndefined();
    expect((await runsOf(w, 'app_change')).length).toBeGreaterThanOrEqual(3);
  });

  it('ensure-user: creates once, stores the external id, links an existing user by email', async () => {
    const w = await world({ source });
    const body = { externalId: 'ext-1', email: 'linus@example.com', name: 'Linus' };
    const first = await w.api('POST', '/api/v1/ensure-user', body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      created: true,
      user: { externalId: 'ext-1', email: 'linus@example.com' },
    });
    const again = await w.api('POST', '/api/v1/ensure-user', body);
    expect(again.status).toBe(200);
    expect(again.body.user.id).toBe(first.body.user.id);
    expect((await w.club.rows()).filter((r) => r.email === 'linus@example.com')).toHaveLength(1);

    const existing = (await w.api('POST', '/api/v1/users', { email: 'ken@example.com' })).body.user;
    const linked = await w.api('POST', '/api/v1/identity-events', {
      type: 'user.logged_in',
      user: { externalId: 'ext-2', email: 'KEN@example.com' },
    });
    expect(linked.status).toBe(200);
    expect(linked.body.user).toMatchObject({ id: existing.id, externalId: 'ext-2' });
    expect(linked.body.user.lastSeenAt).not.toBeNull();

    const conflict = await w.api('POST', '/api/v1/ensure-user', {
      externalId: 'ext-3',
      email: 'ken@example.com',
    });
    expect(conflict.status).toBe(409);
    expect((await w.api('GET', '/api/v1/users')).body.users).toHaveLength(2);
  });

  it('publish: a connection made through the API is synced in full at once', async () => {
    const w = await world({ source });
    await w.club.add({ email: 'alan@example.com', name: 'Alan', plan: 'pro' });
    const billing = {
      name: 'billing',
      source: w.club.source,
      table: w.club.table,
      mode: 'import',
      fields: { email: 'email' },
    };
    const made = await w.api('POST', '/api/v1/connections', { ...billing, custom: { tier: 'plan' } });
    expect(made.status).toBe(201);
    expect(made.body.connection).toMatchObject({
      name: 'billing',
      origin: 'api',
      version: 1,
      mode: 'import',
    });
    const run = await eventually(async () => {
      const { runs } = (await w.api('GET', '/api/v1/connections/billing/runs')).body as { runs: Run[] };
      return runs.find((r) => r.trigger === 'publish' && r.status !== 'running');
    }, 'the publish run');
    expect(run.status).toBe('succeeded');
    const users = (await w.api('GET', '/api/v1/users?search=alan')).body.users;
    expect(users[0].custom.tier).toBe('pro');
    const columns = await w.api('GET', '/api/v1/connections/billing/columns');
    expect(columns.body.columns.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining(['email', 'Full-Name', 'plan']),
    );
    expect((await w.api('DELETE', '/api/v1/connections/billing')).status).toBe(204);
    expect((await w.api('GET', '/api/v1/connections/billing')).status).toBe(404);
    // The users stay; a connection made again with that name starts from scratch (no old links).
    expect((await w.api('GET', '/api/v1/users?search=alan')).body.users).toHaveLength(1);
    const again = await w.api('POST', '/api/v1/connections', billing);
    expect(again.body.connection.version).toBe(1);
    expect((await w.api('DELETE', '/api/v1/connections/crm')).status).toBe(400); // declared in the file
  });

  it('source_webhook: a signed call runs an incremental sync; an unsigned one is refused', async () => {
    const secret = 'a-webhook-secret-of-some-length';
    const w = await world({ source, connection: { webhookSecret: secret } });
    await w.club.add({ email: 'barbara@example.com', name: 'Barbara' });
    const body = JSON.stringify({ table: 'Club Members', op: 'insert' });
    const refused = await w.server.request('POST', '/api/v1/hooks/crm', {
      key: null,
      body,
      headers: {
        'webhook-id': 'm1',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,AAAA',
      },
    });
    expect(refused.status).toBe(401);
    const unknown = await w.server.request('POST', '/api/v1/hooks/nope', {
      key: null,
      body,
      headers: { 'x-usersync-webhook-secret': secret },
    });
    expect(unknown.status).toBe(401);
    const wrong = await w.server.request('POST', '/api/v1/hooks/crm', {
      key: null,
      body,
      headers: { 'x-usersync-webhook-secret': `${secret}!` },
    });
    expect(wrong.status).toBe(401);
    expect(await runsOf(w, 'source_webhook')).toEqual([]);

    const id = 'msg_1';
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', Buffer.from(secret))
      .update(`${id}.${timestamp}.${body}`)
      .digest('base64');
    const signed = await w.server.request('POST', '/api/v1/hooks/crm', {
      key: null,
      body,
      headers: { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` },
    });
    expect(signed.status).toBe(202);
    const run = await finished(w, 'source_webhook');
    expect(run).toMatchObject({ status: 'succeeded', counts: { app: { created: 1 } } });

    const plain = await w.server.request('POST', '/api/v1/hooks/crm', {
      key: null,
      body: '',
      headers: { 'x-usersync-webhook-secret': secret },
    });
    expect(plain.status).toBe(202);
  });
});

describe('triggers that need no particular source', () => {
  it('schedule: a connection with a cron runs on its own', async () => {
    const w = await world({ connection: { schedule: '*/1 * * * * *' } });
    await w.club.add({ email: 'edsger@example.com' });
    const run = await finished(w, 'schedule');
    expect(run.status).toBe('succeeded');
    const { connections } = (await w.api('GET', '/api/v1/connections')).body;
    expect(connections[0].nextScheduledRun).not.toBeNull();
  });

  it('users_tab: listing users syncs a connection whose last run is too old, without waiting for it', async () => {
    const w = await world({ env: { USERSYNC_USERS_TAB_MAX_AGE_MS: '0' } });
    await w.club.add({ email: 'john@example.com' });
    const listed = await w.api('GET', '/api/v1/users');
    expect(listed.body.users).toEqual([]); // answered before the sync
    const run = await finished(w, 'users_tab');
    expect(run.counts.app.created).toBe(1);
  });
});

describe('a source that is down', () => {
  it('never blocks a login: it succeeds from the directory, and the push is retried later', async () => {
    const w = await world({
      connections: (club) => [
        {
          name: 'crm',
          source: club.source,
          table: club.table,
          fields: { email: 'email', name: 'Full-Name' },
        },
        {
          name: 'down',
          source: 'postgres://postgres@127.0.0.1:9/test',
          table: 'members',
          fields: { email: 'email' },
        },
      ],
    });
    const user = (await w.api('POST', '/api/v1/users', { email: 'alan@example.com' })).body.user;
    const login = await w.api('POST', '/api/v1/login', { userId: user.id });
    expect(login.status).toBe(200);
    expect(login.body.user.lastSeenAt).not.toBeNull();
    const byConnection = Object.fromEntries(
      login.body.pushed.map((p: { connection: string }) => [p.connection, p]),
    );
    expect(byConnection.crm.status).toBe('succeeded');
    expect(byConnection.down.status).toBe('failed');
    expect(byConnection.down.error).toContain('127.0.0.1:9');
    // The pusher tries that connection again on its own.
    await eventually(async () => {
      const { runs } = (await w.api('GET', '/api/v1/connections/down/runs')).body as { runs: Run[] };
      const logins = runs.filter((r) => r.trigger === 'login');
      return logins.length >= 2 ? logins : undefined;
    }, 'a retried push to the connection that is down');
  });
});
