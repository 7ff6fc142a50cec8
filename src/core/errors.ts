/**
 * One error type for the whole product. `code` is stable (surfaces map it to exit
 * codes and HTTP statuses in one table each); `message` says what to do.
 * Row-level problems are not errors: the planner returns them as sync issues.
 */
export type ErrorCode =
  | 'config.invalid'
  | 'config.not_found'
  | 'usage.invalid'
  | 'source.unreachable'
  | 'source.invalid'
  | 'source.read_only'
  | 'source.write_rejected'
  | 'directory.invalid'
  | 'directory.unreachable'
  | 'directory.conflict'
  | 'run.locked'
  | 'not_found'
  | 'user.suspended';

/** One thing wrong with some input, at a path a user can find (`connections[0].fields.email`). */
export interface InputProblem {
  readonly path: string;
  readonly message: string;
}

export class UsersyncError extends Error {
  override readonly name = 'UsersyncError';
  /** For invalid input: each problem on its own, for machine-readable error responses. */
  readonly problems: readonly InputProblem[];
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; problems?: readonly InputProblem[] },
  ) {
    super(message, options);
    this.problems = options?.problems ?? [];
  }
}

export function isUsersyncError(error: unknown, code?: ErrorCode): error is UsersyncError {
  return error instanceof UsersyncError && (code === undefined || error.code === code);
}
