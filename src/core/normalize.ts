/**
 * Turning raw source values into canonical values and back. Two values are "the same"
 * when their canonical forms are equal, so a CSV's "42" and SQLite's 42 agree, and an
 * empty cell is the same as NULL.
 */
import type { FieldKind } from './fields.js';

/** Canonical form of a field value: trimmed text, ISO-8601 UTC for dates, null for empty. */
export type Canonical = string | null;

export type Parsed = { ok: true; value: Canonical } | { ok: false; reason: string };

export type EmailParse = { ok: true; email: string; key: string } | { ok: false; reason: string };

// Deliberately permissive (RFC 5322 allows far more than apps accept, and far less than
// regexes that try): one @, no spaces, a dot in the domain.
const EMAIL = /^[^\s@]+@[^\s@.][^\s@]*\.[^\s@]+$/;

/** SPEC §1: emails are matched case-insensitively after trimming. `key` is the matching form. */
export function parseEmail(raw: unknown): EmailParse {
  if (raw === null || raw === undefined) return { ok: false, reason: 'the email is missing' };
  if (typeof raw !== 'string') return { ok: false, reason: `the email is not text (${describe(raw)})` };
  const email = raw.trim();
  if (email === '') return { ok: false, reason: 'the email is empty' };
  if (!EMAIL.test(email)) return { ok: false, reason: `"${email}" is not a valid email address` };
  return { ok: true, email, key: email.toLowerCase() };
}

export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

/** Reads a raw source value as a field of the given kind. */
export function parseValue(raw: unknown, kind: FieldKind): Parsed {
  if (kind === 'date') return parseDate(raw);
  const text = parseText(raw);
  if (!text.ok || kind !== 'url' || text.value === null) return text;
  return isHttpUrl(text.value) ? text : { ok: false, reason: `"${text.value}" is not an http(s) URL` };
}

function parseText(raw: unknown): Parsed {
  if (raw === null || raw === undefined) return { ok: true, value: null };
  if (typeof raw === 'string') {
    const value = raw.trim();
    return { ok: true, value: value === '' ? null : value };
  }
  if (typeof raw === 'number') {
    return Number.isFinite(raw)
      ? { ok: true, value: String(raw) }
      : { ok: false, reason: `${raw} is not a finite number` };
  }
  if (typeof raw === 'bigint' || typeof raw === 'boolean') return { ok: true, value: String(raw) };
  if (raw instanceof Date) return parseDate(raw);
  return { ok: false, reason: `a ${describe(raw)} cannot be read as text` };
}

/**
 * A plain http(s) URL that the WHATWG parser surely accepts: a host of letter-digit-hyphen
 * labels whose last one starts with a letter (so it is never read as an IPv4 address, nor
 * as punycode to decode), a port of at most four digits, and a path and query of URL
 * characters. Most avatars are: `new URL` costs ten times the test (1M rows: about a second).
 */
const PLAIN_HTTP_URL =
  /^https?:\/\/(?:[a-z0-9]+(?:-[a-z0-9]+)*\.)*[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?::\d{1,4})?(?:[/?][\w.~%!$&'()*+,;=:@/?-]*)?$/i;

/** True for URLs `isHttpUrl` accepts without parsing them (exported for its test). */
export function isPlainHttpUrl(text: string): boolean {
  return PLAIN_HTTP_URL.test(text);
}

function isHttpUrl(text: string): boolean {
  if (isPlainHttpUrl(text)) return true;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const EPOCH = /^-?\d{9,13}(\.\d+)?$/;
const CANONICAL_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Dates: ISO-8601 (a date, or a date and time with or without a zone; no zone means UTC),
 * JavaScript Dates, and Unix epochs (seconds, or milliseconds when that large).
 */
export function parseDate(raw: unknown): Parsed {
  if (raw === null || raw === undefined) return { ok: true, value: null };
  if (raw instanceof Date)
    return Number.isNaN(raw.getTime()) ? notADate(String(raw)) : { ok: true, value: raw.toISOString() };
  if (typeof raw === 'number') return fromEpoch(raw);
  if (typeof raw === 'bigint') return fromEpoch(Number(raw));
  if (typeof raw !== 'string') return { ok: false, reason: `a ${describe(raw)} is not a date` };
  // Already canonical (the directory's own dates): the common case, worth skipping the parse.
  if (CANONICAL_DATE.test(raw) && isRealDate(raw)) return { ok: true, value: raw };
  const text = raw.trim();
  if (text === '') return { ok: true, value: null };
  if (EPOCH.test(text)) return fromEpoch(Number(text));
  const day = DATE_ONLY.exec(text);
  if (day) return fromParts(text, Number(day[1]), Number(day[2]), Number(day[3]), 0, 0, 0, 0, 'Z');
  const time = DATE_TIME.exec(text);
  if (!time) return notADate(text);
  const [, y, mo, d, h, mi, s, frac, zone] = time;
  const ms = frac ? Math.round(Number(`0${frac}`) * 1000) : 0;
  return fromParts(
    text,
    Number(y),
    Number(mo),
    Number(d),
    Number(h),
    Number(mi),
    Number(s ?? 0),
    ms,
    zone ?? 'Z',
  );
}

/**
 * A canonical date string (its shape already checked) that names a real instant: no
 * 2024-02-30 or 25:00. Checked field by field: this runs for every date a sync compares.
 */
function isRealDate(iso: string): boolean {
  const field = (from: number, to: number) => Number(iso.slice(from, to));
  const year = field(0, 4);
  const month = field(5, 7);
  const day = field(8, 10);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    field(11, 13) <= 23 &&
    field(14, 16) <= 59 &&
    field(17, 19) <= 59
  );
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

function fromEpoch(n: number): Parsed {
  if (!Number.isFinite(n)) return notADate(String(n));
  return fromMillis(Math.abs(n) >= 1e11 ? n : n * 1000, String(n));
}

function fromMillis(ms: number, shown: string): Parsed {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? notADate(shown) : { ok: true, value: date.toISOString() };
}

function fromParts(
  text: string,
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  ms: number,
  zone: string,
): Parsed {
  const utc = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const probe = new Date(utc);
  // Date.UTC rolls 2024-02-30 over to March; a real date survives the round trip.
  if (
    probe.getUTCFullYear() !== y ||
    probe.getUTCMonth() !== mo - 1 ||
    probe.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    s > 59
  ) {
    return notADate(text);
  }
  return fromMillis(utc - zoneOffsetMillis(zone), text);
}

function zoneOffsetMillis(zone: string): number {
  if (zone.toUpperCase() === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
}

function notADate(text: string): Parsed {
  return {
    ok: false,
    reason: `"${text}" is not a date (use ISO-8601, e.g. 2024-05-01 or 2024-05-01T09:30:00Z)`,
  };
}

function describe(raw: unknown): string {
  if (raw instanceof Uint8Array) return 'binary value';
  if (Array.isArray(raw)) return 'list';
  return typeof raw;
}
