/**
 * `usersync serve` (HTTP API, and on SQLite the syncs too) and `usersync worker` (syncs
 * queued on a PostgreSQL directory). Both log JSON lines to stdout and stop gracefully on
 * SIGTERM or SIGINT: no new work, the work in progress finished, then exit.
 */
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { loadConfig } from '../config.js';
import { UsersyncError } from '../core/errors.js';
import type { ServerSettings } from '../server/app.js';
import type { GlobalOptions } from './context.js';

// The server's modules (Fastify, pg-boss, prom-client …) are loaded only by the commands
// that run it: every other command, a sync included, starts without paying for them.
const serverModules = async () => {
  const [{ pino }, app, { Runtime }] = await Promise.all([
    import('pino'),
    import('../server/app.js'),
    import('../services/runtime.js'),
  ]);
  return { pino, buildServer: app.buildServer, defaults: app.DEFAULT_SETTINGS, Runtime };
};

export const DEFAULT_PORT = 8080;

interface ServeFlags extends GlobalOptions {
  port?: string;
  host?: string;
  jobs?: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      `run the HTTP API (default http://127.0.0.1:${DEFAULT_PORT}); on SQLite it also runs the syncs`,
    )
    .option('--port <port>', `port to listen on (default $PORT, else ${DEFAULT_PORT}; 0 picks a free one)`)
    .option('--host <host>', 'address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)')
    .option(
      '--no-jobs',
      'PostgreSQL directory: leave queued syncs and schedules to `usersync worker` processes',
    )
    .action(async (_flags: ServeFlags, command: Command) => {
      const options = command.optsWithGlobals<ServeFlags>();
      const port = parsePort(options.port ?? process.env.PORT ?? String(DEFAULT_PORT));
      const config = await loadConfig({ path: options.config });
      const { pino, buildServer, defaults, Runtime } = await serverModules();
      const logger = makeLogger(pino);
      const postgres = !config.directory.startsWith('sqlite:');
      if (!postgres && options.jobs === false)
        throw new UsersyncError(
          'usage.invalid',
          '--no-jobs needs a PostgreSQL directory: on SQLite, only the server can run syncs.',
        );
      const runtime = await Runtime.open(config, { logger, runJobs: options.jobs !== false });
      const { app, startClosing } = await buildServer(runtime, serverSettings(defaults), logger);
      const address = await app.listen({ port, host: options.host ?? '127.0.0.1' });
      const bound = app.server.address();
      logger.info(
        {
          url: address,
          port: typeof bound === 'object' && bound ? bound.port : port,
          directory: runtime.store.dialect,
          queue: runtime.queue.kind,
          runsJobs: options.jobs !== false,
        },
        'usersync server listening',
      );
      await untilSignal(logger);
      startClosing();
      await app.close();
      await runtime.close();
      logger.info({}, 'usersync server stopped');
    });

  program
    .command('worker')
    .description('run queued syncs and schedules (PostgreSQL directory; start as many as you like)')
    .action(async (_flags: GlobalOptions, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const config = await loadConfig({ path: options.config });
      if (config.directory.startsWith('sqlite:'))
        throw new UsersyncError(
          'usage.invalid',
          'A worker needs a PostgreSQL directory (directory: postgres://…) to share work with other processes. On SQLite, `usersync serve` runs the syncs itself.',
        );
      const { pino, Runtime } = await serverModules();
      const logger = makeLogger(pino);
      const runtime = await Runtime.open(config, { logger, runJobs: true });
      logger.info({ queue: runtime.queue.kind }, 'usersync worker started');
      await untilSignal(logger);
      await runtime.close();
      logger.info({}, 'usersync worker stopped');
    });
}

function makeLogger(pino: typeof import('pino').pino): Logger {
  return pino({ level: process.env.USERSYNC_LOG_LEVEL ?? 'info', base: { pid: process.pid } });
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsersyncError('usage.invalid', `Invalid port "${raw}": use a number from 0 to 65535.`);
  return port;
}

function serverSettings(defaults: ServerSettings): ServerSettings {
  const ms = (name: string, fallback: number) => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0)
      throw new UsersyncError('config.invalid', `${name} must be a number of milliseconds, not "${raw}".`);
    return value;
  };
  return {
    loginBudgetMs: ms('USERSYNC_LOGIN_BUDGET_MS', defaults.loginBudgetMs),
    pushBudgetMs: ms('USERSYNC_PUSH_BUDGET_MS', defaults.pushBudgetMs),
    usersTabMaxAgeMs: ms('USERSYNC_USERS_TAB_MAX_AGE_MS', defaults.usersTabMaxAgeMs),
  };
}

function untilSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'stopping: finishing the work in progress');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
