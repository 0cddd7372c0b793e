import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  SCHEDULE_DEFAULTS,
  ScheduleOverride,
  alarmTime,
  dueRows,
  earliestDue,
  MIN_RUN_TIMEOUT_MS,
  MONITOR_STREAM_INTERVAL_MS,
  REQUEST_TIMEOUT_MS,
  RUN_TIMEOUT_MARGIN_MS,
  monitorSchedule,
  retryDelayMs,
  nextAfterRun,
  resolveSchedule,
  restSlot,
  runDeadline,
} from "../../src/domain/schedule";

describe("the margin monitor's cadence", () => {
  it("is 5 s without the stream and a 30 s backstop while the stream feeds every tick", () => {
    expect(monitorSchedule("rest")).toEqual(SCHEDULE_DEFAULTS.margin_monitor);
    expect(monitorSchedule("none")).toEqual(SCHEDULE_DEFAULTS.margin_monitor);
    expect(monitorSchedule("stream")).toEqual({ ...SCHEDULE_DEFAULTS.margin_monitor, intervalMs: MONITOR_STREAM_INTERVAL_MS });
    expect(MONITOR_STREAM_INTERVAL_MS).toBe(30_000);
    // The defaults table is not changed by asking.
    expect(SCHEDULE_DEFAULTS.margin_monitor.intervalMs).toBe(5_000);
  });
});

describe("defaults and overrides", () => {
  it("matches the DESIGN.md table, the monitor's timeout raised above the request timeout", () => {
    expect(SCHEDULE_DEFAULTS).toEqual({
      margin_guard: { intervalMs: 30_000, timeoutMs: 60_000, retryAttempts: 3, retryDelayMs: 5_000 },
      tp_sl: { intervalMs: 15_000, timeoutMs: 30_000, retryAttempts: 2, retryDelayMs: 3_000 },
      auto_entry: { intervalMs: 10_000, timeoutMs: 20_000, retryAttempts: 2, retryDelayMs: 2_000 },
      margin_monitor: { intervalMs: 5_000, timeoutMs: 12_000, retryAttempts: 3, retryDelayMs: 1_000 },
    });
  });

  it("every run timeout, default or override, outlives a request by the margin", () => {
    expect(MIN_RUN_TIMEOUT_MS).toBe(REQUEST_TIMEOUT_MS + RUN_TIMEOUT_MARGIN_MS);
    expect(RUN_TIMEOUT_MARGIN_MS).toBeGreaterThan(0);
    for (const d of Object.values(SCHEDULE_DEFAULTS)) expect(d.timeoutMs).toBeGreaterThanOrEqual(MIN_RUN_TIMEOUT_MS);
    // Validation refuses a shorter override (it was accepted down to 1 s before).
    const r = ScheduleOverride.safeParse({ timeoutMs: 1_000 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/request timeout/);
    expect(ScheduleOverride.safeParse({ timeoutMs: MIN_RUN_TIMEOUT_MS }).success).toBe(true);
    expect(ScheduleOverride.safeParse({ timeoutMs: MIN_RUN_TIMEOUT_MS - 1 }).success).toBe(false);
    // A shorter one stored before the rule is lifted when resolved.
    expect(resolveSchedule("tp_sl", { timeoutMs: 1_000 } as never).timeoutMs).toBe(MIN_RUN_TIMEOUT_MS);
    fc.assert(fc.property(fc.constantFrom(...(["margin_guard", "tp_sl", "auto_entry", "margin_monitor"] as const)), fc.integer({ min: 0, max: 300_000 }), (kind, t) =>
      resolveSchedule(kind, { timeoutMs: t }).timeoutMs > REQUEST_TIMEOUT_MS));
  });

  it("applies only the fields overridden", () => {
    expect(resolveSchedule("tp_sl", { intervalMs: 60_000, retryAttempts: 0 })).toEqual({
      intervalMs: 60_000,
      timeoutMs: 30_000,
      retryAttempts: 0,
      retryDelayMs: 3_000,
    });
    expect(resolveSchedule("auto_entry")).toEqual(SCHEDULE_DEFAULTS.auto_entry);
  });

  it("accepts in-bounds overrides, rejects out-of-bounds and unknown fields naming them", () => {
    expect(ScheduleOverride.safeParse({}).success).toBe(true);
    expect(ScheduleOverride.safeParse({ intervalMs: 1_000, retryAttempts: 10 }).success).toBe(true);
    const paths = (v: unknown) => {
      const r = ScheduleOverride.safeParse(v);
      return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
    };
    expect(paths({ intervalMs: 999 })).toEqual(["intervalMs"]);
    expect(paths({ timeoutMs: 300_001 })).toEqual(["timeoutMs"]);
    expect(paths({ retryAttempts: -1 })).toEqual(["retryAttempts"]);
    expect(paths({ retryAttempts: 1.5 })).toEqual(["retryAttempts"]);
    expect(paths({ retryDelayMs: "5s" })).toEqual(["retryDelayMs"]);
    const unknown = ScheduleOverride.safeParse({ cron: "* * * * *" });
    expect(unknown.success).toBe(false);
    expect(JSON.stringify(unknown.error?.issues)).toContain("cron");
  });
});

describe("nextAfterRun", () => {
  const s = SCHEDULE_DEFAULTS.margin_guard;

  it("success -> now + interval, attempts reset", () => {
    expect(nextAfterRun(s, 2, "success", 1_000)).toEqual({ nextRunAt: 31_000, attempts: 0, kind: "interval" });
  });

  it("failures retry with exponential backoff up to the limit, then wait the interval", () => {
    let attempts = 0;
    const kinds: string[] = [];
    const times: number[] = [];
    let now = 0;
    for (let i = 0; i < 5; i++) {
      // No jitter drawn: the bare exponential delays.
      const n = nextAfterRun(s, attempts, "failure", now, () => 0);
      kinds.push(n.kind);
      times.push(n.nextRunAt - now);
      attempts = n.attempts;
      now = n.nextRunAt;
    }
    // 3 retries at 5, 10, 20 s, then give up for one interval, then a fresh cycle at 5 s.
    expect(kinds).toEqual(["retry", "retry", "retry", "exhausted", "retry"]);
    expect(times).toEqual([5_000, 10_000, 20_000, 30_000, 5_000]);
  });

  it("backoff: never below the type's retry delay, at most 50 % jitter on top, capped by 8x and the interval", () => {
    expect(retryDelayMs(s, 0, () => 0)).toBe(5_000);
    expect(retryDelayMs(s, 0, () => 0.999)).toBe(7_498);
    expect(retryDelayMs(s, 10, () => 0)).toBe(30_000); // capped at the guard's 30 s interval
    expect(retryDelayMs(SCHEDULE_DEFAULTS.margin_monitor, 5, () => 0)).toBe(5_000);
    fc.assert(fc.property(fc.constantFrom(...Object.values(SCHEDULE_DEFAULTS)), fc.integer({ min: 0, max: 20 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (k, a, r) => {
      const d = retryDelayMs(k, a, () => r);
      const cap = Math.max(k.retryDelayMs, Math.min(k.intervalMs, k.retryDelayMs * 8));
      return d >= k.retryDelayMs && d <= cap * 1.5 && d >= Math.min(cap, k.retryDelayMs * 2 ** a);
    }));
    // Jitter spreads a herd: 100 accounts failing together do not retry in the same second.
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const spread = new Set(Array.from({ length: 100 }, () => Math.floor(retryDelayMs(s, 0, rnd) / 1_000)));
    expect(spread.size).toBeGreaterThan(1);
  });

  it("zero retry attempts gives up at the first failure", () => {
    const n = nextAfterRun({ ...s, retryAttempts: 0 }, 0, "failure", 10);
    expect(n).toEqual({ nextRunAt: 30_010, attempts: 0, kind: "exhausted" });
  });

  it("never runs more than 1 + retryAttempts times per cycle", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), (retries) => {
        const settings = { ...s, retryAttempts: retries };
        let attempts = 0, runs = 0, kind = "retry";
        while (kind === "retry") {
          runs++;
          const n = nextAfterRun(settings, attempts, "failure", 0);
          attempts = n.attempts;
          kind = n.kind;
        }
        return runs === retries + 1 && attempts === 0;
      }),
    );
  });

  it("the deadline is start + timeout", () => {
    expect(runDeadline(SCHEDULE_DEFAULTS.tp_sl, 100)).toBe(30_100);
  });
});

describe("earliest due", () => {
  const rows = [{ nextRunAt: 50_000 }, { nextRunAt: null }, { nextRunAt: 10_000 }, { nextRunAt: 30_000 }];

  it("includes overdue rows and skips unscheduled ones", () => {
    expect(earliestDue(rows)).toBe(10_000);
    expect(earliestDue([{ nextRunAt: null }])).toBeNull();
    expect(earliestDue([])).toBeNull();
  });

  it("never arms the alarm in the past", () => {
    expect(alarmTime(rows, 20_000)).toBe(20_000);
    expect(alarmTime(rows, 5_000)).toBe(10_000);
    expect(alarmTime([], 5_000)).toBeNull();
  });

  it("lists due rows most overdue first", () => {
    expect(dueRows(rows, 30_000)).toEqual([{ nextRunAt: 10_000 }, { nextRunAt: 30_000 }]);
    expect(dueRows(rows, 9_999)).toEqual([]);
  });

  it("earliestDue is the minimum of scheduled rows", () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 1e12 }))), (xs) => {
        const scheduled = xs.filter((x): x is number => x !== null);
        const got = earliestDue(xs.map((nextRunAt) => ({ nextRunAt })));
        return scheduled.length === 0 ? got === null : got === Math.min(...scheduled);
      }),
    );
  });
});

describe("restSlot: one account's rows at rest share its re-sync slots", () => {
  const cadence = 60_000;
  it("is within half a cadence of the row's next run, never sooner than half a cadence from now, and on the account's grid", () => {
    fc.assert(fc.property(fc.integer({ min: 1e12, max: 2e12 }), fc.integer({ min: 1_000, max: 600_000 }), fc.string(), (now, c, key) => {
      const slot = restSlot(now + c, now, c, key);
      expect(slot).toBeGreaterThanOrEqual(now + c / 2);
      expect(slot).toBeLessThanOrEqual(now + 1.5 * c);
      expect(restSlot(slot + c, slot, c, key)).toBe(slot + c);
    }));
  });

  it("rows that ran in the same alarm (ending up to a quarter cadence apart) get the same next slot", () => {
    fc.assert(fc.property(fc.integer({ min: 1e12, max: 2e12 }), fc.string(), fc.integer({ min: 0, max: cadence / 4 }), fc.integer({ min: 0, max: cadence / 4 }), (t, key, d1, d2) => {
      const slot = restSlot(t + cadence, t, cadence, key);
      expect(restSlot(slot + d1 + cadence, slot + d1, cadence, key)).toBe(slot + cadence);
      expect(restSlot(slot + d2 + cadence, slot + d2, cadence, key)).toBe(slot + cadence);
    }));
  });

  it("spreads accounts over the cadence", () => {
    const offsets = new Set(Array.from({ length: 200 }, (_, i) => restSlot(1e12 + cadence, 1e12, cadence, `acc_${i}`) % cadence));
    expect(offsets.size).toBeGreaterThan(150);
  });
});
