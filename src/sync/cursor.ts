/**
 * Cursor values (SPEC §8 `cursor:`, an updated_at-style column) as the source hands them
 * over: dates, numbers, or text (dates as text, big numbers as text). Stored as text.
 */
import { parseDate } from '../core/normalize.js';

const NUMBER = /^-?\d+(\.\d+)?$/;
const DATE_TEXT = /^\d{4}-\d{2}-\d{2}([ T])\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** How far back an incremental sync reads before the last cursor: clock skew, slow commits. */
export const CURSOR_OVERLAP_MS = 60_000;

/** The later of two cursor values; null and undefined lose. */
export function laterCursor(a: unknown, b: unknown): unknown {
  if (a === null || a === undefined) return b;
  if (b === null || b === undefined) return a;
  return compareCursors(a, b) >= 0 ? a : b;
}

function compareCursors(a: unknown, b: unknown): number {
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const [x, y] = [
    a instanceof Date ? a.toISOString() : String(a),
    b instanceof Date ? b.toISOString() : String(b),
  ];
  if (NUMBER.test(x) && NUMBER.test(y)) return Number(x) - Number(y);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function storedCursor(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : String(value);
}

/**
 * The value an incremental sync reads from (`cursor >= value`): the last cursor seen, and
 * for dates a minute earlier, written the way the source writes them. Rows already synced
 * come again, which costs nothing: they plan as unchanged.
 */
export function readFrom(stored: string): string {
  const shape = DATE_TEXT.exec(stored);
  const parsed = shape ? parseDate(stored) : null;
  if (!shape || !parsed?.ok || parsed.value === null) return stored;
  const earlier = new Date(Date.parse(parsed.value) - CURSOR_OVERLAP_MS).toISOString();
  // A zone-less "2024-05-01 09:30:00" column compares as text: keep its shape.
  if (shape[1] !== ' ' || shape[4] !== undefined) return earlier;
  const text = earlier.replace('T', ' ').replace('Z', '');
  return shape[3] === undefined ? text.replace(/\.\d{3}$/, '') : text;
}
