/** `usersync init`: a working config with sample sources, so there is something to sync. */
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GlobalOptions } from './context.js';
import { print, printJson } from './output.js';

interface InitFlags extends GlobalOptions {
  force?: boolean;
}

const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write usersync.yaml with two sample sources (a SQLite table and a CSV file) in ./sample')
    .option('--force', 'overwrite an existing config and sample data')
    .action((_flags: InitFlags, command: Command) => {
      const options = command.optsWithGlobals<InitFlags>();
      const configPath = resolve(options.config ?? 'usersync.yaml');
      const written = init(configPath, options.force ?? false);
      if (options.json) return printJson({ config: configPath, written });
      if (written.length === 0) {
        print(
          `${relative(process.cwd(), configPath) || configPath} already exists; left as it is (--force overwrites it).`,
        );
        return;
      }
      print(`Wrote ${written.map((f) => relative(process.cwd(), f) || f).join(', ')}.`);
      print('Next: `npx usersync sync` imports the sample users; `npx usersync users list` shows them.');
    });
}

/** Returns the files written (none when the config exists and `force` is off). */
export function init(configPath: string, force: boolean): string[] {
  if (existsSync(configPath) && !force) return [];
  const base = dirname(configPath);
  const sample = join(base, 'sample');
  mkdirSync(sample, { recursive: true });
  const crm = join(sample, 'crm.db');
  rmSync(crm, { force: true });
  const db = new Database(crm);
  try {
    db.exec(readFileSync(join(SAMPLES, 'crm.sql'), 'utf8'));
  } finally {
    db.close();
  }
  const csv = join(sample, 'newsletter.csv');
  copyFileSync(join(SAMPLES, 'newsletter.csv'), csv);
  writeFileSync(configPath, readFileSync(join(SAMPLES, 'usersync.yaml'), 'utf8'));
  // A fresh sample wants a fresh directory; an old one would hold links to rows that no longer exist.
  if (force)
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(base, `usersync.db${suffix}`), { force: true });
  return [configPath, crm, csv];
}
