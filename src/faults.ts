// Test-only fault points: KMSCTL_TEST_FAULT=<point> kills the process with SIGKILL when it reaches that
// point, so the kill tests can stop a command between its intent, its token change and its ledger update.
// A kill is something any operator can already do to the process; this only makes its timing exact.

export function faultPoint(name: string): void {
  if (process.env.KMSCTL_TEST_FAULT === name) process.kill(process.pid, 'SIGKILL');
}
