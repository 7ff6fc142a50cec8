/**
 * Drives the real `usersync` binary (bin/usersync.js, which runs dist/) in a folder, as a
 * user would, and reads the real data it leaves behind with plain better-sqlite3 and fs
 * (never with the code under test). `npm test` builds dist/ first.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { useTempDir } from './temp.js';

export const BIN = resolve('bin/usersync.js');
export const SAMPLES = resolve('samples');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Extra environment for the child; `undefined` removes a variable. */
export type CliEnv = Record<string, string | undefined>;

/** Runs `usersync ARGS…` with `cwd` as the working folder. Never rejects on a non-zero exit. */
export function usersync(cwd: string, args: readonly string[], env: CliEnv = {}): Promise<CliResult> {
  // A USERSYNC_CONFIG from the developer's shell must not leak into the tests.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, USERSYNC_CONFIG: undefined, ...env };
  for (const [key, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[key];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: childEnv, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.end();
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Runs a command with `--json`, checks its exit code, and parses what it printed. */
export async function usersyncJson<T>(
  cwd: string,
  args: readonly string[],
  { code = 0, env = {} }: { code?: number; env?: CliEnv } = {},
): Promise<T> {
  const result = await usersync(cwd, [...args, '--json'], env);
  if (result.code !== code) {
    throw new Error(
      `usersync ${args.join(' ')} exited ${result.code}, expected ${code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
  return JSON.parse(result.stdout) as T;
}

// ---------------------------------------------------------------------------------------
// The JSON the CLI prints (README "CLI"; only the keys the tests read)

export interface CountsJson {
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
}

export interface IssueReportJson {
  readonly kind: string;
  readonly message: string;
  readonly fix: string;
  readonly rows: string[];
}

export interface RunJson {
  readonly connection: string;
  readonly status: string;
  readonly trigger: string;
  readonly dryRun: boolean;
  readonly app: CountsJson;
  readonly source: CountsJson;
  readonly conflicts: number;
  readonly issues: IssueReportJson[];
  readonly error: string | null;
}

export interface SyncJson {
  readonly runs: RunJson[];
}

export interface UserJson {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  readonly createdAt: string;
  readonly status: 'active' | 'suspended';
  readonly custom: Record<string, string>;
  readonly groups: string[];
}

export interface IssueJson extends IssueReportJson {
  readonly id: string;
  readonly connection: string;
  readonly status: 'open' | 'resolved';
  readonly users: string[];
  readonly resolvedAt: string | null;
}

export async function listUsers(cwd: string): Promise<UserJson[]> {
  return (await usersyncJson<{ users: UserJson[] }>(cwd, ['users', 'list'])).users;
}

export async function listIssues(cwd: string, ...flags: string[]): Promise<IssueJson[]> {
  return (await usersyncJson<{ issues: IssueJson[] }>(cwd, ['issues', 'list', ...flags])).issues;
}

export async function showUser(cwd: string, email: string): Promise<UserJson> {
  return (await usersyncJson<{ user: UserJson }>(cwd, ['users', 'show', email])).user;
}

export const emails = (users: readonly { email: string }[]): string[] => users.map((u) => u.email).sort();

/** Nothing created, updated or deleted on either side, in every run. */
export function changedNothing(runs: readonly RunJson[]): boolean {
  return runs.every((r) =>
    [r.app, r.source].every((side) => side.created === 0 && side.updated === 0 && side.deleted === 0),
  );
}

// ---------------------------------------------------------------------------------------
// Folders

/**
 * The sample folder after `usersync init` and one `usersync sync`, made once per file; each
 * call of the returned function gives a test its own copy of it (in a fresh temp folder), so
 * tests that change it stay independent without paying for init and sync every time.
 */
export function useSyncedSample(): () => string {
  const tempDir = useTempDir('usersync-cli-');
  let template = '';
  beforeAll(async () => {
    template = mkdtempSync(join(tmpdir(), 'usersync-cli-template-'));
    for (const args of [['init'], ['sync']]) {
      const result = await usersync(template, args);
      if (result.code !== 0) throw new Error(`usersync ${args[0]} failed: ${result.stderr}`);
    }
  });
  afterAll(() => rmSync(template, { recursive: true, force: true }));
  return () => {
    const dir = tempDir();
    cpSync(template, dir, { recursive: true });
    return dir;
  };
}

// ---------------------------------------------------------------------------------------
// Real data, read and written without the code under test

export type Row = Record<string, unknown>;

/** Runs `sql` on the SQLite file and returns its rows (none for a statement that returns none). */
export function sqlite(file: string, sql: string, ...params: unknown[]): Row[] {
  const db = new Database(file);
  try {
    const statement = db.prepare(sql);
    if (statement.reader) return statement.all(...params) as Row[];
    statement.run(...params);
    return [];
  } finally {
    db.close();
  }
}

/** A SQLite source `file` with `schema` run on it. */
export function makeSqlite(file: string, schema: string): void {
  const db = new Database(file);
  try {
    db.exec(schema);
  } finally {
    db.close();
  }
}

export const CRM = 'sample/crm.db';
export const CSV = 'sample/newsletter.csv';

/** The crm row with this email (as stored, compared case-insensitively after trimming). */
export function crmRow(dir: string, email: string): Row | undefined {
  return sqlite(join(dir, CRM), 'SELECT * FROM members WHERE lower(trim(email)) = lower(?)', email)[0];
}

/** The newsletter CSV's records as text lines (split on CRLF; its one multi-line cell spans two). */
export function csvLines(dir: string): string[] {
  return readFileSync(join(dir, CSV), 'utf8')
    .replace(/^\uFEFF/, '')
    .split('\r\n');
}

export function writeText(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
