/**
 * What one sync of one connection will do, as plain data. `planSync` makes it without
 * I/O; the runner applies it; `usersync plan` prints it.
 */
import type { SourceRow } from './source-row.js';
import type { Mapping } from './fields.js';
import type { IssueReport } from './issue.js';
import type { LinkState } from './link.js';
import type { Canonical } from './normalize.js';
import type { DirectoryUser, NewUser, UserPatch } from './user.js';

export type SyncMode = 'two-way' | 'one-way' | 'import';
export type ConflictPolicy = 'source' | 'app';

export interface PlanContext {
  readonly connection: string;
  readonly mode: SyncMode;
  readonly conflict: ConflictPolicy;
  readonly mapping: Mapping;
  /** Users whose link in another connection is suspended by that connection's filter. */
  readonly suspendedElsewhere: ReadonlySet<string>;
  /** Which rows are users (SPEC §1 filter), over raw row values; null: every row. */
  readonly filter: ((values: Readonly<Record<string, unknown>>) => boolean) | null;
  /** Column values that make a row created by usersync match the filter. */
  readonly createDefaults: Readonly<Record<string, unknown>>;
  readonly createInSource: boolean;
  readonly acceptEmailChanges: boolean;
  /** Share of users one run may change without approval (SPEC §3 mass-change guard). */
  readonly maxChange: number;
  readonly allowMassChange: boolean;
  /** Live users in the whole directory (the guard's denominator). */
  readonly totalUsers: number;
  readonly now: string;
  readonly newUserId: () => string;
}

/**
 * Everything the planner looks at. For a full sync: every row, every user (tombstones
 * included) and every link of the connection. For a single-user sync: that user, its
 * links and the rows found for its email and keys; absence is then judged only among those.
 */
export interface PlanInput {
  readonly rows: readonly SourceRow[];
  readonly users: readonly DirectoryUser[];
  readonly links: readonly LinkState[];
  /**
   * Rows read but not passed in full because they agree with their link (see
   * `core/quiet-row.ts`): they still count for keys and emails seen, duplicates and claims.
   * Their users and links need not be in `users` and `links`.
   */
  readonly quietRows?: readonly QuietRow[];
  /**
   * Quiet rows only counted, not passed: no other row has their key, nor their email (which
   * their own linked user has), so each is a pair that needs nothing (see `quietInput`).
   */
  readonly quietAlone?: number;
  /** Every key read, when more than the rows' and quiet rows' keys (the counted quiet rows'). */
  readonly seenKeys?: KeySet;
}

/** Keys met, as the planner asks about them (a Set, or a view over several). */
export interface KeySet {
  has(key: string): boolean;
}

/** A row whose pair is known to need nothing, unless it turns out to share its email or key. */
export interface QuietRow {
  readonly key: string;
  readonly emailKey: string;
  readonly userId: string;
}

/** A conditional write to an existing row (SPEC §3: a concurrent edit is not overwritten). */
export interface SourceWrite {
  readonly key: string;
  readonly set: Readonly<Record<string, unknown>>;
  readonly expect: Readonly<Record<string, unknown>>;
}

/** A new row for an app user; the key is known only after the insert. */
export interface RowCreate {
  readonly userId: string;
  readonly values: Readonly<Record<string, unknown>>;
  readonly link: Omit<LinkState, 'key'>;
}

export type PlanAction =
  /** Row in source, no user: create the user, link, write app-owned fields back. */
  | {
      readonly type: 'import';
      readonly key: string;
      readonly user: NewUser;
      readonly link: LinkState;
      readonly writeBack: SourceWrite | null;
      /**
       * Null when the new pair will not be quiet (a value could not be read), so no
       * fingerprint is kept for it; else the row's fingerprint as read, if it was read
       * with one. The runner keeps it with the link, or asks the write-back for the row's
       * fingerprint after it.
       */
      readonly fingerprint: { readonly asRead: string | null } | null;
    }
  /** App user with no row: create the row, then link. */
  | ({ readonly type: 'export' } & RowCreate)
  /** Linked row deleted in the source: create it again (SPEC §3: a source delete is not trusted). */
  | ({ readonly type: 'recreate'; readonly oldKey: string; readonly userVersion: number } & RowCreate)
  /** Linked (or newly matched) pair: changes on either side, and the new link. */
  | {
      readonly type: 'update';
      readonly key: string;
      readonly userId: string;
      readonly userVersion: number;
      readonly appPatch: UserPatch | null;
      readonly sourceWrite: SourceWrite | null;
      readonly link: LinkState;
      /**
       * With a source write: the link to record before the write, whose baseline keeps the
       * old values of the fields being written, so a write that never lands (stale, failed,
       * crash) is retried rather than mistaken for a source edit.
       */
      readonly linkBeforeWrite: LinkState | null;
      /**
       * The stored link already is `linkBeforeWrite` and there is no user patch: nothing to
       * record before the source write (an app-owned value written back, as at a login).
       */
      readonly beforeWriteStored: boolean;
      /** The user's previous link key in this connection, replaced by `link`. */
      readonly replaceKey?: string;
    }
  /** User deleted in the app: delete its row, then the link. */
  | { readonly type: 'deleteRow'; readonly key: string; readonly userId: string }
  /** User deleted in the app and its row already gone: forget the link. */
  | { readonly type: 'unlink'; readonly key: string; readonly userId: string };

export interface FieldConflict {
  readonly key: string;
  readonly userId: string;
  readonly field: string;
  readonly app: Canonical;
  readonly source: Canonical;
  readonly winner: ConflictPolicy;
}

export interface MassChange {
  /** Existing users whose data this run would change on either side. */
  readonly changed: number;
  readonly total: number;
  readonly share: number;
}

export interface SyncPlan {
  readonly connection: string;
  readonly actions: readonly PlanAction[];
  readonly issues: readonly IssueReport[];
  readonly conflicts: readonly FieldConflict[];
  /** Pairs that agree and need nothing. */
  readonly unchanged: number;
  /** Rows left alone because of an issue. */
  readonly skipped: number;
  readonly massChange: MassChange;
  /** Set when the mass-change guard holds the plan back: nothing may be applied. */
  readonly blocked: IssueReport | null;
}
