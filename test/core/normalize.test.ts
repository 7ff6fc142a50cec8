import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainHttpUrl, parseDate, parseEmail, parseValue } from '../../src/core/normalize.js';

describe('emails', () => {
  it('are trimmed and matched lower-cased, keeping their case for display', () => {
    expect(parseEmail('  Ann@Example.COM ')).toEqual({
      ok: true,
      email: 'Ann@Example.COM',
      key: 'ann@example.com',
    });
  });

  it.each([null, undefined, '', '   ', 'no-at-sign', 'a@b', 'a @b.io', 42])('%j is not an email', (raw) => {
    expect(parseEmail(raw).ok).toBe(false);
  });
});

describe('dates', () => {
  it.each([
    ['2024-05-01', '2024-05-01T00:00:00.000Z'],
    ['2024-05-01 09:30:00', '2024-05-01T09:30:00.000Z'],
    ['2024-05-01T09:30', '2024-05-01T09:30:00.000Z'],
    ['2024-05-01T09:30:00+02:00', '2024-05-01T07:30:00.000Z'],
    ['2024-05-01T09:30:00.123456Z', '2024-05-01T09:30:00.123Z'],
    ['2024-05-01T09:30:00.000Z', '2024-05-01T09:30:00.000Z'],
    [1714555800, '2024-05-01T09:30:00.000Z'],
    [1714555800000, '2024-05-01T09:30:00.000Z'],
    ['1714555800', '2024-05-01T09:30:00.000Z'],
    [new Date('2024-05-01T09:30:00Z'), '2024-05-01T09:30:00.000Z'],
    ['2024-02-29T00:00:00.000Z', '2024-02-29T00:00:00.000Z'],
    ['2000-02-29T23:59:59.999Z', '2000-02-29T23:59:59.999Z'],
  ])('%j reads as %s', (raw, iso) => {
    expect(parseDate(raw)).toEqual({ ok: true, value: iso });
  });

  it.each([
    '2024-02-30',
    '2024-02-30T00:00:00.000Z',
    '2023-02-29T00:00:00.000Z',
    '1900-02-29T00:00:00.000Z',
    '2024-04-31T00:00:00.000Z',
    '2024-01-01T24:00:00.000Z',
    '2024-13-01',
    '2024-05-01T25:00',
    'last tuesday',
    new Date(Number.NaN),
    {},
  ])('%j is not a date', (raw) => {
    const parsed = parseDate(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(/not a date/);
  });

  it('empty is no date, not an error', () => {
    expect(parseDate('  ')).toEqual({ ok: true, value: null });
    expect(parseDate(null)).toEqual({ ok: true, value: null });
  });
});

describe('text, URLs and custom values', () => {
  it('text is trimmed and empty is null, so a CSV cell and a NULL agree', () => {
    expect(parseValue('  Ann ', 'text')).toEqual({ ok: true, value: 'Ann' });
    expect(parseValue('', 'text')).toEqual({ ok: true, value: null });
    expect(parseValue(null, 'custom')).toEqual({ ok: true, value: null });
  });

  it('numbers and booleans compare as their text', () => {
    expect(parseValue(42, 'custom')).toEqual({ ok: true, value: '42' });
    expect(parseValue('42', 'custom')).toEqual({ ok: true, value: '42' });
    expect(parseValue(true, 'custom')).toEqual({ ok: true, value: 'true' });
  });

  it('a URL must be http(s)', () => {
    expect(parseValue('https://example.com/a.png', 'url')).toEqual({
      ok: true,
      value: 'https://example.com/a.png',
    });
    expect(parseValue('javascript:alert(1)', 'url').ok).toBe(false);
    expect(parseValue('a.png', 'url').ok).toBe(false);
    // Refused by the WHATWG parser, though they look like URLs: a port out of range, a
    // last label read as an IPv4 address that is not one, punycode that does not decode.
    for (const bad of ['http://a.io:99999/x', 'http://1.2.3.999/', 'http://a.0x1f/', 'http://xn--a.com/'])
      expect(parseValue(bad, 'url').ok).toBe(false);
  });

  it('a URL taken without parsing is one the WHATWG parser takes (property)', () => {
    const whatwgHttp = (text: string) => {
      try {
        return ['http:', 'https:'].includes(new URL(text).protocol);
      } catch {
        return false;
      }
    };
    // Mostly URL-like pieces, with the odd character that makes a URL invalid or special.
    const chars = (alphabet: string[], min: number) =>
      fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: 8 }).map((c) => c.join(''));
    const label = fc.oneof(
      { weight: 8, arbitrary: chars(['a', 'Z', 'x', 'n', '0', '9', '-'], 1) },
      { weight: 1, arbitrary: fc.constantFrom('xn--', '0x1f', '999', '', '_', 'é', ' ', '[::1]') },
    );
    const tail = chars(
      ['a', '0', '-', '.', '_', '/', '?', '#', '%', '%zz', '@', '~', ':', ' ', '\\', '"', 'é'],
      0,
    );
    const url = fc
      .tuple(
        fc.constantFrom('http://', 'https://', 'HTTPS://', 'ftp://', 'http:/', 'http:///', ''),
        fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.')),
        fc.option(
          fc.integer({ min: 0, max: 99_999 }).map((port) => `:${port}`),
          { nil: '' },
        ),
        fc.option(
          tail.map((path) => `/${path}`),
          { nil: '' },
        ),
      )
      .map((parts) => parts.join(''));
    let plain = 0;
    fc.assert(
      fc.property(url, (candidate) => {
        if (!isPlainHttpUrl(candidate)) return;
        plain += 1;
        expect(whatwgHttp(candidate)).toBe(true);
      }),
      { numRuns: 20_000 },
    );
    // The generator reaches the fast path often enough for the property to mean something.
    expect(plain).toBeGreaterThan(200);
  });

  it('objects and binary values cannot be read as text', () => {
    expect(parseValue({ a: 1 }, 'text').ok).toBe(false);
    expect(parseValue(new Uint8Array([1]), 'custom').ok).toBe(false);
  });
});
