/** `usersync connections [list|enable-two-way NAME]`. */
import type { Command } from 'commander';
import type { ConnectionConfig, LoadedConfig } from '../config.js';
import { UsersyncError } from '../core/errors.js';
import { effectiveMode } from '../sync/plan-context.js';
import { findConnection } from '../sync/sync-all.js';
import { withContext, type GlobalOptions } from './context.js';
import { formatTable, print, printJson } from './output.js';

export function registerConnections(program: Command): void {
  const connections = program.command('connections').description('the configured data sources');

  connections
    .command('list', { isDefault: true })
    .description('list connections with their mode, last run and open issues')
    .action(async (_flags: GlobalOptions, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withContext(options, async ({ store, config }) => {
        const rows = [];
        for (const c of config.connections) {
          const state = await store.getConnectionState(c.name);
          const [last] = await store.listRuns({ connection: c.name, limit: 1 });
          const open = await store.listIssues({ connection: c.name, status: 'open' });
          rows.push({
            name: c.name,
            source: c.source,
            table: c.table ?? null,
            mode: effectiveMode(c, state),
            configuredMode: c.mode,
            lastRun: last ? { status: last.status, trigger: last.trigger, startedAt: last.startedAt } : null,
            openIssues: open.length,
          });
        }
        if (options.json) return printJson({ connections: rows });
        if (rows.length === 0) return print(`No connections in ${config.file}.`);
        print(
          formatTable([
            ['name', 'source', 'mode', 'last run', 'open issues'],
            ...rows.map((r) => [
              r.name,
              r.table ? `${r.source} (${r.table})` : r.source,
              r.mode,
              r.lastRun ? `${r.lastRun.status} ${r.lastRun.startedAt.slice(0, 19)}` : 'never',
              String(r.openIssues),
            ]),
          ]),
        );
      });
    });

  connections
    .command('enable-two-way')
    .argument('<name>')
    .description('switch a one-way connection to two-way; its next sync imports the rows only the source has')
    .action(async (name: string, _flags: GlobalOptions, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      let connection: ConnectionConfig | undefined;
      const check = (config: LoadedConfig) => {
        connection = findConnection(config.connections, name);
        if (connection.mode !== 'import') return;
        throw new UsersyncError(
          'usage.invalid',
          `${name} is an import connection (its source is read-only); set mode: two-way in ${config.file} if usersync may write to it.`,
        );
      };
      await withContext(
        options,
        async ({ store, config }) => {
          if (effectiveMode(connection!, await store.getConnectionState(name)) === 'two-way') {
            if (options.json) return printJson({ connection: name, mode: 'two-way', changed: false });
            return print(`${name} is already two-way.`);
          }
          await store.setConnectionState(name, { twoWayEnabledAt: new Date().toISOString() });
          if (options.json) return printJson({ connection: name, mode: 'two-way', changed: true });
          print(
            `${name} is now two-way (recorded in the directory). Its next sync imports the rows only the source has.`,
          );
          print(
            `Run \`usersync sync ${name}\` now, or wait for the next one. You may also write mode: two-way in ${config.file}.`,
          );
        },
        check,
      );
    });
}
