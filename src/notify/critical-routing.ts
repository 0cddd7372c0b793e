/**
 * Issue 23: a saved set of channels and preferences must give every critical event somewhere
 * to go. `PUT /v1/notifications/channels` replaces the whole state, so the state it would save
 * is checked as a whole (one rule for adding a rule, changing one and removing a channel).
 *
 * "Nowhere" means: at least one channel is configured, and the routing that delivery uses
 * (`routeEvent`, the same function `selectChannels` calls) gives a critical event no channel.
 * That happens when its rule (its own, else `default`) is `channels: []` (muted) or lists only
 * channels that are not configured (including one this PUT removes). A `minSeverity` cannot
 * drop a critical event (critical is the top severity), but it is checked all the same through
 * the same function. Not counted as nowhere:
 *  - no channel at all: notifications are off, as for a new account (nothing is half-routed);
 *  - a configured channel not yet verified: it is the step between saving and verifying it,
 *    the console and `GET` show `verified: false`, and its skipped deliveries say why;
 *  - operator alerts for a user who is not an admin: they never receive them.
 */
import type { FieldIssue } from "../lib/errors";
import { NOTIFICATION_EVENTS, type NotificationEvent } from "../messaging/events";
import { CHANNELS, routeEvent, type ChannelName, type Preferences, type StoredConfig } from "./settings";

/** The critical events this user can receive: the trader's, and operator alerts for admins. */
export function criticalEvents(admin: boolean): NotificationEvent[] {
  return (Object.keys(NOTIFICATION_EVENTS) as NotificationEvent[]).filter((e) => {
    const info = NOTIFICATION_EVENTS[e];
    return info.severity === "critical" && (info.audience === "trader" || (admin && info.audience === "operator"));
  });
}

const configuredIn = (cfg: StoredConfig): ChannelName[] => CHANNELS.filter((c) => cfg[c] !== undefined);
const list = (xs: readonly string[]) => xs.join(", ");

/**
 * Why `next` would route a critical event nowhere, as field issues: one at the rule that
 * decides (`preferences.events.<event>` or `preferences.default`) and, when a channel this save
 * removes is what the rule relied on, one naming that channel. Empty when every critical event
 * reaches a configured channel.
 */
export function criticalRoutingIssues(next: StoredConfig, previous: StoredConfig, admin: boolean): FieldIssue[] {
  const configured = configuredIn(next);
  if (configured.length === 0) return [];
  const prefs: Preferences = next.preferences ?? {};
  const removed = configuredIn(previous).filter((c) => !configured.includes(c));
  const byRule = new Map<string, NotificationEvent[]>();
  const blamed = new Map<ChannelName, NotificationEvent[]>();
  for (const event of criticalEvents(admin)) {
    if (routeEvent(configured, prefs, event, "critical").length > 0) continue;
    const path = prefs.events?.[event] ? `preferences.events.${event}` : "preferences.default";
    byRule.set(path, [...(byRule.get(path) ?? []), event]);
    const rule = prefs.events?.[event] ?? prefs.default ?? {};
    for (const c of removed) if (rule.channels?.includes(c)) blamed.set(c, [...(blamed.get(c) ?? []), event]);
  }
  const issues: FieldIssue[] = [];
  for (const [path, events] of byRule) {
    const rule = (path === "preferences.default" ? prefs.default : prefs.events?.[events[0]!]) ?? {};
    const chs = rule.channels ?? [];
    const why = chs.length === 0
      ? "its channels are [] (muted)"
      : `it goes only to ${list(chs)}, not configured (configured: ${list(configured)})`;
    const what = path === "preferences.default" ? `critical events without their own rule (${list(events)})` : `${events[0]} is critical and`;
    issues.push({
      path,
      message: `${what} would reach no channel: ${why}; route ${events.length > 1 ? "them" : "it"} to at least one configured channel`,
      code: "critical_unrouted",
    });
  }
  for (const [channel, events] of blamed) {
    issues.push({
      path: channel,
      message: `removing the ${channel} channel would leave critical events routed nowhere (${list(events)}); route them to another channel first, or keep it`,
      code: "critical_unrouted",
    });
  }
  return issues;
}
