/**
 * What differs between directory databases, kept behind one small interface so the
 * store's queries never branch on the database kind (SQLite now, PostgreSQL next).
 */
import type { Dialect } from 'kysely';

export interface DirectoryDialect {
  readonly name: 'sqlite' | 'postgres';
  /** Kysely's dialect: driver, adapter, compiler, introspector. */
  readonly kysely: Dialect;
  /** True when a driver error is a unique-constraint violation (a concurrent writer won a race). */
  isUniqueViolation(error: unknown): boolean;
}
