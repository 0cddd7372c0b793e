/**
 * Parsing of stream v1 frames. Pure: no socket, no clock, so tests can feed it garbage.
 * Anything that is not a well-formed JSON-RPC response or a `subscription` push with data
 * valid for its topic comes back as `malformed` with a short reason; it never throws.
 */
import {
  IsolatedTradeEvent,
  LastPriceData,
  RpcErrorFrame,
  RpcResultFrame,
  SubscriptionFrame,
  TOPIC_DATA,
  TOPICS,
} from "./schemas.js";

export type ParsedFrame =
  | { kind: "response"; id: string; result: unknown }
  | { kind: "error"; id: string; error: { code: number; message: string; data?: unknown } }
  | { kind: "price"; topic: string; data: LastPriceData }
  | { kind: "trade"; topic: string; data: IsolatedTradeEvent }
  | { kind: "subscription"; topic: string; data: unknown }
  | { kind: "malformed"; reason: string };

const decoder = new TextDecoder();

/** Parses one WebSocket message (text or binary) into a typed frame. */
export function parseStreamFrame(raw: string | ArrayBuffer | ArrayBufferView): ParsedFrame {
  let text: string;
  try {
    text = typeof raw === "string" ? raw : decoder.decode(raw);
  } catch {
    return { kind: "malformed", reason: "undecodable binary frame" };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: "malformed", reason: "not JSON" };
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { kind: "malformed", reason: "not a JSON-RPC object" };
  }
  const obj = json as Record<string, unknown>;

  if ("method" in obj) {
    const sub = SubscriptionFrame.safeParse(obj);
    if (!sub.success) return { kind: "malformed", reason: `bad notification: ${firstIssue(sub.error)}` };
    const { topic, data } = sub.data.params;
    const schema = TOPIC_DATA[topic];
    if (schema === undefined) return { kind: "subscription", topic, data };
    const checked = schema.safeParse(data);
    if (!checked.success) return { kind: "malformed", reason: `bad data for ${topic}: ${firstIssue(checked.error)}` };
    if (topic === TOPICS.lastPrice) return { kind: "price", topic, data: checked.data as LastPriceData };
    if (topic === TOPICS.isolatedTrades) return { kind: "trade", topic, data: checked.data as IsolatedTradeEvent };
    return { kind: "subscription", topic, data: checked.data };
  }

  if ("error" in obj) {
    const res = RpcErrorFrame.safeParse(obj);
    if (!res.success) return { kind: "malformed", reason: `bad error response: ${firstIssue(res.error)}` };
    return { kind: "error", id: String(res.data.id), error: res.data.error };
  }
  if ("result" in obj) {
    const res = RpcResultFrame.safeParse(obj);
    if (!res.success) return { kind: "malformed", reason: `bad response: ${firstIssue(res.error)}` };
    return { kind: "response", id: String(res.data.id), result: res.data.result };
  }
  return { kind: "malformed", reason: "neither result, error nor method" };
}

function firstIssue(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  const i = error.issues[0];
  if (i === undefined) return "invalid";
  const path = i.path.map(String).join(".");
  return path === "" ? i.message : `${path}: ${i.message}`;
}
