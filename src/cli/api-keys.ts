/** `usersync api-keys create NAME | list | revoke NAME`: the keys of the admin API (SPEC §9). */
import type { Command } from 'commander';
import { UsersyncError } from '../core/errors.js';
import { issueApiKey } from '../services/api-keys.js';
import { withContext, type GlobalOptions } from './context.js';
import { formatTable, print, printJson } from './output.js';

export function registerApiKeys(program: Command): void {
  const keys = program.command('api-keys').description('create, list and revoke API keys for the HTTP API');

  keys
    .command('create')
    .argument('<name>', 'what the key is for, e.g. "admin-ui" or "billing-app"')
    .description('create a key; it is shown once, only its hash is stored')
    .action(async (name: string, _flags: GlobalOptions, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withContext(options, async ({ store }) => {
        const { key, record } = await issueApiKey(store, name);
        if (options.json) return printJson({ key, ...record });
        print(`API key "${name}" created. Copy it now: it is not shown again.\n`);
        print(`  ${key}\n`);
        print(
          'Send it as `Authorization: Bearer <key>`. Revoke it with `usersync api-keys revoke ' +
            JSON.stringify(name) +
            '`.',
        );
      });
    });

  keys
    .command('list')
    .description('list keys (never the keys themselves)')
    .action(async (_flags: GlobalOptions, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withContext(options, async ({ store }) => {
        const all = await store.listApiKeys();
        if (options.json) return printJson({ keys: all });
        if (all.length === 0)
          return print('No API keys yet. Create one with `usersync api-keys create NAME`.');
        print(
          formatTable([
            ['name', 'starts with', 'created', 'last used', 'revoked'],
            ...all.map((k) => [
              k.name,
              `${k.prefix}…`,
              k.createdAt.slice(0, 19),
              k.lastUsedAt?.slice(0, 19) ?? 'never',
              k.revokedAt?.slice(0, 19) ?? '',
            ]),
          ]),
        );
      });
    });

  keys
    .command('revoke')
    .argument('<name>', "the key's name (or id)")
    .description('revoke a key: requests with it are refused from now on')
    .action(async (name: string, _flags: GlobalOptions, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withContext(options, async ({ store }) => {
        const revoked = await store.revokeApiKey(name);
        if (!revoked)
          throw new UsersyncError(
            'not_found',
            `No live API key is named "${name}". See \`usersync api-keys list\`.`,
          );
        if (options.json) return printJson({ revoked });
        print(`API key "${revoked.name}" revoked.`);
      });
    });
}
