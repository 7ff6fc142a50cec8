/**
 * The directory store over Kysely: each method delegates to the query functions of one
 * table family. Only the dialect (handed in by `openDirectory`) differs between SQLite
 * and PostgreSQL.
 */
import type { Kysely } from 'kysely';
import { UsersyncError } from '../core/errors.js';
import type { BucketDigest } from '../core/fingerprint-buckets.js';
import type { IssueKind, IssueReport } from '../core/issue.js';
import type { LinkState } from '../core/link.js';
import type { DirectoryUser } from '../core/user.js';
import { createApiKey, findApiKey, listApiKeys, revokeApiKey, touchApiKey } from './api-keys.js';
import { applyBatch } from './batch.js';
import { getConnectionState, setConnectionState } from './connection-state.js';
import type { DirectoryDialect } from './dialect.js';
import { getIssue, listIssues, recordIssues } from './issues.js';
import {
  digestLinkFingerprints,
  findLinks,
  findLinkFingerprints,
  findLinksWithUsers,
  insertNewUsersLinks,
  linksOfUser,
  linksOfUsers,
  scanLinkFingerprints,
  scanLinks,
  scanLinksWithUsers,
  setFingerprints,
  suspendedElsewhere,
} from './links.js';
import { acquireRunLock, releaseRunLock } from './locks.js';
import { failInterruptedRuns, finishRun, getRun, listRuns, setRunProgress, startRun } from './runs.js';
import {
  deleteStoredConnection,
  getStoredConnection,
  listStoredConnections,
  saveStoredConnection,
} from './stored-connections.js';
import type { Database } from './schema.js';
import type {
  ApiKeyRecord,
  AppUserPatch,
  ConnectionState,
  DirectoryOp,
  DirectoryOpResult,
  DirectoryStore,
  IssueRecord,
  IssueStatus,
  FingerprintAt,
  ImportedLink,
  LinkFingerprint,
  LinkWithUser,
  LockOwner,
  NewAppUser,
  RunCounts,
  RunListOptions,
  RunProgress,
  RunRecord,
  RunStatus,
  StoredConnection,
  Trigger,
  UserListOptions,
} from './store.js';
import { createUser, deleteUser, updateUser } from './user-writes.js';
import {
  countUsers,
  findUserByEmail,
  findUsersByEmailKeys,
  getUser,
  getUsers,
  listUsers,
  liveUsersWithoutLink,
  scanUsers,
  usersChangedSince,
} from './users.js';

/** New users from which an import may be done in bulk (see `importInBulk`). */
const BULK_IMPORT = 10_000;

export class KyselyDirectoryStore implements DirectoryStore {
  readonly dialect: DirectoryDialect['name'];

  constructor(
    private readonly db: Kysely<Database>,
    private readonly directoryDialect: DirectoryDialect,
  ) {
    this.dialect = directoryDialect.name;
  }

  async importInBulk<T>(newUsers: number, work: () => Promise<T>): Promise<T> {
    const { inBulk } = this.directoryDialect;
    if (!inBulk || newUsers < BULK_IMPORT || newUsers < (await countUsers(this.db))) return work();
    return inBulk(this.db as Kysely<unknown>, work);
  }

  close(): Promise<void> {
    return this.db.destroy();
  }

  scanUsers(pageSize: number, options?: { includeDeleted?: boolean }): AsyncIterable<DirectoryUser[]> {
    return scanUsers(this.db, pageSize, options);
  }
  listUsers(options?: UserListOptions): Promise<DirectoryUser[]> {
    return listUsers(this.db, options, this.directoryDialect.userSearch);
  }
  getUser(id: string): Promise<DirectoryUser | null> {
    return getUser(this.db, id);
  }
  getUsers(ids: readonly string[]): Promise<DirectoryUser[]> {
    return getUsers(this.db, ids);
  }
  findUsersByEmailKeys(keys: readonly string[]): Promise<DirectoryUser[]> {
    return findUsersByEmailKeys(this.db, keys);
  }
  usersChangedSince(since: string, connection: string): Promise<DirectoryUser[]> {
    return usersChangedSince(this.db, since, connection);
  }
  findUserByEmail(email: string): Promise<DirectoryUser | null> {
    return findUserByEmail(this.db, email);
  }
  countUsers(): Promise<number> {
    return countUsers(this.db);
  }
  createUser(user: NewAppUser): Promise<DirectoryUser> {
    return this.conflictOnRace(() => createUser(this.db, user));
  }
  updateUser(id: string, patch: AppUserPatch, expectedVersion?: number): Promise<DirectoryUser | null> {
    return this.conflictOnRace(() => updateUser(this.db, id, patch, expectedVersion));
  }
  deleteUser(id: string): Promise<DirectoryUser | null> {
    return deleteUser(this.db, id);
  }

  scanLinks(connection: string, pageSize: number): AsyncIterable<LinkState[]> {
    return scanLinks(this.db, connection, pageSize);
  }
  scanLinksWithUsers(connection: string, pageSize: number): AsyncIterable<LinkWithUser[]> {
    return scanLinksWithUsers(this.db, connection, pageSize);
  }
  findLinksWithUsers(connection: string, keys: readonly string[]): Promise<LinkWithUser[]> {
    return findLinksWithUsers(this.db, connection, keys);
  }
  findLinkFingerprints(connection: string, keys: readonly string[]): Promise<LinkFingerprint[]> {
    return findLinkFingerprints(this.db, connection, keys);
  }
  scanLinkFingerprints(
    connection: string,
    pageSize: number,
    buckets?: readonly number[],
  ): AsyncIterable<LinkFingerprint[]> {
    const only = buckets && { buckets, oneOf: this.directoryDialect.oneOf };
    return scanLinkFingerprints(this.db, connection, pageSize, only);
  }
  digestLinkFingerprints(connection: string): Promise<{ buckets: BucketDigest[]; untrusted: number }> {
    return digestLinkFingerprints(this.db, connection, this.directoryDialect.besideSource);
  }
  async linkImported(connection: string, links: readonly ImportedLink[]): Promise<void> {
    if (links.length === 0) return;
    const now = new Date().toISOString();
    await this.db.transaction().execute((trx) =>
      insertNewUsersLinks(
        trx,
        connection,
        links.map((l) => l.link),
        now,
        links.map((l) => l.fingerprint),
      ),
    );
  }
  setFingerprints(
    connection: string,
    fingerprints: ReadonlyMap<string, FingerprintAt | null>,
  ): Promise<void> {
    return setFingerprints(this.db, connection, fingerprints);
  }
  liveUsersWithoutLink(connection: string): Promise<DirectoryUser[]> {
    return liveUsersWithoutLink(this.db, connection);
  }
  linksOfUser(connection: string, userId: string): Promise<LinkState[]> {
    return linksOfUser(this.db, connection, userId);
  }
  findLinks(connection: string, keys: readonly string[]): Promise<LinkState[]> {
    return findLinks(this.db, connection, keys);
  }
  linksOfUsers(connection: string, userIds: readonly string[]): Promise<LinkState[]> {
    return linksOfUsers(this.db, connection, userIds);
  }
  suspendedElsewhere(connection: string, userIds?: readonly string[]): Promise<Set<string>> {
    return suspendedElsewhere(this.db, connection, userIds);
  }
  applyBatch(connection: string, ops: readonly DirectoryOp[]): Promise<DirectoryOpResult[]> {
    return applyBatch(this.db, this.directoryDialect.isUniqueViolation, connection, ops);
  }

  startRun(connection: string, trigger: Trigger): Promise<RunRecord> {
    return startRun(this.db, connection, trigger);
  }
  finishRun(
    id: string,
    status: Exclude<RunStatus, 'running'>,
    counts: RunCounts,
    error?: string | null,
  ): Promise<RunRecord> {
    return finishRun(this.db, id, status, counts, error ?? null);
  }
  listRuns(options?: RunListOptions): Promise<RunRecord[]> {
    return listRuns(this.db, options);
  }
  failInterruptedRuns(connection: string, reason: string): Promise<number> {
    return failInterruptedRuns(this.db, connection, reason);
  }
  getRun(id: string): Promise<RunRecord | null> {
    return getRun(this.db, id);
  }
  setRunProgress(id: string, progress: RunProgress): Promise<void> {
    return setRunProgress(this.db, id, progress);
  }

  recordIssues(
    connection: string,
    runId: string | null,
    seen: readonly IssueReport[],
    options: { resolveUnseen: boolean; keep?: readonly IssueKind[] },
  ): Promise<{ opened: IssueRecord[]; resolved: IssueRecord[] }> {
    return recordIssues(this.db, connection, runId, seen, options);
  }
  listIssues(options?: { connection?: string; status?: IssueStatus }): Promise<IssueRecord[]> {
    return listIssues(this.db, options);
  }
  getIssue(id: string): Promise<IssueRecord | null> {
    return getIssue(this.db, id);
  }

  acquireRunLock(connection: string, owner: LockOwner): Promise<boolean> {
    return acquireRunLock(this.db, connection, owner);
  }
  releaseRunLock(connection: string, owner: LockOwner): Promise<void> {
    return releaseRunLock(this.db, connection, owner);
  }

  createApiKey(key: { id: string; name: string; prefix: string; hash: string }): Promise<ApiKeyRecord> {
    return this.conflictOnRace(() => createApiKey(this.db, key), 'An API key with this name already exists.');
  }
  findApiKey(hash: string): Promise<ApiKeyRecord | null> {
    return findApiKey(this.db, hash);
  }
  touchApiKey(id: string, at: string): Promise<void> {
    return touchApiKey(this.db, id, at);
  }
  listApiKeys(): Promise<ApiKeyRecord[]> {
    return listApiKeys(this.db);
  }
  revokeApiKey(nameOrId: string): Promise<ApiKeyRecord | null> {
    return revokeApiKey(this.db, nameOrId);
  }

  listStoredConnections(): Promise<StoredConnection[]> {
    return listStoredConnections(this.db);
  }
  getStoredConnection(name: string): Promise<StoredConnection | null> {
    return getStoredConnection(this.db, name);
  }
  saveStoredConnection(
    name: string,
    definition: string,
    expectedVersion: number,
  ): Promise<StoredConnection | null> {
    return saveStoredConnection(this.db, name, definition, expectedVersion);
  }
  deleteStoredConnection(name: string): Promise<boolean> {
    return deleteStoredConnection(this.db, name);
  }

  getConnectionState(connection: string): Promise<ConnectionState> {
    return getConnectionState(this.db, connection);
  }
  setConnectionState(connection: string, patch: Partial<ConnectionState>): Promise<void> {
    return setConnectionState(this.db, connection, patch);
  }

  /**
   * The user writes check uniqueness first; a concurrent writer (another process) can still
   * take the email between the check and the write, and the unique index then refuses it.
   */
  private async conflictOnRace<T>(
    write: () => Promise<T>,
    message = 'Another user with this email or external id was just saved. Retry.',
  ): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (!this.directoryDialect.isUniqueViolation(error)) throw error;
      throw new UsersyncError('directory.conflict', message, { cause: error });
    }
  }
}
