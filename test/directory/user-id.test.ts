import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { newUserId } from '../../src/directory/user-id.js';

describe('user ids', () => {
  it('are UUIDv7 that only ever grow within a process, across many in one millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => newUserId());
    for (const id of ids) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    // Their leading 48 bits are the clock: a fresh id is not from before this test.
    const millis = parseInt(ids[0]!.replaceAll('-', '').slice(0, 12), 16);
    expect(Math.abs(millis - Date.now())).toBeLessThan(60_000);
  });
});
