/**
 * Documented exit codes (README "Exit codes"); errors map to them here and nowhere else.
 */
import type { ErrorCode } from '../core/errors.js';

export const EXIT = {
  /** Every run finished (possibly with issues). */
  ok: 0,
  /** A run failed (source unreachable, wrong table…) or could not start (another run held the lock, the directory is down). */
  runFailed: 1,
  /** Bad usage, bad config, bad input: nothing was changed. */
  usage: 2,
} as const;

const BY_CODE: Record<ErrorCode, number> = {
  'config.invalid': EXIT.usage,
  'config.not_found': EXIT.usage,
  'usage.invalid': EXIT.usage,
  not_found: EXIT.usage,
  'user.suspended': EXIT.usage,
  'directory.invalid': EXIT.usage,
  'directory.unreachable': EXIT.runFailed,
  'directory.conflict': EXIT.usage,
  'source.unreachable': EXIT.runFailed,
  'source.invalid': EXIT.runFailed,
  'source.read_only': EXIT.runFailed,
  'source.write_rejected': EXIT.runFailed,
  'run.locked': EXIT.runFailed,
};

export function exitCodeFor(code: ErrorCode): number {
  return BY_CODE[code];
}
