/** The sync issues the planner finds (SPEC §4), with words a user can act on. */
import type { IssueReport } from './issue.js';
import type { InvalidValue } from './merge-fields.js';
import type { FieldConflict, MassChange } from './plan.js';

const list = (keys: readonly string[]): string => keys.map((k) => `"${k}"`).join(', ');

export function duplicateEmail(
  connection: string,
  email: string,
  rows: readonly string[],
  users: readonly string[],
): IssueReport {
  return {
    kind: 'duplicate_email',
    fingerprint: `duplicate_email:${email}`,
    message: `${rows.length} rows of ${connection} have the email ${email} (rows ${list(rows)}); none of them syncs until one remains.`,
    fix: `Give each row its own email, or delete the extra rows in the source, then validate the fix.`,
    rows,
    users,
  };
}

export function rowOfLinkedUser(
  connection: string,
  email: string,
  row: string,
  linkedRow: string,
  userId: string,
): IssueReport {
  return {
    kind: 'duplicate_email',
    fingerprint: `duplicate_email:${email}`,
    message: `Row "${row}" of ${connection} has the email ${email}, whose user is already linked to row "${linkedRow}".`,
    fix: `Delete one of the two rows, or give row "${row}" another email, then validate the fix.`,
    rows: [row, linkedRow],
    users: [userId],
  };
}

export function duplicateKey(connection: string, key: string, count: number): IssueReport {
  return {
    kind: 'invalid_value',
    fingerprint: `duplicate_key:${key}`,
    message: `${count} rows of ${connection} share the key "${key}"; a key must identify one row, so none of them syncs.`,
    fix: `Make the key column unique (or choose a unique column as the connection's key), then validate the fix.`,
    rows: [key],
    users: [],
  };
}

export function invalidEmail(
  connection: string,
  key: string,
  reason: string,
  userId: string | null,
): IssueReport {
  return {
    kind: 'invalid_email',
    fingerprint: `invalid_email:${key}`,
    message: `Row "${key}" of ${connection} is skipped: ${reason}.`,
    fix: `Put a valid email address in the row's email column, then validate the fix.`,
    rows: [key],
    users: userId ? [userId] : [],
  };
}

export function invalidValue(
  connection: string,
  key: string,
  invalid: InvalidValue,
  userId: string | null,
): IssueReport {
  const { field, reason } = invalid;
  return {
    kind: 'invalid_value',
    fingerprint: `invalid_value:${key}:${field.id}`,
    message: `Row "${key}" of ${connection}: column "${field.column}" (${field.id}) is skipped: ${reason}. The rest of the row syncs.`,
    fix: `Correct the value in column "${field.column}" (or clear it), then validate the fix.`,
    rows: [key],
    users: userId ? [userId] : [],
  };
}

export function emailChanged(
  connection: string,
  key: string,
  from: string,
  to: string,
  users: readonly string[],
  taken: boolean,
): IssueReport {
  const why = taken
    ? `another user already has ${to}`
    : `usersync does not rename users from the source unless the connection sets acceptEmailChanges: true`;
  return {
    kind: 'email_changed',
    fingerprint: `email_changed:${key}`,
    message: `The email of row "${key}" of ${connection} changed from ${from} to ${to}; the row is not synced because ${why}.`,
    fix: `Put ${from} back in the row, or change the user's email in the app to ${to}, then validate the fix.`,
    rows: [key],
    users,
  };
}

export function emailOnOtherUsersRow(
  connection: string,
  key: string,
  email: string,
  linkedUser: string,
  owner: string,
): IssueReport {
  return {
    kind: 'duplicate_email',
    fingerprint: `duplicate_email:${email}`,
    message: `Row "${key}" of ${connection} has the email ${email}, which now belongs to another user, but it is linked to the user who had that email before; the other user gets no row.`,
    fix: `Change the row's email to its user's current email, or change one of the users' emails in the app, then validate the fix.`,
    rows: [key],
    users: [linkedUser, owner],
  };
}

export function rowOutsideFilter(connection: string, userId: string, email: string): IssueReport {
  return {
    kind: 'write_failed',
    fingerprint: `write_failed:${userId}`,
    message: `No row was created in ${connection} for ${email}: a new row would not match the connection's filter, so it would not count as a user.`,
    fix: `Add a row for ${email} that matches the filter by hand, write the filter as equalities (e.g. status eq "approved") so usersync can fill them in, or set createInSource: false.`,
    rows: [],
    users: [userId],
  };
}

export function conflict(connection: string, c: FieldConflict): IssueReport {
  return {
    kind: 'conflict',
    fingerprint: `conflict:${c.key}:${c.field}`,
    message: `${c.field} of row "${c.key}" of ${connection} changed on both sides (app: ${show(c.app)}, source: ${show(c.source)}); the ${c.winner} value was kept.`,
    fix: `Nothing to do if the ${c.winner} value is right; otherwise edit it on either side. The connection's conflict policy chooses the winner.`,
    rows: [c.key],
    users: [c.userId],
  };
}

export function massChange(connection: string, m: MassChange, maxChange: number): IssueReport {
  const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;
  return {
    kind: 'mass_change',
    fingerprint: 'mass_change',
    message: `This sync of ${connection} would change ${m.changed} of ${m.total} users (${pct(m.share)}), more than the allowed ${pct(maxChange)}; nothing was applied.`,
    fix: `Check the source (a truncated table or a bulk edit?). If the change is intended, approve it with \`usersync sync ${connection} --approve-mass-change\`, or raise maxChange.`,
    rows: [],
    users: [],
  };
}

function show(value: string | null): string {
  return value === null ? 'empty' : `"${value}"`;
}
