/**
 * Which webhook URLs a trader may configure. Pure (no cloudflare:* imports).
 *
 * Development and test accept http and any host (the receivers are local). Everywhere else:
 * https only, no credentials in the URL, and no loopback, private, link-local or otherwise
 * internal address written as a literal or a well-known internal name. A public name that
 * resolves to a private address cannot be caught here (Workers do not expose DNS), but
 * Workers' outbound fetch cannot reach a private network either: this check is the clear
 * refusal at configuration time, not the only barrier.
 */

export type UrlPolicyMode = "dev" | "strict";

/** The reason a URL is refused, or null when it is acceptable. */
export function checkWebhookUrl(raw: string, mode: UrlPolicyMode): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must use https";
  if (url.username || url.password) return "must not contain credentials";
  if (mode === "dev") return null;
  if (url.protocol !== "https:") return "must use https";
  if (isInternalHost(url.hostname)) return "must not point to a private, loopback or internal address";
  return null;
}

/** True for hosts that name this machine or a private network. */
export function isInternalHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (host === "" || host === "localhost" || host.endsWith(".localhost")) return true;
  if (/\.(local|internal|lan|home|intranet|corp)$/.test(host)) return true;
  const v4 = parseIpv4(host);
  if (v4) return isPrivateIpv4(v4);
  if (host.includes(":")) return isPrivateIpv6(host);
  // A bare number such as http://2130706433 is an IPv4 literal in URL parsing already; a
  // single label without dots cannot be a public name.
  return !host.includes(".");
}

function parseIpv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

function isPrivateIpv4([a, b]: number[]): boolean {
  return (
    a === 0 || a === 10 || a === 127 ||
    (a === 100 && b! >= 64 && b! <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b! >= 16 && b! <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a! >= 224 // multicast and reserved
  );
}

function isPrivateIpv6(host: string): boolean {
  if (host === "::" || host === "::1") return true;
  // IPv4-mapped (::ffff:10.0.0.1, or the hex form the URL parser produces).
  const mapped = /^::ffff:(.+)$/.exec(host);
  if (mapped) {
    const v4 = parseIpv4(mapped[1]!);
    if (v4) return isPrivateIpv4(v4);
    const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(mapped[1]!);
    if (hex) {
      const hi = parseInt(hex[1]!, 16);
      const lo = parseInt(hex[2]!, 16);
      return isPrivateIpv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
    }
    return true;
  }
  const first = parseInt(host.split(":")[0] || "0", 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00;
}
