/** `usersync issues [list|show ID|validate NAME]` (SPEC §4). */
import type { Command } from 'commander';
import { UsersyncError } from '../core/errors.js';
import { findConnection, syncConnections } from '../sync/sync-all.js';
import { withContext, type GlobalOptions } from './context.js';
import { EXIT } from './exit-codes.js';
import { formatTable, print, printJson } from './output.js';
import { runJson } from './sync.js';

interface IssueFlags extends GlobalOptions {
  connection?: string;
  all?: boolean;
}

export function registerIssues(program: Command): void {
  const issues = program
    .command('issues')
    .description('sync issues: what stops rows from syncing, and how to fix it');

  const list = async (options: IssueFlags) =>
    withContext(options, async ({ store }) => {
      const found = await store.listIssues({
        connection: options.connection,
        status: options.all ? undefined : 'open',
      });
      if (options.json) return printJson({ issues: found });
      if (found.length === 0) return print(options.all ? 'No issues.' : 'No open issues.');
      print(
        formatTable([
          ['id', 'connection', 'kind', 'status', 'last seen', 'message'],
          ...found.map((i) => [
            i.id.slice(0, 8),
            i.connection,
            i.kind,
            i.status,
            i.lastSeenAt.slice(0, 19),
            i.message,
          ]),
        ]),
      );
      print(
        '\n`usersync issues show ID` gives the details and how to fix; `usersync issues validate NAME` re-checks.',
      );
    });

  issues
    .command('list', { isDefault: true })
    .description('list open issues')
    .option('--connection <name>', 'only this connection')
    .option('--all', 'include resolved issues')
    .action(async (_flags: IssueFlags, command: Command) => list(command.optsWithGlobals<IssueFlags>()));

  issues
    .command('show')
    .argument('<id>', 'the issue id (or its first characters)')
    .description('an issue in full: what is wrong, the rows and users, how to fix it')
    .action(async (id: string, _flags: IssueFlags, command: Command) => {
      const options = command.optsWithGlobals<IssueFlags>();
      await withContext(options, async ({ store }) => {
        const issue = (await store.getIssue(id)) ?? (await findByPrefix(store, id));
        if (options.json) return printJson({ issue });
        print(`${issue.kind} on ${issue.connection} (${issue.status})`);
        print(`  ${issue.message}`);
        print(`  How to fix: ${issue.fix}`);
        if (issue.rows.length) print(`  Rows: ${issue.rows.join(', ')}`);
        if (issue.users.length) print(`  Users: ${issue.users.join(', ')}`);
        print(
          `  First seen ${issue.firstSeenAt}, last seen ${issue.lastSeenAt}${issue.resolvedAt ? `, resolved ${issue.resolvedAt}` : ''}`,
        );
        print(`  id ${issue.id}`);
      });
    });

  issues
    .command('validate')
    .argument('<name>', 'the connection')
    .description('validate a fix: sync the connection now; issues that no longer occur are resolved')
    .action(async (name: string, _flags: IssueFlags, command: Command) => {
      const options = command.optsWithGlobals<IssueFlags>();
      await withContext(
        options,
        async (ctx) => {
          const results = await syncConnections(ctx, [name], { trigger: 'validate_fix' });
          const open = await ctx.store.listIssues({ connection: name, status: 'open' });
          const first = results[0]!;
          if (options.json) printJson({ runs: results.map(runJson), open });
          else {
            print(
              `${name}: ${first.status}; ${first.resolved} issue(s) resolved, ${open.length} still open.`,
            );
            for (const issue of open) print(`  ${issue.kind.padEnd(17)} ${issue.message}`);
          }
          process.exitCode = results.some((r) => r.status === 'failed' || r.status === 'skipped')
            ? EXIT.runFailed
            : EXIT.ok;
        },
        (config) => findConnection(config.connections, name),
      );
    });
}

async function findByPrefix(store: import('../directory/store.js').DirectoryStore, prefix: string) {
  const matches = (await store.listIssues()).filter((i) => i.id.startsWith(prefix));
  if (matches.length === 1) return matches[0]!;
  const why = matches.length === 0 ? 'No issue has the id' : 'Several issues start with';
  throw new UsersyncError('not_found', `${why} "${prefix}". See \`usersync issues list --all\`.`);
}
