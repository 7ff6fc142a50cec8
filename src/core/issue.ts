/** SPEC §4: the kinds of sync issue. */
export const ISSUE_KINDS = [
  'duplicate_email',
  'invalid_email',
  'invalid_value',
  'email_changed',
  'write_failed',
  'connection_failed',
  'conflict',
  'mass_change',
] as const;
export type IssueKind = (typeof ISSUE_KINDS)[number];

/** An issue as the planner or runner finds it; the store turns it into an open/resolved record. */
export interface IssueReport {
  readonly kind: IssueKind;
  /** Identifies "the same problem" across runs, within one connection. */
  readonly fingerprint: string;
  /** What is wrong, in words a user understands. */
  readonly message: string;
  /** How to fix it. */
  readonly fix: string;
  /** Source row keys concerned. */
  readonly rows: readonly string[];
  /** Directory user ids concerned. */
  readonly users: readonly string[];
}
