/** Config problems as a user reads them: the key path, what is wrong, what to do. */
import type { z } from 'zod';
import { UsersyncError } from '../core/errors.js';

export type Path = readonly PropertyKey[];

export interface Problem {
  readonly path: Path;
  readonly message: string;
}

export function toProblems(error: z.ZodError, prefix: Path): Problem[] {
  return error.issues.flatMap((issue): Problem[] => {
    const path = [...prefix, ...issue.path];
    if (issue.code !== 'unrecognized_keys') return [{ path, message: issue.message }];
    const lines = issue.message.split('\n');
    return issue.keys.map((key, i) => ({ path: [...path, key], message: lines[i] ?? issue.message }));
  });
}

export function invalidConfig(file: string, problems: readonly Problem[]): UsersyncError {
  const count = problems.length === 1 ? 'a problem' : `${problems.length} problems`;
  // In file order (numbers compared as numbers), so each connection's problems stand together.
  const sorted = [...problems].sort((a, b) =>
    formatPath(a.path).localeCompare(formatPath(b.path), 'en', { numeric: true }),
  );
  const lines = sorted.map((p) => `  - ${formatPath(p.path)}: ${p.message.replaceAll('\n', '\n    ')}`);
  return new UsersyncError(
    'config.invalid',
    [`The config file ${file} has ${count}:`, ...lines, 'Fix the file and run the command again.'].join('\n'),
    { problems: sorted.map((p) => ({ path: formatPath(p.path), message: p.message })) },
  );
}

/** `connections[0].fields.email`, as a user would point at it in the file. */
export function formatPath(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(part))) out += out === '' ? String(part) : `.${String(part)}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || '(top level)';
}

export function describe(value: unknown): string {
  if (value === null) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const shown = JSON.stringify(value) ?? String(value);
  return shown.length > 60 ? `${shown.slice(0, 57)}…` : shown;
}

/** The known key nearest to a typo (at most 2 edits, case ignored), for "did you mean". */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
