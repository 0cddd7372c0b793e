// Numbers for the bench scripts: percentiles and summaries of samples, and how a figure is printed.

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, min: s[0], mean: s.reduce((a, b) => a + b, 0) / (s.length || 1), p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] };
};
export const half = (x) => Math.round(x * 2) / 2;
export const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "-");
export const sum = (xs) => xs.reduce((a, b) => a + b, 0);
export const usd = (x) => (Number.isFinite(x) ? (x < 0.01 ? x.toFixed(5) : x.toFixed(3)) : "-");
