/**
 * Every notification event the platform sends: one list for the producers (their `event`
 * parameter is typed with it), for notification preferences (a rule for a name not listed
 * is refused) and for the docs (README, Notifications). Add an event here first.
 */

type Audience = "trader" | "operator" | "test";
interface EventInfo {
  severity: "info" | "warning" | "critical";
  audience: Audience;
  description: string;
}

export const NOTIFICATION_EVENTS = {
  "margin.warning": { severity: "warning", audience: "trader", description: "A position crossed its warn level (Margin Guard or the margin monitor)" },
  "margin.critical": { severity: "critical", audience: "trader", description: "A position crossed its act level" },
  "margin.action": { severity: "info", audience: "trader", description: "Margin Guard added margin or closed a position" },
  "margin.insufficient": { severity: "critical", audience: "trader", description: "Margin Guard could not add enough margin (caps or balance)" },
  "trade.liquidated": { severity: "critical", audience: "trader", description: "A position was liquidated" },
  "auto_entry.opened": { severity: "info", audience: "trader", description: "Auto Entry opened a position" },
  "automation.failed": { severity: "warning", audience: "trader", description: "An automation run failed after its retries" },
  "automation.action_failed": { severity: "warning", audience: "trader", description: "The exchange refused an automation's order" },
  "credentials.rejected": { severity: "critical", audience: "trader", description: "LN Markets refused the account's API keys" },
  "exchange.breaker_open": { severity: "critical", audience: "trader", description: "Orders paused: LN Markets calls keep failing" },
  "plan.paused": { severity: "warning", audience: "trader", description: "The plan in force pauses automations on an account (a lapsed plan, or an account beyond its limit); renewal resumes them" },
  "payment.confirmed": { severity: "info", audience: "trader", description: "A plan payment was received and the plan is active" },
  "ops.dead_letter": { severity: "critical", audience: "operator", description: "A queue message was dead-lettered" },
  "alert.queue_backlog": { severity: "critical", audience: "operator", description: "Alert rule: a queue's backlog is over its threshold" },
  "alert.failure_rate": { severity: "critical", audience: "operator", description: "Alert rule: a worker's job failure rate is over its threshold" },
  "alert.worker_inactive": { severity: "critical", audience: "operator", description: "Alert rule: no account job events while automations are enabled" },
  "alert.processing_time": { severity: "critical", audience: "operator", description: "Alert rule: a worker's p95 run time is over its threshold" },
  "alert.dead_letters": { severity: "critical", audience: "operator", description: "Alert rule: too many open dead letters" },
  "alert.stale_heartbeat": { severity: "critical", audience: "operator", description: "Alert rule: an account's heartbeat is stale (the watchdog woke it)" },
  "notification.test": { severity: "info", audience: "test", description: "POST /v1/notifications/test: every configured channel, preferences ignored" },
  "notification.verification": { severity: "info", audience: "test", description: "A channel's verification code (POST /v1/notifications/channels/{channel}/verification): sent to that channel only, never stored in the history" },
} as const satisfies Record<string, EventInfo>;

export type NotificationEvent = keyof typeof NOTIFICATION_EVENTS;

export const EVENT_NAMES = Object.keys(NOTIFICATION_EVENTS) as NotificationEvent[];

/** The events a preference rule may name (the test message ignores preferences). */
export const ROUTABLE_EVENTS: readonly NotificationEvent[] = EVENT_NAMES.filter((e) => NOTIFICATION_EVENTS[e].audience !== "test");

export const isRoutableEvent = (name: string): name is NotificationEvent => (ROUTABLE_EVENTS as readonly string[]).includes(name);
