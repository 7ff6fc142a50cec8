import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** A fresh folder for one test, removed after it (kept when KEEP_TEMP=1, to inspect a failure). */
export function useTempDir(prefix = 'usersync-'): () => string {
  const made: string[] = [];
  afterEach(() => {
    if (process.env.KEEP_TEMP === '1') return;
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
