/**
 * The field-level merge of one user with one row (SPEC §3): owners, the baseline
 * three-way merge, and the conflict policy.
 */
import type { MappedField, Owner } from './fields.js';
import type { Baseline } from './link.js';
import { parseValue, type Canonical, type Parsed } from './normalize.js';
import type { ConflictPolicy, SyncMode } from './plan.js';
import { appCanonical, appValue, patchFromSource } from './user-values.js';
import type { DirectoryUser, UserPatch } from './user.js';

export interface InvalidValue {
  readonly field: MappedField;
  readonly raw: unknown;
  readonly reason: string;
}

export interface MergeConflict {
  readonly field: string;
  readonly app: Canonical;
  readonly source: Canonical;
  readonly winner: ConflictPolicy;
}

export interface FieldMerge {
  readonly appPatch: UserPatch;
  /** Column → value to write to the row. */
  readonly sourceSet: Record<string, unknown>;
  readonly baseline: Record<string, Canonical>;
  readonly conflicts: MergeConflict[];
  readonly invalid: InvalidValue[];
}

export interface MergeOptions {
  readonly mode: SyncMode;
  readonly conflict: ConflictPolicy;
}

type Side = 'app' | 'source' | 'none';

/**
 * Merges every mapped field. `baseline` is null for a pair that was never linked
 * (first match by email): then no side "changed", and an empty side takes the other's value.
 * `parsed`, when given, holds each field's value in the row as `parseValue` reads it
 * (an import has just read them to make the user).
 */
export function mergeFields(
  options: MergeOptions,
  fields: readonly MappedField[],
  user: DirectoryUser,
  row: Readonly<Record<string, unknown>>,
  baseline: Baseline | null,
  parsedRow?: readonly Parsed[],
): FieldMerge {
  const merge: FieldMerge = { appPatch: {}, sourceSet: {}, baseline: {}, conflicts: [], invalid: [] };
  const canWrite = options.mode !== 'import';
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    const raw = row[field.column];
    const parsed = parsedRow?.[i] ?? parseValue(raw, field.kind);
    if (!parsed.ok) {
      const owner = effectiveOwner(field.owner, options.mode);
      if (owner === 'app') {
        // The source's value is never read into the app: overwrite it like any source edit
        // (SPEC §3, app-owned fields); a read-only source keeps it and nobody needs it.
        if (canWrite) merge.sourceSet[field.column] = appValue(user, field.id);
        merge.baseline[field.id] = appCanonical(user, field);
        continue;
      }
      // SPEC §3: that field is skipped, the rest of the row syncs.
      merge.invalid.push({ field, raw, reason: parsed.reason });
      const previous = baseline?.[field.id];
      if (previous !== undefined) merge.baseline[field.id] = previous;
      continue;
    }
    const s = parsed.value;
    const a = appCanonical(user, field);
    const winner =
      a === s
        ? 'none'
        : decide(options, effectiveOwner(field.owner, options.mode), a, s, baseline?.[field.id], (w) =>
            merge.conflicts.push({ field: field.id, app: a, source: s, winner: w }),
          );
    if (winner === 'source') {
      patchFromSource(merge.appPatch, field, raw, s);
      merge.baseline[field.id] = s;
    } else if (winner === 'app' && canWrite) {
      merge.sourceSet[field.column] = appValue(user, field.id);
      merge.baseline[field.id] = a;
    } else {
      // Agreed, or the app's value wins but the source is read-only: the source's value is what both last saw.
      merge.baseline[field.id] = s;
    }
  }
  return merge;
}

/** SPEC §2: in one-way mode the app is the authority for every mapped field. */
function effectiveOwner(owner: Owner, mode: SyncMode): Owner {
  return mode === 'one-way' ? 'app' : owner;
}

/** Which side's value wins for a field whose two values differ. */
function decide(
  options: MergeOptions,
  owner: Owner,
  a: Canonical,
  s: Canonical,
  b: Canonical | undefined,
  onConflict: (winner: ConflictPolicy) => void,
): Side {
  if (owner === 'app') return 'app';
  if (owner === 'source') return 'source';
  if (b === undefined) {
    // Never agreed before: fill the empty side; two different values are a conflict.
    if (a === null) return 'source';
    if (s === null) return 'app';
  } else {
    if (a === b) return 'source';
    if (s === b) return 'app';
  }
  onConflict(options.conflict);
  return options.conflict;
}
