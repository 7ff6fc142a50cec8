import type { Canonical } from './normalize.js';

/** Field id → the canonical value both sides agreed on at the last successful sync. */
export type Baseline = Readonly<Record<string, Canonical>>;

/** SPEC §1: a (connection, user) pair: the row's key and the baseline. */
export interface LinkState {
  readonly userId: string;
  readonly key: string;
  /** The row's email (matching form) at the last sync, to tell an email edit in the source. */
  readonly sourceEmail: string;
  readonly baseline: Baseline;
  /** This connection's filter suspended the user (SPEC §3: linked row stops matching). */
  readonly suspended: boolean;
}
