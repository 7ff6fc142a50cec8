/**
 * Starts real `usersync serve` / `usersync worker` processes (bin/usersync.js, dist/) and
 * talks to them over HTTP, as an app would. Each process is stopped after the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { BIN, usersyncJson, type CliEnv } from './cli.js';

export interface LogLine {
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface UsersyncProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  /** Resolves with the first log line that satisfies `test`, or rejects after `timeoutMs`. */
  waitForLog(test: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

export interface ServerProcess extends UsersyncProcess {
  readonly url: string;
  /** Sends a request; `key: null` sends none. The body, when given, is sent as JSON. */
  request(
    method: string,
    path: string,
    options?: { body?: unknown; key?: string | null; headers?: Record<string, string> },
  ): Promise<ApiResponse>;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read what they assert
  readonly headers: Headers;
}

const started: UsersyncProcess[] = [];
afterEach(async () => {
  for (const process of started.splice(0)) await process.stop();
});

/** Starts `usersync ARGS…` in `cwd` and follows its JSON log lines. */
export function startUsersync(cwd: string, args: readonly string[], env: CliEnv = {}): UsersyncProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, USERSYNC_CONFIG: undefined, ...env };
  for (const [key, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[key];
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters = new Set<{ test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let stderr = '';
  let buffer = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      logs.push(line);
      for (const waiter of waiters) if (waiter.test(line)) waiter.resolve(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc: UsersyncProcess = {
    child,
    logs,
    waitForLog(test, timeoutMs = 15_000) {
      const seen = logs.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          test,
          resolve: (line: LogLine) => (clearTimeout(timer), waiters.delete(waiter), resolve(line)),
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `usersync ${args.join(' ')}: no matching log line in ${timeoutMs} ms.\nlogs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${stderr}`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((code) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(
            new Error(
              `usersync ${args.join(' ')} exited ${code} before the expected log line.\nstderr: ${stderr}`,
            ),
          );
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  started.push(proc);
  return proc;
}

/** Starts `usersync serve --port 0` and waits until it listens. */
export async function startServer(
  cwd: string,
  args: readonly string[] = [],
  env: CliEnv = {},
): Promise<ServerProcess> {
  const proc = startUsersync(cwd, ['serve', '--port', '0', ...args], env);
  const listening = await proc.waitForLog((line) => line.msg === 'usersync server listening');
  const url = `http://127.0.0.1:${String(listening.port)}`;
  return {
    ...proc,
    url,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.key) headers.authorization = `Bearer ${options.key}`;
      if (options.body !== undefined) headers['content-type'] ??= 'application/json';
      const response = await fetch(url + path, {
        method,
        headers,
        ...(options.body === undefined
          ? {}
          : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = text === '' ? null : JSON.parse(text);
      } catch {
        // not JSON (metrics, event streams): the text itself
      }
      return { status: response.status, body, headers: response.headers };
    },
  };
}

/** Creates an API key through the CLI (as the README says) and returns it. */
export async function createApiKey(cwd: string, name = 'test', env: CliEnv = {}): Promise<string> {
  const created = await usersyncJson<{ key: string }>(cwd, ['api-keys', 'create', name], { env });
  return created.key;
}

/** Polls `check` until it returns a value other than undefined (or fails after `timeoutMs`). */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
