/**
 * The directory fields a connection can map to source columns (SPEC §1 and appendix A),
 * with their value kinds and default owners.
 */
export type Owner = 'app' | 'source' | 'both';

/** How a value is read, compared and written. */
export type FieldKind = 'text' | 'url' | 'date' | 'custom';

export type StandardField =
  'name' | 'avatar' | 'createdAt' | 'lastSeenAt' | 'magicLink' | 'userId' | 'externalId';

/** `custom.<key>` for custom fields. */
export type FieldId = StandardField | `custom.${string}`;

interface StandardFieldSpec {
  readonly kind: FieldKind;
  readonly defaultOwner: Owner;
  /** Owners a config may choose; the first is the default. */
  readonly owners: readonly Owner[];
}

export const STANDARD_FIELDS: Readonly<Record<StandardField, StandardFieldSpec>> = {
  name: { kind: 'text', defaultOwner: 'both', owners: ['both', 'app', 'source'] },
  avatar: { kind: 'url', defaultOwner: 'both', owners: ['both', 'app', 'source'] },
  createdAt: { kind: 'date', defaultOwner: 'app', owners: ['app'] },
  lastSeenAt: { kind: 'date', defaultOwner: 'app', owners: ['app'] },
  magicLink: { kind: 'url', defaultOwner: 'app', owners: ['app'] },
  userId: { kind: 'text', defaultOwner: 'app', owners: ['app'] },
  externalId: { kind: 'text', defaultOwner: 'app', owners: ['app'] },
};

export const CUSTOM_OWNERS: readonly Owner[] = ['source', 'both', 'app'];

export function isStandardField(name: string): name is StandardField {
  return Object.hasOwn(STANDARD_FIELDS, name);
}

/** One directory field mapped to one source column. */
export interface MappedField {
  readonly id: FieldId;
  readonly column: string;
  readonly owner: Owner;
  readonly kind: FieldKind;
}

/** A connection's mapping, resolved and validated. */
export interface Mapping {
  readonly emailColumn: string;
  /** The column that identifies a row. */
  readonly keyColumn: string;
  readonly fields: readonly MappedField[];
}

export function customKey(id: FieldId): string | null {
  return id.startsWith('custom.') ? id.slice('custom.'.length) : null;
}

const columnsOf = new WeakMap<Mapping, readonly string[]>();

/** Every source column the mapping reads (email and key first). Asked once per row planned: kept. */
export function mappedColumns(mapping: Mapping): readonly string[] {
  let columns = columnsOf.get(mapping);
  if (columns === undefined) {
    columns = [...new Set([mapping.keyColumn, mapping.emailColumn, ...mapping.fields.map((f) => f.column)])];
    columnsOf.set(mapping, columns);
  }
  return columns;
}
