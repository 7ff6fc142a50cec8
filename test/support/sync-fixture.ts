/**
 * Real worlds for the sync runner's integration tests (test/sync): a fresh folder holding a
 * SQLite source made with plain better-sqlite3 and/or a CSV file, a config parsed from YAML
 * text, and the SQLite directory. `clubWorldOn` puts the club table in PostgreSQL or
 * MariaDB instead (see club-table.ts). Nothing is mocked; sources are edited as another
 * program would edit them, and read back the same way.
 */
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig, type ConnectionConfig, type LoadedConfig } from '../../src/config.js';
import type { LinkState } from '../../src/core/link.js';
import type { DirectoryUser } from '../../src/core/user.js';
import { openDirectory } from '../../src/directory/open.js';
import type { DirectoryStore, IssueRecord, IssueStatus, RunRecord } from '../../src/directory/store.js';
import { runConnectionSync, type SyncOptions, type SyncServices } from '../../src/sync/run-sync.js';
import { findConnection, syncConnections } from '../../src/sync/sync-all.js';
import type { SyncResult } from '../../src/sync/sync-result.js';
import {
  ClubServers,
  sqliteClubTable,
  type ClubSource,
  type ClubTable,
  type Member,
  type Row,
} from './club-table.js';
import { useTempDir } from './temp.js';

export type { ClubSource, ClubTable, Member, Row } from './club-table.js';

/** The club table: an awkward name, an awkward column, an integer key SQLite assigns. */
export const CLUB_SCHEMA = `create table "Club Members" (
  id integer primary key, email text, "Full-Name" text, plan text, company text,
  app_user_id text, signup_date text, status text)`;

/**
 * The usual connection on the club table: name and company owned by both sides,
 * createdAt and userId by the app, plan by the source.
 */
export function clubConnection(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'crm',
    source: 'sqlite:./crm.db',
    table: 'Club Members',
    fields: { email: 'email', name: 'Full-Name', createdAt: 'signup_date', userId: 'app_user_id' },
    custom: { plan: 'plan', company: { column: 'company', owner: 'both' } },
    ...extra,
  };
}

export interface WorldSetup {
  /** Connections of the config (turned into YAML text); or give `yaml` itself. */
  connections?: Record<string, unknown>[];
  yaml?: string;
  /** SQLite files to create: file name → schema SQL. */
  sqlite?: Record<string, string>;
  /** Other files to write byte for byte: file name → content. */
  files?: Record<string, string>;
  /** The directory URL (default: a SQLite file in the test's folder). */
  directory?: string;
  /** The club table the world's helpers edit (default: the one in crm.db); dropped with the world. */
  club?: ClubTable;
}

export function useSyncFixture() {
  const tempDir = useTempDir('usersync-sync-');
  const worlds: SyncWorld[] = [];
  const servers = new ClubServers();
  afterEach(async () => {
    for (const world of worlds.splice(0)) await world.close();
  });
  afterAll(() => servers.end());

  async function makeWorld(setup: WorldSetup): Promise<SyncWorld> {
    const dir = tempDir();
    const directory = setup.directory ?? 'sqlite:./dir.db';
    for (const [file, schema] of Object.entries(setup.sqlite ?? {})) {
      const db = new Database(join(dir, file));
      db.exec(schema);
      db.close();
    }
    for (const [file, content] of Object.entries(setup.files ?? {})) writeFileSync(join(dir, file), content);
    const yaml = setup.yaml ?? stringify({ directory, connections: setup.connections ?? [] });
    const file = join(dir, 'usersync.yaml');
    writeFileSync(file, yaml);
    const config = parseConfig(yaml, { file, env: {}, baseDir: dir });
    const store = await openDirectory(directory, { baseDir: dir });
    const world = new SyncWorld(dir, config, store, setup.club);
    worlds.push(world);
    return world;
  }

  /** The club table in crm.db, with the usual connection (plus `extra` settings). */
  function clubWorld(
    extra: Record<string, unknown> = {},
    schema = CLUB_SCHEMA,
    directory?: string,
  ): Promise<SyncWorld> {
    return makeWorld({ sqlite: { 'crm.db': schema }, connections: [clubConnection(extra)], directory });
  }

  /**
   * The club table with the usual connection, in SQLite (crm.db, as `clubWorld`), in a
   * fresh PostgreSQL schema or in a fresh MariaDB database; reach it through `world.club`.
   */
  async function clubWorldOn(
    source: ClubSource,
    extra: Record<string, unknown> = {},
    directory?: string,
  ): Promise<SyncWorld> {
    if (source === 'sqlite') return clubWorld(extra, CLUB_SCHEMA, directory);
    const club = await servers.create(source);
    try {
      const connection = clubConnection({ source: club.source, table: club.table, ...extra });
      return await makeWorld({ connections: [connection], directory, club });
    } catch (error) {
      await club.drop();
      throw error;
    }
  }

  return { tempDir, makeWorld, clubWorld, clubWorldOn };
}

/** One test's folder, config and directory, with helpers to sync and to look at both sides. */
export class SyncWorld {
  readonly services: SyncServices;
  /** The club table, async, wherever it lives (the sync helpers below work on crm.db only). */
  readonly club: ClubTable;
  private closed = false;

  constructor(
    readonly dir: string,
    readonly config: LoadedConfig,
    readonly store: DirectoryStore,
    club?: ClubTable,
  ) {
    this.services = { store, config };
    this.club = club ?? sqliteClubTable(dir);
  }

  /** Closes the directory and drops the club's schema or database (again is a no-op); done after each test. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.store.close();
    } finally {
      await this.club.drop();
    }
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  connection(name = 'crm'): ConnectionConfig {
    return findConnection(this.config.connections, name);
  }

  /** `usersync sync`: every connection, with the hub follow-ups. */
  sync(options: Partial<SyncOptions> = {}): Promise<SyncResult[]> {
    return syncConnections(this.services, undefined, { trigger: 'manual', ...options });
  }

  /** One run of one connection. */
  run(name = 'crm', options: Partial<SyncOptions> = {}): Promise<SyncResult> {
    return runConnectionSync(this.services, this.connection(name), { trigger: 'manual', ...options });
  }

  /** Runs SQL on a SQLite source as another program would. */
  sql<T = Row>(statement: string, ...params: unknown[]): T[] {
    return withSqlite(this.path('crm.db'), (db) => {
      const prepared = db.prepare(statement);
      return prepared.reader ? (prepared.all(...params) as T[]) : (prepared.run(...params), []);
    });
  }

  /** Adds a row to the club table; returns its key as the sync sees it. */
  addMember(member: Member): string {
    return withSqlite(this.path('crm.db'), (db) => {
      const result = db
        .prepare(
          `insert into "Club Members" (email, "Full-Name", plan, company, signup_date, status, app_user_id)
           values (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          member.email,
          member.name ?? null,
          member.plan ?? null,
          member.company ?? null,
          member.signup ?? null,
          member.status ?? null,
          member.userId ?? null,
        );
      return String(result.lastInsertRowid);
    });
  }

  members(): Row[] {
    return this.sql('select * from "Club Members" order by id');
  }

  member(key: string): Row | undefined {
    return this.sql('select * from "Club Members" where id = ?', Number(key))[0];
  }

  /** Sets one column of one club row. */
  setMember(key: string, column: string, value: unknown): void {
    this.sql(
      `update "Club Members" set "${column.replaceAll('"', '""')}" = ? where id = ?`,
      value,
      Number(key),
    );
  }

  deleteMember(key: string): void {
    this.sql('delete from "Club Members" where id = ?', Number(key));
  }

  /** Live users, by email. */
  async users(): Promise<DirectoryUser[]> {
    const users = await this.store.listUsers({ limit: 10_000 });
    return users.sort((a, b) => a.email.localeCompare(b.email));
  }

  async user(email: string): Promise<DirectoryUser> {
    const user = await this.store.findUserByEmail(email);
    expect(user, `a live user with email ${email}`).not.toBeNull();
    return user!;
  }

  async links(name = 'crm'): Promise<LinkState[]> {
    const links: LinkState[] = [];
    for await (const page of this.store.scanLinks(name, 1000)) links.push(...page);
    return links;
  }

  async linkOf(userId: string, name = 'crm'): Promise<LinkState | undefined> {
    return (await this.store.linksOfUser(name, userId))[0];
  }

  issues(status?: IssueStatus): Promise<IssueRecord[]> {
    return this.store.listIssues(status === undefined ? {} : { status });
  }

  async openIssues(kind?: IssueRecord['kind']): Promise<IssueRecord[]> {
    const open = await this.issues('open');
    return kind === undefined ? open : open.filter((issue) => issue.kind === kind);
  }

  runs(name?: string): Promise<RunRecord[]> {
    return this.store.listRuns(name === undefined ? {} : { connection: name });
  }
}

export function withSqlite<T>(path: string, work: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

/** Everything a run created, updated or deleted on either side. */
export function changesOf(result: SyncResult): number {
  const { app, source } = result.counts;
  return app.created + app.updated + app.deleted + source.created + source.updated + source.deleted;
}

/** Every run succeeded and changed nothing on either side. */
export function expectNoChanges(results: readonly SyncResult[]): void {
  for (const result of results) {
    expect(result.status, `${result.connection}: ${result.error ?? ''}`).toBe('succeeded');
    expect(result.counts.app, result.connection).toEqual({ created: 0, updated: 0, deleted: 0 });
    expect(result.counts.source, result.connection).toEqual({ created: 0, updated: 0, deleted: 0 });
  }
}

/** The single run of `results` for a connection (fails when there are several). */
export function runOf(results: readonly SyncResult[], name = 'crm'): SyncResult {
  const runs = results.filter((r) => r.connection === name);
  expect(runs, `runs of ${name}`).toHaveLength(1);
  return runs[0]!;
}
