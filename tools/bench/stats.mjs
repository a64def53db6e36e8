// Nearest-rank percentiles of browser timings, shared by the bench scripts.

/** The count, p50, p95, min and max of `xs` (nearest rank), with the samples themselves. */
export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1];
  return { count: s.length, p50: at(50), p95: at(95), min: s[0], max: s.at(-1), samples: xs };
}
