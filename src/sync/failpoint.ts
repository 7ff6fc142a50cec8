/**
 * Crash-test hooks. With USERSYNC_FAILPOINT=NAME:N the process kills itself (SIGKILL, no
 * cleanup, like a power cut) the Nth time it passes the point NAME. Unset, it costs one
 * comparison. Used by test/crash to prove every point of apply is recoverable.
 */
const wanted = parse(process.env.USERSYNC_FAILPOINT);
let passed = 0;

export type FailpointName = 'directory-write' | 'source-write';

export function failpoint(name: FailpointName): void {
  if (wanted === null || wanted.name !== name) return;
  passed += 1;
  if (passed === wanted.count) process.kill(process.pid, 'SIGKILL');
}

function parse(spec: string | undefined): { name: string; count: number } | null {
  const match = spec ? /^([a-z-]+):(\d+)$/.exec(spec) : null;
  return match ? { name: match[1]!, count: Number(match[2]) } : null;
}
