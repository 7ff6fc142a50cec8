import { isAbsolute, resolve } from 'node:path';
import { UsersyncError } from '../core/errors.js';

/** A file named by a `source:` value: as the user wrote it (for messages) and resolved. */
export interface SourceFile {
  /** As written after the scheme, e.g. `./crm.db`. */
  readonly given: string;
  /** Absolute, resolved against the config file's folder. */
  readonly path: string;
}

/**
 * The file of a `scheme:PATH` source. `scheme://PATH` is accepted too because people
 * write URLs by habit: `sqlite://data/crm.db` is relative, `sqlite:///srv/crm.db` absolute.
 */
export function sourceFile(source: string, scheme: string, baseDir: string): SourceFile {
  if (!source.toLowerCase().startsWith(scheme)) {
    throw new UsersyncError('config.invalid', `The source "${source}" does not start with "${scheme}".`);
  }
  let given = source.slice(scheme.length);
  if (given.startsWith('//')) given = given.slice(2);
  if (given.trim() === '') {
    throw new UsersyncError(
      'config.invalid',
      `The source "${source}" names no file. Write it as ${scheme}PATH, e.g. ${scheme}./users${scheme === 'csv:' ? '.csv' : '.db'}.`,
    );
  }
  return { given, path: isAbsolute(given) ? given : resolve(baseDir, given) };
}
