/**
 * Lets the event loop run between pages and batches. SQLite calls are synchronous, so
 * without this a whole SQLite-to-SQLite sync would run in one go and a server in the same
 * process would answer nothing until it ended.
 */
import { setImmediate } from 'node:timers/promises';

export function yieldToEventLoop(): Promise<void> {
  return setImmediate();
}
