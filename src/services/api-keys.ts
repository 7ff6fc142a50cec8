/**
 * Admin API keys (SPEC §9). A key is `usk_` + 32 random bytes; only its sha256 is stored
 * (the key is random and long, so a slow hash would add nothing). It is shown once.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { UsersyncError } from '../core/errors.js';
import type { ApiKeyRecord, DirectoryStore } from '../directory/store.js';

const KEY_PREFIX = 'usk_';
/** Last-used times are written at most this often per key, not on every request. */
const TOUCH_EVERY_MS = 60_000;

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export async function issueApiKey(
  store: DirectoryStore,
  name: string,
): Promise<{ key: string; record: ApiKeyRecord }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$/.test(name))
    throw new UsersyncError(
      'usage.invalid',
      `Invalid key name "${name}": use 1–63 letters, digits, spaces, ".", "_" or "-".`,
    );
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const record = await store.createApiKey({
    id: randomUUID(),
    name,
    prefix: key.slice(0, KEY_PREFIX.length + 6),
    hash: hashKey(key),
  });
  return { key, record };
}

export class ApiKeyChecker {
  private readonly touched = new Map<string, number>();

  constructor(private readonly store: DirectoryStore) {}

  /** The live key the bearer token is; null for a missing, unknown or revoked key. */
  async check(token: string | undefined): Promise<ApiKeyRecord | null> {
    if (!token?.startsWith(KEY_PREFIX)) return null;
    const record = await this.store.findApiKey(hashKey(token));
    if (!record) return null;
    const now = Date.now();
    if (now - (this.touched.get(record.id) ?? 0) >= TOUCH_EVERY_MS) {
      this.touched.set(record.id, now);
      await this.store.touchApiKey(record.id, new Date(now).toISOString());
    }
    return record;
  }
}
