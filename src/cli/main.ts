/** The `usersync` command line (SPEC §9 and appendix B). */
import { Command, CommanderError } from 'commander';
import { isUsersyncError } from '../core/errors.js';
import { registerApiKeys } from './api-keys.js';
import { registerConnections } from './connections.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { registerInit } from './init.js';
import { registerIssues } from './issues.js';
import { registerServe } from './serve.js';
import { registerSync } from './sync.js';
import { registerUsers } from './users.js';

export function buildProgram(): Command {
  const program = new Command('usersync')
    .description("Keep your app's user directory and your data sources in two-way sync.")
    .option('-c, --config <file>', 'config file (default: $USERSYNC_CONFIG, else ./usersync.yaml)')
    .option('--json', 'print machine-readable JSON')
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      '\nExit codes: 0 every run finished (even with issues), 1 a run failed, 2 bad usage, config or input.',
    );
  registerInit(program);
  registerSync(program);
  registerUsers(program);
  registerIssues(program);
  registerConnections(program);
  registerServe(program);
  registerApiKeys(program);
  return program;
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  process.exitCode = EXIT.ok;
  try {
    await buildProgram().parseAsync(argv as string[]);
    return Number(process.exitCode ?? EXIT.ok);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version "errors" exit 0; the others were already printed by commander.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (isUsersyncError(error)) {
      process.stderr.write(`usersync: ${error.message}\n`);
      return exitCodeFor(error.code);
    }
    process.stderr.write(
      `usersync: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT.runFailed;
  }
}
