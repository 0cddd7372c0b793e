// Bundles bench/simulation.ts with esbuild (the domain's extensionless imports need a
// resolver) and runs it on this Node with --expose-gc for a cleaner heap figure.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const outfile = `${root}.wrangler/bench/simulation.mjs`;
await build({ entryPoints: [`${root}bench/simulation.ts`], bundle: true, platform: "node", format: "esm", target: "node22", outfile, logLevel: "warning" });
// Run from the repo root so git and the RESULTS.md path resolve; the bundle writes next to bench/.
const r = spawnSync(process.execPath, ["--expose-gc", outfile], { stdio: "inherit", cwd: root, env: { ...process.env, BENCH_ROOT: root } });
process.exit(r.status ?? 1);
