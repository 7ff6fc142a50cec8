/** Per-connection facts the sync keeps between runs: two-way enablement, the incremental cursor. */
import type { Kysely } from 'kysely';
import type { ConnectionStateTable, Database } from './schema.js';
import type { ConnectionState } from './store.js';

type StateColumns = Omit<ConnectionStateTable, 'connection'>;

const COLUMNS: { readonly [K in keyof ConnectionState]: keyof StateColumns } = {
  twoWayEnabledAt: 'two_way_enabled_at',
  cursor: 'cursor',
  lastFullSyncAt: 'last_full_sync_at',
  fingerprintTag: 'fingerprint_tag',
  fingerprintsCheckedAt: 'fingerprints_checked_at',
};

export async function getConnectionState(db: Kysely<Database>, connection: string): Promise<ConnectionState> {
  const row = await db
    .selectFrom('connection_state')
    .selectAll()
    .where('connection', '=', connection)
    .executeTakeFirst();
  return {
    twoWayEnabledAt: row?.two_way_enabled_at ?? null,
    cursor: row?.cursor ?? null,
    lastFullSyncAt: row?.last_full_sync_at ?? null,
    fingerprintTag: row?.fingerprint_tag ?? null,
    fingerprintsCheckedAt: row?.fingerprints_checked_at ?? null,
  };
}

/** Sets the given keys (an undefined value leaves that key as it is). */
export async function setConnectionState(
  db: Kysely<Database>,
  connection: string,
  patch: Partial<ConnectionState>,
): Promise<void> {
  const changes: Partial<StateColumns> = {};
  for (const key of Object.keys(COLUMNS) as (keyof ConnectionState)[]) {
    const value = patch[key];
    if (value !== undefined) changes[COLUMNS[key]] = value;
  }
  if (Object.keys(changes).length === 0) return;
  await db
    .insertInto('connection_state')
    .values({ connection, ...changes })
    .onConflict((conflict) => conflict.column('connection').doUpdateSet(changes))
    .execute();
}
