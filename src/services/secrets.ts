/**
 * Source credentials at rest (SPEC §9): a connection made through the API is stored with
 * its `source` URL encrypted with AES-256-GCM. The key comes from $USERSYNC_SECRET_KEY
 * (every process of a deployment must share it), or else from a key file next to the
 * config, created on first use with owner-only permissions.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsersyncError } from '../core/errors.js';

const PREFIX = 'enc:v1:';
export const KEY_FILE = 'usersync.secret';

export interface Secrets {
  encrypt(plain: string): string;
  decrypt(sealed: string): string;
}

export function secretsFrom(key: string): Secrets {
  // Whatever the key's form (base64, hex, a passphrase), 32 bytes for AES-256 via sha256.
  const aesKey = createHash('sha256').update(key, 'utf8').digest();
  return {
    encrypt(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', aesKey, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return PREFIX + [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
    },
    decrypt(sealed) {
      if (!sealed.startsWith(PREFIX)) return sealed; // never encrypted
      const [iv, tag, body] = sealed
        .slice(PREFIX.length)
        .split('.')
        .map((p) => Buffer.from(p, 'base64url'));
      try {
        const decipher = createDecipheriv('aes-256-gcm', aesKey, iv!);
        decipher.setAuthTag(tag!);
        return Buffer.concat([decipher.update(body!), decipher.final()]).toString('utf8');
      } catch (error) {
        throw new UsersyncError(
          'config.invalid',
          'A stored connection cannot be decrypted with this secret key. Every usersync process must use the same USERSYNC_SECRET_KEY (or key file) as the one that saved it.',
          { cause: error },
        );
      }
    },
  };
}

export function loadSecrets(baseDir: string, env: NodeJS.ProcessEnv = process.env): Secrets {
  const fromEnv = env.USERSYNC_SECRET_KEY;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < 16)
      throw new UsersyncError(
        'config.invalid',
        'USERSYNC_SECRET_KEY is too short: use at least 16 characters, e.g. `openssl rand -base64 32`.',
      );
    return secretsFrom(fromEnv);
  }
  const file = join(baseDir, KEY_FILE);
  if (!existsSync(file)) {
    // `wx`: two processes starting at once must not each write their own key.
    try {
      writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return secretsFrom(readFileSync(file, 'utf8').trim());
}

/** A source URL fit to show: its password replaced. */
export function redactSource(source: string): string {
  try {
    const url = new URL(source);
    if (url.password === '') return source;
    url.password = '***';
    return url.toString();
  } catch {
    return source;
  }
}
