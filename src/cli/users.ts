/** `usersync users list|show|add|update|delete`: app changes, pushed to the sources at once (SPEC §5 app_change). */
import type { Command } from 'commander';
import { UsersyncError } from '../core/errors.js';
import { groupsOf } from '../core/groups.js';
import { parseEmail, parseValue } from '../core/normalize.js';
import type { CustomValue, DirectoryUser, UserStatus } from '../core/user.js';
import type { AppUserPatch } from '../directory/store.js';
import { syncUserEverywhere } from '../sync/sync-user.js';
import type { SyncResult } from '../sync/sync-result.js';
import { withContext, type CliContext, type GlobalOptions } from './context.js';
import { formatTable, print, printJson } from './output.js';
import { runJson } from './sync.js';

interface UserFlags extends GlobalOptions {
  name?: string;
  avatar?: string;
  externalId?: string;
  email?: string;
  status?: string;
  custom?: string[];
  search?: string;
  limit?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerUsers(program: Command): void {
  const users = program.command('users').description('list and change the users of the directory');

  users
    .command('list')
    .description('list users with their groups')
    .option('--search <text>', 'only users whose email or name contains this')
    .option('--limit <n>', 'how many', '100')
    .action(async (_flags: UserFlags, command: Command) => {
      const options = command.optsWithGlobals<UserFlags>();
      await withContext(options, async ({ store, config }) => {
        const list = await store.listUsers({
          search: options.search,
          limit: positive(options.limit ?? '100', '--limit'),
        });
        const shown = list.map((u) => ({ ...u, groups: groupsOf(u, config.groups) }));
        if (options.json) return printJson({ users: shown });
        if (shown.length === 0)
          return print('No users yet. Run `usersync sync` to import them from your sources.');
        print(
          formatTable([
            ['email', 'name', 'status', 'groups', 'created', 'last seen', 'id'],
            ...shown.map((u) => [
              u.email,
              u.name ?? '',
              u.status,
              u.groups.join(','),
              day(u.createdAt),
              day(u.lastSeenAt),
              u.id,
            ]),
          ]),
        );
      });
    });

  users
    .command('show')
    .argument('<email>')
    .description('show one user')
    .action(async (email: string, _flags: UserFlags, command: Command) => {
      const options = command.optsWithGlobals<UserFlags>();
      await withContext(options, async ({ store, config }) => {
        const user = await requireUser(store, email);
        const shown = { ...user, groups: groupsOf(user, config.groups) };
        if (options.json) return printJson({ user: shown });
        for (const [key, value] of Object.entries(shown))
          print(
            `${key.padEnd(11)} ${value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value ?? '')}`,
          );
      });
    });

  users
    .command('add')
    .argument('<email>')
    .description('create a user and push it to every connection')
    .option('--name <name>')
    .option('--avatar <url>')
    .option('--external-id <id>', "the user's id in an outside identity platform")
    .option('--custom <key=value>', 'a custom field (repeatable)', collect)
    .action(async (email: string, _flags: UserFlags, command: Command) => {
      const options = command.optsWithGlobals<UserFlags>();
      const input = {
        email: validEmail(email),
        name: options.name ?? null,
        avatar: validAvatar(options.avatar),
        externalId: options.externalId ?? null,
        custom: withoutNulls(parseCustom(options.custom)),
      };
      await withContext(options, async (ctx) => {
        const user = await ctx.store.createUser(input);
        await pushAndReport(ctx, user, 'created', options);
      });
    });

  users
    .command('update')
    .argument('<email>')
    .description("change a user's fields and push the change to every connection")
    .option('--email <new>', 'a new email')
    .option('--name <name>', 'a new name ("" clears it)')
    .option('--avatar <url>', 'a new avatar URL ("" clears it)')
    .option('--status <status>', 'active or suspended')
    .option('--custom <key=value>', 'set a custom field; key= removes it (repeatable)', collect)
    .action(async (email: string, _flags: UserFlags, command: Command) => {
      const options = command.optsWithGlobals<UserFlags>();
      const patch = userPatch(options);
      await withContext(options, async (ctx) => {
        const user = await requireUser(ctx.store, email);
        const updated = await ctx.store.updateUser(user.id, patch);
        if (!updated) throw new UsersyncError('not_found', `The user ${email} is gone (deleted meanwhile?).`);
        await pushAndReport(ctx, updated, 'updated', options);
      });
    });

  users
    .command('delete')
    .argument('<email>')
    .description('delete a user; its rows are deleted from the sources')
    .action(async (email: string, _flags: UserFlags, command: Command) => {
      const options = command.optsWithGlobals<UserFlags>();
      await withContext(options, async (ctx) => {
        const user = await requireUser(ctx.store, email);
        const deleted = await ctx.store.deleteUser(user.id);
        await pushAndReport(ctx, deleted ?? user, 'deleted', options);
      });
    });
}

async function pushAndReport(
  ctx: CliContext,
  user: DirectoryUser,
  what: string,
  options: UserFlags,
): Promise<void> {
  const runs = await syncUserEverywhere(ctx, user.id, 'app_change');
  // A source that owns a field the change touched sets it back during the push: show the result.
  const pushed = (await ctx.store.getUser(user.id)) ?? user;
  if (options.json) return printJson({ user: pushed, runs: runs.map(runJson) });
  print(`User ${user.email} ${what}.`);
  for (const run of runs) print(`  ${run.connection}: ${pushSummary(run)}`);
}

function pushSummary(run: SyncResult): string {
  if (run.status !== 'succeeded') return `not pushed yet (${run.error}); the next sync will push it`;
  const { created, updated, deleted } = run.counts.source;
  const did = [
    created && `row created`,
    updated && `row updated`,
    deleted && `row deleted`,
    run.counts.app.updated && `user updated from the source`,
  ].filter(Boolean);
  const issues = run.issues.length ? `; ${run.issues.map((i) => i.message).join('; ')}` : '';
  return `${did.length ? did.join(', ') : 'nothing to change'}${issues}`;
}

async function requireUser(store: CliContext['store'], email: string): Promise<DirectoryUser> {
  const user = await store.findUserByEmail(email);
  if (!user)
    throw new UsersyncError('not_found', `No user has the email ${email}. See \`usersync users list\`.`);
  return user;
}

function userPatch(options: UserFlags): AppUserPatch {
  const patch: AppUserPatch = {};
  if (options.email !== undefined) patch.email = validEmail(options.email);
  if (options.name !== undefined) patch.name = options.name.trim() || null;
  if (options.avatar !== undefined) patch.avatar = validAvatar(options.avatar);
  if (options.status !== undefined) patch.status = validStatus(options.status);
  if (options.custom) patch.custom = parseCustom(options.custom);
  if (Object.keys(patch).length === 0) {
    throw new UsersyncError(
      'usage.invalid',
      'Nothing to change: give --email, --name, --avatar, --status or --custom.',
    );
  }
  return patch;
}

function validEmail(raw: string): string {
  const parsed = parseEmail(raw);
  if (!parsed.ok) throw new UsersyncError('usage.invalid', `Invalid email: ${parsed.reason}.`);
  return parsed.email;
}

function validAvatar(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const parsed = parseValue(raw, 'url');
  if (!parsed.ok) throw new UsersyncError('usage.invalid', `Invalid --avatar: ${parsed.reason}.`);
  return parsed.value;
}

function validStatus(raw: string): UserStatus {
  if (raw === 'active' || raw === 'suspended') return raw;
  throw new UsersyncError('usage.invalid', `Invalid --status "${raw}": use active or suspended.`);
}

/** `--custom plan=pro --custom seats=` → { plan: 'pro', seats: null } (null removes). */
function parseCustom(pairs: readonly string[] | undefined): Record<string, CustomValue | null> {
  const custom: Record<string, CustomValue | null> = {};
  for (const pair of pairs ?? []) {
    const match = /^([A-Za-z0-9_]+)=(.*)$/s.exec(pair);
    if (!match)
      throw new UsersyncError(
        'usage.invalid',
        `Invalid --custom "${pair}": write key=value (key: letters, digits, _).`,
      );
    custom[match[1]!] = match[2]!.trim() === '' ? null : match[2]!.trim();
  }
  return custom;
}

function withoutNulls(custom: Record<string, CustomValue | null>): Record<string, CustomValue> {
  return Object.fromEntries(Object.entries(custom).filter((e): e is [string, CustomValue] => e[1] !== null));
}

function positive(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new UsersyncError('usage.invalid', `${flag} takes a whole number ≥ 1, not "${raw}".`);
  return n;
}

function day(iso: string | null): string {
  return iso ? iso.slice(0, 10) : '';
}
