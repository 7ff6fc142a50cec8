import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { ConnectorSettings, SourceConnector } from '../../src/connectors/connector.js';
import { useTempDir } from '../support/temp.js';
import { createSqliteConnector } from '../../src/connectors/sqlite/sqlite-connector.js';

/** Databases for the SQLite connector tests, built with plain better-sqlite3 (not the code under test). */
export function useSqliteFixture() {
  const tempDir = useTempDir('usersync-sqlite-');
  const opened: SourceConnector[] = [];

  afterEach(async () => {
    for (const connector of opened.splice(0)) await connector.close();
  });

  /** A `crm.db` in a fresh folder. */
  function makeDatabase(
    schemaSql: string,
    fill?: (db: Database.Database) => void,
  ): { dir: string; path: string } {
    const dir = tempDir();
    const path = join(dir, 'crm.db');
    const db = new Database(path);
    try {
      db.exec(schemaSql);
      if (fill) db.transaction(fill)(db);
    } finally {
      db.close();
    }
    return { dir, path };
  }

  /** A connector on `dir/crm.db`, closed after the test. */
  function open(dir: string, settings: Partial<ConnectorSettings> = {}): SourceConnector {
    const connector = createSqliteConnector({
      source: 'sqlite:crm.db',
      emailColumn: 'email',
      baseDir: dir,
      readOnly: false,
      ...settings,
    });
    opened.push(connector);
    return connector;
  }

  return { tempDir, makeDatabase, open };
}

/** Another program's connection to the file. */
export function withDatabase<T>(path: string, work: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

export { errorOf } from '../support/error-of.js';
