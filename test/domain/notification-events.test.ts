/**
 * One list of notification events (src/messaging/events.ts): the README's table and the
 * console's routing table (plain JS, no build step, so it keeps its own copy) must name
 * exactly the events it holds.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EVENT_NAMES, NOTIFICATION_EVENTS, ROUTABLE_EVENTS } from "../../src/messaging/events";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

describe("notification events", () => {
  it("the README's Notifications table lists every event, with its severity", () => {
    const section = read("README.md").split("## Notifications")[1]!.split("\n## ")[0]!;
    const rows = [...section.matchAll(/^\| `([a-z_.]+)` \| (\w+) \|/gm)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual(EVENT_NAMES.map((e) => [e, NOTIFICATION_EVENTS[e].severity]));
  });

  it("the console routes exactly the trader events", () => {
    const ui = read("public/app/pages/notifications.js");
    const listed = [...ui.matchAll(/^\s+\['([a-z_.]+)', '(\w+)',/gm)].map((m) => [m[1], m[2]]);
    const trader = ROUTABLE_EVENTS.filter((e) => NOTIFICATION_EVENTS[e].audience === "trader");
    expect(listed).toEqual(trader.map((e) => [e, NOTIFICATION_EVENTS[e].severity]));
  });
});
