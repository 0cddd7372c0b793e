/** Issue 22, item 8: retention covers every growing table, with defaults in RETENTION_DAYS. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RetentionDays, loadRetention, runRetention } from "../src/ops/retention";

const DAY = 86_400_000;
const rid = (p: string) => `${p}_${crypto.randomUUID().replaceAll("-", "")}`;

describe("retention of every growing table", () => {
  it("has a default age for each, overridable per key", () => {
    expect(RetentionDays.parse({})).toEqual({ logs: 30, jobEvents: 7, notifications: 30, deadLetters: 30, alerts: 30, simulations: 30, loginThrottle: 1 });
    expect(loadRetention({ RETENTION_DAYS: '{"notifications":7}' })).toMatchObject({ notifications: 7, logs: 30 });
  });

  it("prunes old notifications, deliveries, dead letters, resolved alerts, finished simulations and lockouts; keeps open and running ones", async () => {
    const now = Date.now();
    const old = now - 40 * DAY;
    const ids = { ntf: rid("ntf"), dl: rid("dl"), alertResolved: rid("al"), alertOpen: rid("al"), simDone: rid("sim"), simRunning: rid("sim") };
    const q = (s: string, ...b: unknown[]) => env.DB.prepare(s).bind(...b).run();
    await q("INSERT INTO notifications (id, user_id, event, severity, title, body, created_at) VALUES (?, 'u', 'e', 'info', 't', 'b', ?)", ids.ntf, old);
    await q("INSERT INTO notification_deliveries (id, notification_id, channel, status, updated_at) VALUES (?, ?, 'webhook', 'sent', ?)", rid("nd"), ids.ntf, old);
    await q("INSERT INTO dead_letters (id, queue, message_id, body, attempts, error_class, received_at) VALUES (?, 'q', ?, '{}', 3, 'x', ?)", ids.dl, rid("m"), old);
    await q("INSERT INTO alerts (id, rule, subject, severity, status, message, opened_at, last_seen_at, resolved_at) VALUES (?, 'r', ?, 'warning', 'resolved', 'm', ?, ?, ?)", ids.alertResolved, rid("s"), old, old, old);
    await q("INSERT INTO alerts (id, rule, subject, severity, status, message, opened_at, last_seen_at) VALUES (?, 'r', ?, 'warning', 'open', 'm', ?, ?)", ids.alertOpen, rid("s"), old, old);
    await q("INSERT INTO simulations (id, user_id, scenario, status, steps, params, created_at, finished_at) VALUES (?, 'u', 'bull', 'completed', 1, '{}', ?, ?)", ids.simDone, old, old);
    await q("INSERT INTO simulations (id, user_id, scenario, status, steps, params, created_at) VALUES (?, 'u', 'bull', 'running', 1, '{}', ?)", ids.simRunning, old);
    await q("INSERT INTO login_throttle (key, failures, updated_at) VALUES ('old-lock', 3, ?)", now - 2 * DAY);

    const deleted = await runRetention(env, { now });
    for (const t of ["notifications", "notification_deliveries", "dead_letters", "alerts", "simulations", "login_throttle"]) expect(deleted[t], t).toBeGreaterThanOrEqual(1);
    const n = async (sql: string, ...b: unknown[]) => (await env.DB.prepare(sql).bind(...b).first<{ n: number }>())!.n;
    expect(await n("SELECT count(*) AS n FROM notifications WHERE id = ?", ids.ntf)).toBe(0);
    expect(await n("SELECT count(*) AS n FROM dead_letters WHERE id = ?", ids.dl)).toBe(0);
    expect(await n("SELECT count(*) AS n FROM alerts WHERE id = ?", ids.alertResolved)).toBe(0);
    expect(await n("SELECT count(*) AS n FROM alerts WHERE id = ?", ids.alertOpen)).toBe(1);
    expect(await n("SELECT count(*) AS n FROM simulations WHERE id = ?", ids.simDone)).toBe(0);
    expect(await n("SELECT count(*) AS n FROM simulations WHERE id = ?", ids.simRunning)).toBe(1);
    expect(await n("SELECT count(*) AS n FROM login_throttle WHERE key = 'old-lock'")).toBe(0);
  });
});
