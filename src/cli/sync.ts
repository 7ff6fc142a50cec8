/** `usersync sync [NAME]` and `usersync plan [NAME]` (SPEC appendix B). */
import type { Command } from 'commander';
import type { PlanAction } from '../core/plan.js';
import { findConnection, syncConnections } from '../sync/sync-all.js';
import type { SyncProgress, SyncResult } from '../sync/sync-result.js';
import { withContext, type GlobalOptions } from './context.js';
import { EXIT } from './exit-codes.js';
import { formatTable, print, printJson, progressLine } from './output.js';

interface SyncFlags extends GlobalOptions {
  dryRun?: boolean;
  full?: boolean;
  approveMassChange?: boolean;
}

export function registerSync(program: Command): void {
  program
    .command('sync')
    .description('sync one connection, or all of them, with the directory')
    .argument('[name]', 'the connection to sync (default: all)')
    .option('--dry-run', 'report what would change, change nothing')
    .option('--full', 'read every row even where a cursor allows an incremental sync (finds deleted rows)')
    .option('--approve-mass-change', 'apply a run even if it changes more users than maxChange allows')
    .action(async (name: string | undefined, flags: SyncFlags, command: Command) => {
      const options = { ...command.optsWithGlobals<SyncFlags>(), ...flags };
      const results = await runSync(name, options);
      if (options.json) printJson({ runs: results.map(runJson) });
      else printSummary(results);
      reportFailures(results);
      process.exitCode = results.some((r) => r.status === 'failed' || r.status === 'skipped')
        ? EXIT.runFailed
        : EXIT.ok;
    });

  program
    .command('plan')
    .description('print what a sync would do, row by row, without changing anything')
    .argument('[name]', 'the connection (default: all)')
    .action(async (name: string | undefined, _flags: unknown, command: Command) => {
      const options = command.optsWithGlobals<SyncFlags>();
      const results = await runSync(name, { ...options, dryRun: true });
      if (options.json)
        printJson({ runs: results.map((r) => ({ ...runJson(r), actions: r.plan?.actions ?? [] })) });
      else for (const result of results) printPlan(result);
      process.exitCode = results.some((r) => r.status === 'failed') ? EXIT.runFailed : EXIT.ok;
    });
}

async function runSync(name: string | undefined, options: SyncFlags): Promise<SyncResult[]> {
  const progress = progressLine();
  try {
    return await withContext(
      options,
      (ctx) =>
        syncConnections(ctx, name ? [name] : undefined, {
          trigger: 'manual',
          dryRun: options.dryRun,
          full: options.full,
          approveMassChange: options.approveMassChange,
          onProgress: (event) => progress.update(describeProgress(event)),
        }),
      (config) => name && findConnection(config.connections, name),
    );
  } finally {
    progress.done();
  }
}

function describeProgress(event: SyncProgress): string {
  if (event.phase === 'read') return `${event.connection}: read ${event.rows} rows…`;
  if (event.phase === 'plan') return `${event.connection}: planned ${event.actions} changes…`;
  return `${event.connection}: applied ${event.done}/${event.total}…`;
}

/** Appendix B's JSON shape for a run (more keys allowed). */
export function runJson(r: SyncResult) {
  return {
    connection: r.connection,
    status: r.status,
    trigger: r.trigger,
    dryRun: r.dryRun,
    scope: r.scope,
    runId: r.runId,
    app: r.counts.app,
    source: r.counts.source,
    unchanged: r.counts.unchanged,
    skipped: r.counts.skipped,
    stale: r.counts.stale,
    conflicts: r.counts.conflicts,
    issues: r.issues.map((i) => ({ kind: i.kind, message: i.message, fix: i.fix, rows: i.rows })),
    error: r.error,
    durationMs: r.durationMs,
  };
}

function printSummary(results: readonly SyncResult[]): void {
  const side = (c: { created: number; updated: number; deleted: number }) =>
    `+${c.created} ~${c.updated} -${c.deleted}`;
  print(
    formatTable([
      ['connection', 'trigger', 'status', 'app', 'source', 'unchanged', 'issues', 'time'],
      ...results.map((r) => [
        r.connection,
        r.trigger,
        r.dryRun ? `${r.status} (dry run)` : r.status,
        side(r.counts.app),
        side(r.counts.source),
        String(r.counts.unchanged),
        String(r.issues.length),
        `${r.durationMs} ms`,
      ]),
    ]),
  );
  // A connection that ran twice (a hub follow-up) saw its issues twice: show each once.
  const unique = new Map(
    results.flatMap((r) => r.issues.map((i) => [`${r.connection}\0${i.fingerprint}`, i] as const)),
  );
  const issues = [...unique.values()];
  if (issues.length === 0) return;
  print();
  print(`${issues.length} issue${issues.length === 1 ? '' : 's'}:`);
  for (const issue of issues.slice(0, 20))
    print(`  ${issue.kind.padEnd(17)} ${issue.message}\n  ${' '.repeat(17)} → ${issue.fix}`);
  if (issues.length > 20) print(`  … and ${issues.length - 20} more.`);
  print('See them with `usersync issues list`; `usersync issues validate NAME` re-checks after a fix.');
}

/** Failed runs also go to stderr, so a script that shows only errors sees them. */
function reportFailures(results: readonly SyncResult[]): void {
  for (const r of results) {
    if (r.status === 'failed' || r.status === 'skipped')
      process.stderr.write(`usersync: ${r.connection}: ${r.error}\n`);
  }
}

function printPlan(result: SyncResult): void {
  print(`${result.connection}: ${result.status}${result.error ? ` — ${result.error}` : ''}`);
  for (const action of result.plan?.actions ?? []) print(`  ${describeAction(action)}`);
  for (const issue of result.issues) print(`  ! ${issue.kind}: ${issue.message}`);
  if (result.plan)
    print(
      `  ${result.plan.actions.length} changes, ${result.plan.unchanged} unchanged, ${result.plan.skipped} skipped`,
    );
}

export function describeAction(action: PlanAction): string {
  switch (action.type) {
    case 'import':
      return `+ user ${action.user.email} from row ${action.key}${action.writeBack ? ` (write back ${Object.keys(action.writeBack.set).join(', ')})` : ''}`;
    case 'export':
      return `+ row for user ${action.link.sourceEmail} (${action.userId})`;
    case 'recreate':
      return `+ row for user ${action.userId} again (row ${action.oldKey} was deleted in the source)`;
    case 'update': {
      const parts = [];
      if (action.appPatch) parts.push(`user ← ${Object.keys(action.appPatch).join(', ')}`);
      if (action.sourceWrite) parts.push(`row ← ${Object.keys(action.sourceWrite.set).join(', ')}`);
      if (parts.length === 0) parts.push('link only');
      return `~ row ${action.key} / user ${action.userId}: ${parts.join('; ')}`;
    }
    case 'deleteRow':
      return `- row ${action.key} (its user was deleted in the app)`;
    case 'unlink':
      return `- link to row ${action.key} (deleted on both sides)`;
  }
}
