/**
 * What differs between directory databases, kept behind one small interface so the
 * store's queries never branch on the database kind. Each database is one folder
 * (`sqlite/`, `postgres/`) that builds one of these.
 */
import type { Dialect, Kysely, RawBuilder } from 'kysely';

export interface DirectoryDialect {
  readonly name: 'sqlite' | 'postgres';
  /** Kysely's dialect: driver (with its transaction start), adapter, compiler, introspector. */
  readonly kysely: Dialect;
  /**
   * The schema that holds the migration bookkeeping tables; undefined: the connection's
   * default. PostgreSQL names it, because Kysely's Migrator otherwise looks for its tables
   * in every schema of the database and would take another directory's for ours.
   */
  readonly migrationSchema?: string;
  /**
   * Runs once before the migrations: the first contact with the database, so it also
   * turns "cannot reach / log in / find it" into an actionable error, and creates what the
   * migrations need (PostgreSQL: the schema).
   */
  prepare?(db: Kysely<unknown>): Promise<void>;
  /** Runs after the migrations: what only this database has (SQLite: the users' search index). */
  afterMigrate?(db: Kysely<unknown>): Promise<void>;
  /**
   * The users-list search for `term` (trimmed, not empty). `like` is the portable
   * predicate (a LIKE over email and name); a dialect with an index narrows with it first.
   */
  userSearch?(term: string, like: RawBuilder<boolean>): RawBuilder<boolean>;
  /**
   * True when a driver error is a unique-constraint violation (a concurrent writer won a
   * race). Never for a primary key: a reused id is a bug to surface, not a lost race.
   */
  isUniqueViolation(error: unknown): boolean;
  /**
   * Runs a long read that a sync waits for beside the source's own (the digests of every
   * link's fingerprint). PostgreSQL runs it without parallel workers: the sync waits for
   * the source anyway, and the workers would take the cores the source needs when both
   * share a machine (1M links: 2.1–2.2 s for the no-op, 1.7 s without them).
   */
  besideSource?<D, T>(db: Kysely<D>, read: (db: Kysely<D>) => Promise<T>): Promise<T>;
  /**
   * Runs `work`, an import that at least doubles the users, with the upkeep this database
   * does row by row put off to one pass at the end, where that is cheaper (the users'
   * search index, and on PostgreSQL the links' key to users: see sqlite/user-search.ts
   * and postgres/in-bulk.ts).
   */
  inBulk?<T>(db: Kysely<unknown>, work: () => Promise<T>): Promise<T>;
  /** `value` is one of these buckets (core/fingerprint-buckets.ts), however many. */
  oneOf(value: RawBuilder<unknown>, buckets: readonly number[]): RawBuilder<boolean>;
}
