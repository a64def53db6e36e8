// Nearest-rank percentiles of browser timings, shared by the bench scripts.

/**
 * The count, p50, p95, min, max (nearest rank) and mean of `xs`, with the samples themselves.
 * The mean is for clocks that count whole milliseconds (WebKit's `performance.now()`): a
 * median of such samples can only be a whole number, their mean is not.
 */
export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1];
  const mean = s.length ? s.reduce((a, x) => a + x, 0) / s.length : undefined;
  return { count: s.length, p50: at(50), p95: at(95), min: s[0], max: s.at(-1), mean, samples: xs };
}
