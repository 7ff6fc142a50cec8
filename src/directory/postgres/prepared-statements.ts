/**
 * Statements the directory runs again and again, prepared once per connection. Kysely
 * sends every query unnamed, so the server parses and plans it each time: for an import's
 * multi-row INSERTs (the same text, 200 rows of values) that was 3.1 s of the server's
 * 22 s at 300k users, where it executed them in 11.2 s. Here a text with parameters that
 * this process has sent a few times gets a name, and pg then parses it once per
 * connection (it remembers which names each connection has) and only binds it after.
 */
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';

/** Sends of a text before it is named: a text run once or twice is not worth the server's memory. */
const NAME_AFTER = 3;
/** Texts named per pool; past it, others stay unnamed. A directory has a few dozen shapes. */
const MAX_NAMED = 200;
/** Texts counted before the count starts again (texts that vary, such as long IN lists). */
const MAX_COUNTED = 1000;

/** A pool for Kysely's PostgresDialect that names the texts it sends often (see above). */
export function preparingPool(pool: pg.Pool): PostgresPool {
  const names = new StatementNames();
  // One wrapper per pooled connection: Kysely knows a connection by its client object.
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      let wrapped = clients.get(client);
      if (wrapped === undefined) {
        wrapped = preparingClient(client, names);
        clients.set(client, wrapped);
      }
      return wrapped;
    },
    end: () => pool.end(),
  };
}

function preparingClient(client: pg.PoolClient, names: StatementNames): PostgresPoolClient {
  const query = (text: unknown, values?: readonly unknown[]) => {
    if (typeof text !== 'string') return client.query(text as pg.Submittable);
    const name = values !== undefined && values.length > 0 ? names.nameOf(text) : null;
    return name === null
      ? client.query(text, values as unknown[])
      : client.query({ name, text, values: values as unknown[] });
  };
  return { query: query as unknown as PostgresPoolClient['query'], release: () => client.release() };
}

/** The name of each text sent often enough, the same on every connection of the pool. */
export class StatementNames {
  private readonly named = new Map<string, string>();
  private readonly counted = new Map<string, number>();

  nameOf(text: string): string | null {
    const name = this.named.get(text);
    if (name !== undefined) return name;
    const sent = (this.counted.get(text) ?? 0) + 1;
    if (sent < NAME_AFTER || this.named.size >= MAX_NAMED) {
      if (this.counted.size >= MAX_COUNTED) this.counted.clear();
      this.counted.set(text, sent);
      return null;
    }
    this.counted.delete(text);
    const fresh = `usersync_${this.named.size + 1}`;
    this.named.set(text, fresh);
    return fresh;
  }
}
