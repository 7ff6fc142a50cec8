/**
 * The directory's tables as Kysely sees them. Columns hold only portable types so the
 * same migrations and queries run on SQLite and PostgreSQL: text for ids and ISO-8601
 * UTC dates (which sort as text), integer for numbers and flags, JSON as text.
 */
import type { IssueKind } from '../core/issue.js';
import type { UserStatus } from '../core/user.js';
import type { IssueStatus, RunStatus, Trigger } from './store.js';

export interface UsersTable {
  id: string;
  email: string;
  /** lower(trim(email)): the matching form (SPEC §1), unique among live users. */
  email_key: string;
  name: string | null;
  avatar: string | null;
  created_at: string;
  last_seen_at: string | null;
  magic_link: string | null;
  external_id: string | null;
  status: UserStatus;
  /** JSON object: key → string | number | boolean. */
  custom: string;
  /** Set when the user is deleted in the app; the row stays as a tombstone. */
  deleted_at: string | null;
  version: number;
  updated_at: string;
}

export interface LinksTable {
  connection: string;
  source_key: string;
  user_id: string;
  source_email: string;
  /** JSON object: field id → canonical value. */
  baseline: string;
  /** 0 or 1 (PostgreSQL and SQLite agree on integers, not on booleans). */
  suspended: number;
  updated_at: string;
  /** The source's fingerprint of the row when the pair last needed nothing; null once the link is written. */
  fingerprint: string | null;
  /** The user's version when the fingerprint was taken: the fingerprint is trusted while the user is at it. */
  fingerprint_version: number | null;
}

export interface RunsTable {
  id: string;
  connection: string;
  trigger: Trigger;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  /** JSON RunCounts. */
  counts: string;
  error: string | null;
  /** JSON SyncProgress of a running run, for live progress. */
  progress: string | null;
}

export interface IssuesTable {
  id: string;
  connection: string;
  kind: IssueKind;
  fingerprint: string;
  status: IssueStatus;
  message: string;
  fix: string;
  /** JSON array of source row keys. */
  rows: string;
  /** JSON array of user ids. */
  users: string;
  first_seen_at: string;
  last_seen_at: string;
  resolved_at: string | null;
  run_id: string | null;
}

export interface RunLocksTable {
  connection: string;
  owner_id: string;
  pid: number;
  host: string;
  acquired_at: string;
  heartbeat_at: string;
}

export interface ConnectionStateTable {
  connection: string;
  two_way_enabled_at: string | null;
  cursor: string | null;
  last_full_sync_at: string | null;
  fingerprint_tag: string | null;
  fingerprints_checked_at: string | null;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  /** The key's first characters, to tell keys apart in lists. */
  prefix: string;
  /** sha256 of the whole key, hex. */
  hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface StoredConnectionsTable {
  name: string;
  definition: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface Database {
  users: UsersTable;
  links: LinksTable;
  runs: RunsTable;
  issues: IssuesTable;
  run_locks: RunLocksTable;
  connection_state: ConnectionStateTable;
  api_keys: ApiKeysTable;
  stored_connections: StoredConnectionsTable;
}
