/** SPEC §7: groups are named rules over user fields, derived, never stored. */
import type { Rule } from './rule.js';
import type { DirectoryUser } from './user.js';

export interface Group {
  readonly name: string;
  readonly rule: Rule;
}

/** The names of the groups a user belongs to. */
export function groupsOf(user: DirectoryUser, groups: readonly Group[]): string[] {
  const record = {
    id: user.id,
    email: user.email,
    name: user.name,
    avatar: user.avatar,
    status: user.status,
    externalId: user.externalId,
    createdAt: user.createdAt,
    lastSeenAt: user.lastSeenAt,
    custom: user.custom,
  };
  return groups.filter((g) => g.rule.matches(record)).map((g) => g.name);
}
