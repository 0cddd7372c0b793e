/**
 * Renders OpsMetrics in the Prometheus text exposition format 0.0.4. Window counts (jobs in
 * the last N minutes) are gauges, not counters: retention and the moving window make them go
 * down, and a counter that decreases would read as a reset to Prometheus.
 */
import { DRIFT_COUNTER_PREFIX } from "../lnmarkets/drift";
import type { OpsMetrics } from "./metrics";

/** The Content-Type Prometheus expects for format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;
interface Family {
  name: string;
  help: string;
  type: "gauge" | "counter" | "summary";
  samples: { suffix?: string; labels?: Labels; value: number }[];
}

/** Escapes a label value: backslash, double quote and newline (the three the format requires). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes backslash and newline only. */
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function render(families: Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}` : "";
      out.push(`${f.name}${s.suffix ?? ""}${l} ${formatValue(s.value)}`);
    }
  }
  return out.join("\n") + "\n";
}

/** Every metric family of the platform, in exposition format. */
export function toPrometheus(m: OpsMetrics): string {
  const win = `last ${m.window.minutes} min`;
  const jobs: Family["samples"] = [];
  const perMinute: Family["samples"] = [];
  const failure: Family["samples"] = [];
  const duration: Family["samples"] = [];
  for (const w of m.workers) {
    for (const [event, n] of Object.entries(w.events)) jobs.push({ labels: { worker: w.worker, event }, value: n });
    perMinute.push({ labels: { worker: w.worker }, value: w.perMinute });
    if (w.failureRate !== null) failure.push({ labels: { worker: w.worker }, value: w.failureRate });
    if (w.p95DurationMs !== null) duration.push({ labels: { worker: w.worker, quantile: "0.95" }, value: w.p95DurationMs });
    duration.push({ suffix: "_sum", labels: { worker: w.worker }, value: w.durationSumMs });
    duration.push({ suffix: "_count", labels: { worker: w.worker }, value: w.durationCount });
  }
  // Schema drift counters (`lnm_schema_drift:<schema>:<field>`) get their own labelled family.
  const drift: Family["samples"] = [];
  const counters: Family["samples"] = [];
  for (const [name, value] of Object.entries(m.counters)) {
    if (name.startsWith(DRIFT_COUNTER_PREFIX)) {
      const rest = name.slice(DRIFT_COUNTER_PREFIX.length);
      const i = rest.indexOf(":");
      drift.push({ labels: { schema: i < 0 ? rest : rest.slice(0, i), field: i < 0 ? "" : rest.slice(i + 1) }, value });
    } else counters.push({ labels: { name }, value });
  }
  const families: Family[] = [
    { name: "lnma_jobs", type: "gauge", help: `Job events by worker and event type (${win})`, samples: jobs },
    { name: "lnma_jobs_per_minute", type: "gauge", help: `Jobs finished (complete or fail) per minute by worker (${win})`, samples: perMinute },
    { name: "lnma_job_failure_ratio", type: "gauge", help: `Failed / finished jobs by worker (${win}); absent when none finished`, samples: failure },
    { name: "lnma_job_duration_ms", type: "summary", help: `Job duration in milliseconds by worker (${win}, nearest-rank quantile)`, samples: duration },
    { name: "lnma_queue_backlog", type: "gauge", help: "Messages sent minus settled, by queue", samples: m.queues.map((q) => ({ labels: { queue: q.queue }, value: q.backlog })) },
    { name: "lnma_queue_sent_total", type: "counter", help: "Messages sent, by queue", samples: m.queues.map((q) => ({ labels: { queue: q.queue }, value: q.sent })) },
    { name: "lnma_queue_settled_total", type: "counter", help: "Messages settled (acked or dead-lettered), by queue", samples: m.queues.map((q) => ({ labels: { queue: q.queue }, value: q.settled })) },
    { name: "lnma_dead_letters_open", type: "gauge", help: "Dead letters not retried yet", samples: [{ value: m.deadLetters.open }] },
    { name: "lnma_active_accounts", type: "gauge", help: "Active accounts with at least one enabled automation", samples: [{ value: m.accounts.active }] },
    { name: "lnma_stream_feeds", type: "gauge", help: "Active accounts by price feed in use (stream = socket open; rest/none = fallback)",
      samples: Object.entries(m.accounts.feeds).map(([feed, n]) => ({ labels: { feed }, value: n })) },
    { name: "lnma_alerts_open", type: "gauge", help: "Operator alerts currently open", samples: [{ value: m.alerts.open }] },
    { name: "lnma_platform_counter_total", type: "counter", help: "Platform counters (cache hits, misses, expiries…) by name",
      samples: counters },
    { name: "lnma_schema_drift_total", type: "counter",
      help: "LN Markets answers that differ from the SDK's types (a field missing or of another type), by schema and field; counted once per field per isolate",
      samples: drift },
  ];
  return render(families);
}
