// The V8 inspector of a `wrangler dev` worker (its --inspector-port), over the Chrome DevTools
// Protocol: heap usage after a full GC, and CPU profiles. Locally every Durable Object of a
// worker lives in that worker's one isolate, so heap per DO is the isolate's growth divided by
// the number of DOs added. Loopback only.

/** Opens a CDP session to the first target of the inspector on `port`. */
export async function inspect(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  // wrangler's inspector proxy refuses a WebSocket without a local Origin.
  const ws = new WebSocket(url, { headers: { origin: "http://localhost" } });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`inspector on port ${port} refused the connection`));
    setTimeout(() => reject(new Error(`inspector on port ${port} did not open`)), 10_000);
  });
  let seq = 0;
  const pending = new Map();
  // wrangler's proxy takes one client at a time and closes any other (1013): fail fast then.
  ws.onclose = (ev) => {
    for (const p of pending.values()) p.reject(new Error(`inspector closed (${ev.code} ${ev.reason})`));
    pending.clear();
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(String(ev.data));
    const p = m.id !== undefined && pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(new Error(`${m.error.message} (${m.error.code})`));
    else p.resolve(m.result);
  };
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`inspector ${method} timed out`));
      }, 20_000);
      pending.set(id, { resolve: (v) => (clearTimeout(timer), resolve(v)), reject: (e) => (clearTimeout(timer), reject(e)) });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

/** The isolate's heap after a full GC: `{usedMB, totalMB, embedderMB}` (one retry). */
export async function heapAfterGc(port) {
  try {
    return await heapOnce(port);
  } catch {
    await new Promise((r) => setTimeout(r, 3_000));
    return heapOnce(port);
  }
}

async function heapOnce(port) {
  const s = await inspect(port);
  try {
    await s.send("HeapProfiler.enable");
    await s.send("HeapProfiler.collectGarbage");
    await s.send("HeapProfiler.collectGarbage");
    const u = await s.send("Runtime.getHeapUsage");
    await s.send("HeapProfiler.disable");
    const mb = (x) => (x ?? 0) / 2 ** 20;
    return { usedMB: mb(u.usedSize), totalMB: mb(u.totalSize), embedderMB: mb(u.embedderHeapUsedSize) };
  } finally {
    s.close();
  }
}
