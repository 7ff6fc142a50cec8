/** How the API shows a user: its fields and the groups it is in (SPEC §7). */
import type { GroupConfig } from '../config.js';
import { groupsOf } from '../core/groups.js';
import type { DirectoryUser } from '../core/user.js';

export function userView(user: DirectoryUser, groups: readonly GroupConfig[]) {
  return { ...user, custom: { ...user.custom }, groups: groupsOf(user, groups) };
}
