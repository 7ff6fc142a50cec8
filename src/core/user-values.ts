/**
 * Reading a directory user's fields by field id, in canonical form (to compare) and in
 * native form (to write to a source), and turning source values into user changes.
 */
import { customKey, type FieldId, type MappedField } from './fields.js';
import { parseValue, type Canonical } from './normalize.js';
import type { CustomValue, DirectoryUser, UserPatch } from './user.js';

/** The user's value for a field as it would be written to a source. */
export function appValue(user: DirectoryUser, id: FieldId): unknown {
  const key = customKey(id);
  if (key !== null) return user.custom[key] ?? null;
  switch (id) {
    case 'userId':
      return user.id;
    case 'name':
      return user.name;
    case 'avatar':
      return user.avatar;
    case 'createdAt':
      return user.createdAt;
    case 'lastSeenAt':
      return user.lastSeenAt;
    case 'magicLink':
      return user.magicLink;
    case 'externalId':
      return user.externalId;
  }
  return null;
}

/** The user's value for a field in canonical form. */
export function appCanonical(user: DirectoryUser, field: MappedField): Canonical {
  const raw = appValue(user, field.id);
  const parsed = parseValue(raw, field.kind);
  // The directory validated it on the way in; if it somehow can't be read, compare it as text.
  return parsed.ok ? parsed.value : String(raw);
}

/** A custom value as stored in the directory: the source's scalar, with text trimmed. */
export function customFromRaw(raw: unknown, canonical: Canonical): CustomValue | null {
  if (canonical === null) return null;
  if (typeof raw === 'number' || typeof raw === 'boolean') return raw;
  return canonical;
}

/** Adds "set this field to the source's value" to a user patch. Only source-writable fields. */
export function patchFromSource(patch: UserPatch, field: MappedField, raw: unknown, value: Canonical): void {
  const key = customKey(field.id);
  if (key !== null) {
    patch.custom = { ...patch.custom, [key]: customFromRaw(raw, value) };
    return;
  }
  if (field.id === 'name') patch.name = value;
  else if (field.id === 'avatar') patch.avatar = value;
}

export function isEmptyPatch(patch: UserPatch): boolean {
  return Object.keys(patch).length === 0;
}
