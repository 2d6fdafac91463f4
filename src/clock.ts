// Durations for audit records without loading perf_hooks (a dozen internal modules on every start).
export function startTimer(): () => number {
  const t0 = process.hrtime.bigint();
  return () => Number(process.hrtime.bigint() - t0) / 1e6;
}
