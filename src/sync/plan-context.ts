import type { ConnectionConfig } from '../config.js';
import type { Mapping } from '../core/fields.js';
import { equalityDefaults } from '../core/rule.js';
import type { PlanContext, SyncMode } from '../core/plan.js';
import type { ConnectionState } from '../directory/store.js';
import { newUserId } from '../directory/user-id.js';

/** SPEC §2: a one-way connection switched to two-way by an explicit action. */
export function effectiveMode(connection: ConnectionConfig, state: ConnectionState): SyncMode {
  return connection.mode === 'one-way' && state.twoWayEnabledAt !== null ? 'two-way' : connection.mode;
}

export function mappingOf(connection: ConnectionConfig, keyColumn: string): Mapping {
  return { emailColumn: connection.emailColumn, keyColumn, fields: connection.fields };
}

export function planContext(
  connection: ConnectionConfig,
  options: {
    mode: SyncMode;
    keyColumn: string;
    totalUsers: number;
    approveMassChange: boolean;
    suspendedElsewhere: ReadonlySet<string>;
  },
): PlanContext {
  const filter = connection.filter;
  return {
    connection: connection.name,
    mode: options.mode,
    conflict: connection.conflict,
    mapping: mappingOf(connection, options.keyColumn),
    filter: filter ? (values) => filter.matches(values) : null,
    suspendedElsewhere: options.suspendedElsewhere,
    createDefaults: (filter && equalityDefaults(filter)) ?? {},
    createInSource: connection.createInSource,
    acceptEmailChanges: connection.acceptEmailChanges,
    maxChange: connection.maxChange,
    allowMassChange: options.approveMassChange,
    totalUsers: options.totalUsers,
    now: new Date().toISOString(),
    newUserId,
  };
}
