/**
 * A world for the server tests: a temp folder with a config, the club table as the source
 * (SQLite in the folder, or a fresh PostgreSQL schema), an API key made with the CLI, and a
 * real `usersync serve` process. Both sides are read with plain drivers or over HTTP.
 */
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { stringify } from 'yaml';
import type { CliEnv } from './cli.js';
import { ClubServers, sqliteClubTable, type ClubSource, type ClubTable } from './club-table.js';
import { createApiKey, startServer, type ApiResponse, type ServerProcess } from './server.js';
import { CLUB_SCHEMA, clubConnection } from './sync-fixture.js';
import { useTempDir } from './temp.js';

export interface ServerWorld {
  readonly dir: string;
  readonly club: ClubTable;
  readonly server: ServerProcess;
  readonly key: string;
  /** A request with the world's API key. */
  api(method: string, path: string, body?: unknown): Promise<ApiResponse>;
}

export interface ServerWorldSetup {
  readonly source?: ClubSource;
  /** Settings added to the club connection (or replacing it: `connections`). */
  readonly connection?: Record<string, unknown>;
  readonly connections?: (club: ClubTable) => Record<string, unknown>[];
  readonly env?: CliEnv;
  /** Rows in the source before the server starts. */
  readonly seed?: (club: ClubTable) => Promise<void>;
}

export function useServerWorld(): (setup?: ServerWorldSetup) => Promise<ServerWorld> {
  const tempDir = useTempDir('usersync-server-');
  const servers = new ClubServers();
  const clubs: ClubTable[] = [];
  afterEach(async () => {
    for (const club of clubs.splice(0)) await club.drop();
  });
  afterAll(() => servers.end());

  return async (setup = {}) => {
    const dir = tempDir();
    let club: ClubTable;
    if ((setup.source ?? 'sqlite') === 'sqlite') {
      const db = new Database(join(dir, 'crm.db'));
      db.exec(CLUB_SCHEMA);
      db.close();
      club = sqliteClubTable(dir);
    } else {
      club = await servers.create(setup.source as 'postgres' | 'mysql');
      clubs.push(club);
    }
    await setup.seed?.(club);
    const connections = setup.connections?.(club) ?? [
      clubConnection({ source: club.source, table: club.table, ...setup.connection }),
    ];
    writeFileSync(join(dir, 'usersync.yaml'), stringify({ directory: 'sqlite:./dir.db', connections }));
    const env = { USERSYNC_LOG_LEVEL: 'info', ...setup.env };
    const key = await createApiKey(dir, 'test', env);
    const server = await startServer(dir, [], env);
    return {
      dir,
      club,
      server,
      key,
      api: (method, path, body) =>
        server.request(method, path, { key, ...(body === undefined ? {} : { body }) }),
    };
  };
}
