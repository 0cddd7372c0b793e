// The long form of the API fuzz test (issue 22): FUZZ_REQUESTS requests (default 100,000)
// through test/fuzz-api.test.ts, then its closing line appended to bench/RESULTS.md:
//   fuzz: requests=N server_errors=N
// Usage: npm run fuzz [-- <requests>]
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const requests = Number(process.argv[2] ?? process.env.FUZZ_REQUESTS ?? 100_000);
if (!Number.isInteger(requests) || requests < 1) {
  console.error("usage: npm run fuzz [-- <requests>]");
  process.exit(2);
}

const started = Date.now();
const child = spawn("npx", ["vitest", "run", "--project", "platform", "--silent=false", "test/fuzz-api.test.ts", "-t", "never answers 5xx"], {
  cwd: ROOT,
  env: { ...process.env, FUZZ_REQUESTS: String(requests), NO_COLOR: "1" },
  stdio: ["ignore", "pipe", "inherit"],
});
let out = "";
child.stdout.on("data", (d) => {
  out += d;
  for (const line of String(d).split("\n")) if (/^fuzz: |Test Files|Tests |FAIL|AssertionError/.test(line.trim())) console.log(line.trim());
});
const code = await new Promise((resolve) => child.on("close", resolve));
const summary = /fuzz: requests=(\d+) server_errors=(\d+)/.exec(out);
const statuses = /\{"fuzz":(\{.*?\}\})\}/.exec(out);
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
if (!summary) {
  console.error(`fuzz: no summary line (vitest exit ${code})`);
  process.exit(code || 1);
}
const byStatus = {};
if (statuses) {
  for (const counts of Object.values(JSON.parse(statuses[1]))) for (const [s, n] of Object.entries(counts)) byStatus[s] = (byStatus[s] ?? 0) + n;
}
const section = [
  "",
  `## API fuzz, long form (${new Date().toISOString().slice(0, 10)})`,
  "",
  `\`npm run fuzz\`: test/fuzz-api.test.ts with FUZZ_REQUESTS=${requests} in local workerd (vitest-plugin), a fresh seed;`,
  "malformed and random bodies against every JSON route of /openapi.json, with wrong content types",
  "and methods the path does not declare. Every answer is checked for status < 500 and the error",
  "shape; that nothing was written unless the answer was 2xx is checked on every 10th 4xx (every",
  `one in the suite's short form). Wall time ${minutes} min; vitest exit ${code}.`,
  "",
  `Statuses: ${Object.entries(byStatus).map(([s, n]) => `${s}: ${n}`).join(", ")}`,
  "",
  `fuzz: requests=${summary[1]} server_errors=${summary[2]}`,
  "",
].join("\n");
appendFileSync(`${ROOT}bench/RESULTS.md`, section);
console.log(`appended to bench/RESULTS.md (${minutes} min)`);
process.exit(code ?? 1);
