/**
 * The directory: users (SPEC §1), links with baselines, sync runs, sync issues, run locks
 * and per-connection state. One implementation over Kysely serves SQLite and PostgreSQL.
 */
import type { BucketDigest } from '../core/fingerprint-buckets.js';
import type { IssueKind, IssueReport } from '../core/issue.js';
import type { LinkState } from '../core/link.js';
import type { CustomValue, DirectoryUser, NewUser, UserPatch, UserStatus } from '../core/user.js';

export type Trigger =
  | 'manual'
  | 'login'
  | 'publish'
  | 'users_tab'
  | 'app_change'
  | 'schedule'
  | 'source_webhook'
  | 'validate_fix';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'blocked';

export interface SideCounts {
  created: number;
  updated: number;
  deleted: number;
}

export interface RunCounts {
  app: SideCounts;
  source: SideCounts;
  /** Pairs that needed nothing. */
  unchanged: number;
  /** Rows left alone because of an issue. */
  skipped: number;
  /** Writes not made because the row or user changed after the sync read it. */
  stale: number;
  conflicts: number;
}

export interface RunRecord {
  readonly id: string;
  readonly connection: string;
  readonly trigger: Trigger;
  readonly status: RunStatus;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly counts: RunCounts;
  readonly error: string | null;
  /** The last progress a running run reported. */
  readonly progress: RunProgress | null;
}

/** How far a run has got: reading rows, planning, or applying `done` of `total` actions. */
export interface RunProgress {
  readonly phase: 'read' | 'plan' | 'apply';
  readonly rows?: number;
  readonly actions?: number;
  readonly done?: number;
  readonly total?: number;
}

export interface RunListOptions {
  connection?: string;
  limit?: number;
  /** Leave these out (the users tab asks for the last run that read the whole source). */
  excludeTriggers?: readonly Trigger[];
}

export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/** A connection made through the API: its definition as the config file would declare it. */
export interface StoredConnection {
  readonly name: string;
  /** JSON of the config-file form, with `source` encrypted (see services/secrets). */
  readonly definition: string;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type IssueStatus = 'open' | 'resolved';

export interface IssueRecord extends IssueReport {
  readonly id: string;
  readonly connection: string;
  readonly status: IssueStatus;
  readonly firstSeenAt: string;
  readonly lastSeenAt: string;
  readonly resolvedAt: string | null;
  /** The last run that saw it. */
  readonly runId: string | null;
}

/** App-side facts an app change may set besides the synced fields. */
export interface AppUserPatch extends UserPatch {
  lastSeenAt?: string | null;
  magicLink?: string | null;
  externalId?: string | null;
}

export interface NewAppUser {
  email: string;
  name?: string | null;
  avatar?: string | null;
  externalId?: string | null;
  status?: UserStatus;
  custom?: Record<string, CustomValue>;
}

/** One step of applying a sync plan to the directory; a batch of them is one transaction. */
export type DirectoryOp =
  /**
   * Create a user imported from a row, and its link; null: the link comes later, with
   * its row's fingerprint (`linkImported`), once the user's id is written back.
   */
  | { readonly type: 'createUser'; readonly user: NewUser; readonly link: LinkState | null }
  /** Patch a user (only if still at `expectedVersion`) and write its link (replacing the user's previous one). */
  | {
      readonly type: 'updateUser';
      readonly userId: string;
      readonly expectedVersion: number;
      readonly patch: UserPatch | null;
      readonly link: LinkState;
    }
  /** Write a link only (new, replacing the user's previous one, or a fresh baseline). */
  | { readonly type: 'putLink'; readonly link: LinkState }
  | { readonly type: 'deleteLink'; readonly key: string };

/** ok; stale: the user changed since it was read; conflict: the email is taken. */
export type DirectoryOpResult = 'ok' | 'stale' | 'conflict';

export interface ConnectionState {
  /** Set by `connections enable-two-way` on a one-way connection. */
  readonly twoWayEnabledAt: string | null;
  readonly cursor: string | null;
  readonly lastFullSyncAt: string | null;
  /** What the links' fingerprints were taken under (columns, mapping, filter); see sync/fingerprints.ts. */
  readonly fingerprintTag: string | null;
  /** Start of the last full run that checked every fingerprint under `fingerprintTag`. */
  readonly fingerprintsCheckedAt: string | null;
}

/** A link as a full sync's fingerprint check reads it: its row's key and fingerprint. */
export interface LinkFingerprint {
  readonly key: string;
  /**
   * The row's fingerprint when the pair last needed nothing, if the link's user is still
   * at the version it was then; null: read the row in full.
   */
  readonly fingerprint: string | null;
}

/** A link with its user and its row's fingerprint (null unless trusted, as in LinkFingerprint). */
export interface LinkWithUser {
  readonly link: LinkState;
  readonly user: DirectoryUser;
  readonly fingerprint: string | null;
}

/** The version every user is created at; each write of it adds one. */
export const NEW_USER_VERSION = 1;

/** A fingerprint to keep for a link: its row's, taken when its user was at `userVersion`. */
export interface FingerprintAt {
  readonly fingerprint: string;
  readonly userVersion: number;
}

/** A link of a user an import created, and its row's fingerprint if one is to be kept. */
export interface ImportedLink {
  readonly link: LinkState;
  readonly fingerprint: FingerprintAt | null;
}

export interface LockOwner {
  readonly id: string;
  readonly pid: number;
  readonly host: string;
}

export interface UserListOptions {
  /** Matches email or name, case-insensitively. */
  search?: string;
  limit?: number;
  /** Return users whose id sorts after this (cursor pagination). */
  after?: string;
  includeDeleted?: boolean;
  status?: UserStatus;
  externalId?: string;
}

export interface DirectoryStore {
  readonly dialect: 'sqlite' | 'postgres';
  close(): Promise<void>;

  scanUsers(pageSize: number, options?: { includeDeleted?: boolean }): AsyncIterable<DirectoryUser[]>;
  listUsers(options?: UserListOptions): Promise<DirectoryUser[]>;
  getUser(id: string): Promise<DirectoryUser | null>;
  /** Users by id, tombstones included; ids not found are left out. */
  getUsers(ids: readonly string[]): Promise<DirectoryUser[]>;
  /** Live users with these emails (matching form: trimmed, lower-cased). */
  findUsersByEmailKeys(keys: readonly string[]): Promise<DirectoryUser[]>;
  /**
   * Users written at or after `since` (ISO-8601), tombstones included, but those whose
   * last write was `connection`'s sync: its link's fingerprint was kept at the user's
   * version, the pair then needing nothing (a first sync's imports, for one).
   */
  usersChangedSince(since: string, connection: string): Promise<DirectoryUser[]>;
  /** The live (not deleted) user with this email, matched case-insensitively after trimming. */
  findUserByEmail(email: string): Promise<DirectoryUser | null>;
  countUsers(): Promise<number>;
  /** Throws UsersyncError('directory.conflict') when the email is taken. */
  createUser(user: NewAppUser): Promise<DirectoryUser>;
  /** Returns null when `expectedVersion` is given and the user has moved on. */
  updateUser(id: string, patch: AppUserPatch, expectedVersion?: number): Promise<DirectoryUser | null>;
  /** Tombstones the user; links stay until the sync removes the source rows (SPEC §3). */
  deleteUser(id: string): Promise<DirectoryUser | null>;

  scanLinks(connection: string, pageSize: number): AsyncIterable<LinkState[]>;
  /** A connection's links by row key, each with its user (tombstones included). */
  scanLinksWithUsers(connection: string, pageSize: number): AsyncIterable<LinkWithUser[]>;
  /** The links of these row keys, each with its user. */
  findLinksWithUsers(connection: string, keys: readonly string[]): Promise<LinkWithUser[]>;
  /** The keys and fingerprints of the links of these row keys. */
  findLinkFingerprints(connection: string, keys: readonly string[]): Promise<LinkFingerprint[]>;
  /**
   * A connection's links by row key, with their fingerprints; with `buckets`, only the links
   * whose trusted fingerprint falls in one of them (core/fingerprint-buckets.ts) and those
   * with none trusted.
   */
  scanLinkFingerprints(
    connection: string,
    pageSize: number,
    buckets?: readonly number[],
  ): AsyncIterable<LinkFingerprint[]>;
  /**
   * The digests, by bucket, of the fingerprints of a connection's links that their users'
   * versions vouch for, and how many links have none. Only for a source whose fingerprints
   * are digested by bucket.
   */
  digestLinkFingerprints(connection: string): Promise<{ buckets: BucketDigest[]; untrusted: number }>;
  /**
   * Writes the links of users an import created without them (`createUser` with no link),
   * each with its row's fingerprint, or none.
   */
  linkImported(connection: string, links: readonly ImportedLink[]): Promise<void>;
  /** Sets the fingerprints of these links' rows, by row key (null clears one). */
  setFingerprints(connection: string, fingerprints: ReadonlyMap<string, FingerprintAt | null>): Promise<void>;
  /** Live users with no link in this connection. */
  liveUsersWithoutLink(connection: string): Promise<DirectoryUser[]>;
  linksOfUser(connection: string, userId: string): Promise<LinkState[]>;
  /** The links of these row keys (for the single-user path). */
  findLinks(connection: string, keys: readonly string[]): Promise<LinkState[]>;
  /** The links of these users in a connection. */
  linksOfUsers(connection: string, userIds: readonly string[]): Promise<LinkState[]>;
  /** Users whose link in another connection is suspended by that connection's filter. */
  suspendedElsewhere(connection: string, userIds?: readonly string[]): Promise<Set<string>>;
  applyBatch(connection: string, ops: readonly DirectoryOp[]): Promise<DirectoryOpResult[]>;
  /**
   * Runs `work`, an import of about `newUsers` users. When that is many, and at least as
   * many as there are, the store may put off what it keeps up row by row until `work` ends
   * (SQLite: the search index, which finds meanwhile only the users it had).
   */
  importInBulk<T>(newUsers: number, work: () => Promise<T>): Promise<T>;

  startRun(connection: string, trigger: Trigger): Promise<RunRecord>;
  finishRun(
    id: string,
    status: Exclude<RunStatus, 'running'>,
    counts: RunCounts,
    error?: string | null,
  ): Promise<RunRecord>;
  listRuns(options?: RunListOptions): Promise<RunRecord[]>;
  getRun(id: string): Promise<RunRecord | null>;
  setRunProgress(id: string, progress: RunProgress): Promise<void>;
  /** Marks runs left `running` by a dead process as failed. */
  failInterruptedRuns(connection: string, reason: string): Promise<number>;

  /**
   * Records what a run saw: opens new issues, updates open ones with the same fingerprint,
   * and (when `resolveUnseen`) resolves this connection's open issues not seen, except kinds in `keep`.
   */
  recordIssues(
    connection: string,
    runId: string | null,
    seen: readonly IssueReport[],
    options: { resolveUnseen: boolean; keep?: readonly IssueKind[] },
  ): Promise<{ opened: IssueRecord[]; resolved: IssueRecord[] }>;
  listIssues(options?: { connection?: string; status?: IssueStatus }): Promise<IssueRecord[]>;
  getIssue(id: string): Promise<IssueRecord | null>;

  /**
   * True when this owner now holds the connection's run lock. A holder whose process is gone
   * (same host) or whose heartbeat is over 10 minutes old is taken over. The holder calling
   * it again refreshes its heartbeat: a run that may last longer should do so every few minutes.
   */
  acquireRunLock(connection: string, owner: LockOwner): Promise<boolean>;
  releaseRunLock(connection: string, owner: LockOwner): Promise<void>;

  /** `hash`: sha256 hex of the whole key; the key itself is never stored. */
  createApiKey(key: { id: string; name: string; prefix: string; hash: string }): Promise<ApiKeyRecord>;
  /** The live (not revoked) key with this hash. */
  findApiKey(hash: string): Promise<ApiKeyRecord | null>;
  touchApiKey(id: string, at: string): Promise<void>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Revokes the live key with this name or id; null when there is none. */
  revokeApiKey(nameOrId: string): Promise<ApiKeyRecord | null>;

  listStoredConnections(): Promise<StoredConnection[]>;
  getStoredConnection(name: string): Promise<StoredConnection | null>;
  /**
   * Creates (expectedVersion 0) or replaces (expectedVersion = the stored one) a connection;
   * null when the version does not match (someone else changed or created it).
   */
  saveStoredConnection(
    name: string,
    definition: string,
    expectedVersion: number,
  ): Promise<StoredConnection | null>;
  /** Also forgets its links and state and resolves its open issues; users and runs stay. */
  deleteStoredConnection(name: string): Promise<boolean>;

  getConnectionState(connection: string): Promise<ConnectionState>;
  setConnectionState(connection: string, patch: Partial<ConnectionState>): Promise<void>;
}
