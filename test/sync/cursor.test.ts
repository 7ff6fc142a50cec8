import { describe, expect, it } from 'vitest';
import { laterCursor, readFrom, storedCursor } from '../../src/sync/cursor.js';

describe('cursor values', () => {
  it('the later of two values, whatever the source hands over', () => {
    expect(laterCursor(undefined, '2024-05-01 09:30:00')).toBe('2024-05-01 09:30:00');
    expect(laterCursor('2024-05-01 09:30:00', '2024-05-01 10:00:00')).toBe('2024-05-01 10:00:00');
    expect(laterCursor('9', '10')).toBe('10'); // bigints arrive as text
    expect(laterCursor(9, 10)).toBe(10);
    const [a, b] = [new Date('2024-05-01T00:00:00Z'), new Date('2024-06-01T00:00:00Z')];
    expect(laterCursor(b, a)).toBe(b);
  });

  it('is stored as text', () => {
    expect(storedCursor(new Date('2024-05-01T00:00:00Z'))).toBe('2024-05-01T00:00:00.000Z');
    expect(storedCursor(42)).toBe('42');
    expect(storedCursor(null)).toBeNull();
  });

  it('reads from a minute before a date, in the shape the source writes dates', () => {
    expect(readFrom('2024-05-01T09:30:00.000Z')).toBe('2024-05-01T09:29:00.000Z');
    expect(readFrom('2024-05-01 09:30:00')).toBe('2024-05-01 09:29:00');
    expect(readFrom('2024-05-01 09:30:00.250')).toBe('2024-05-01 09:29:00.250');
    expect(readFrom('2024-05-01T11:30:00+02:00')).toBe('2024-05-01T09:29:00.000Z');
    expect(readFrom('1042')).toBe('1042'); // a version counter: no overlap needed
  });
});
