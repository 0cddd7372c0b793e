import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { build } from "esbuild";
import { defineConfig } from "vitest/config";

/** Secrets and vars the platform worker sees in tests (never real ones). */
export const TEST_BINDINGS = {
  ENVIRONMENT: "test",
  LOG_LEVEL: "debug",
  JWT_SECRET: "test-jwt-secret-at-least-32-bytes-long!!",
  CREDENTIALS_KEYS: JSON.stringify({
    current: "k1",
    keys: { k1: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" },
  }),
  LIGHTNING_API_KEY: "test-lightning-key",
  TELEGRAM_BOT_TOKEN: "test-telegram-token",
  METRICS_TOKEN: "test-metrics-token",
  PASSWORD_PEPPER: "test-password-pepper-at-least-32-bytes!",
  // The bot's webhook (src/api/routes/telegram.ts); test/telegram-bot.test.ts also runs without it.
  TELEGRAM_WEBHOOK_SECRET: "test-telegram-webhook-secret-0123456789",
};

/**
 * The simulator runs beside the platform in tests as an auxiliary worker. Auxiliary workers are
 * not transformed by Vite, so it is bundled here first.
 */
async function bundleSimulator(): Promise<string> {
  const outfile = ".wrangler/test/lnm-sim.mjs";
  await build({
    entryPoints: ["sim/src/index.ts"],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2023",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"],
    outfile,
    logLevel: "warning",
  });
  return outfile;
}

export default defineConfig({
  test: {
    // Keep the JSON log lines of passing tests out of the report; failures still show them.
    silent: "passed-only",
    projects: [
      {
        test: {
          name: "domain",
          include: ["test/domain/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        // Node-side tooling: deploy and admin scripts, run against stub binaries.
        test: { name: "scripts", include: ["test/scripts/**/*.test.ts"], environment: "node" },
      },
      {
        // The trader console (/app) driven in headless Chromium (@sparticuz/chromium, from npm)
        // against both workers started on free loopback ports. Starting them takes most of the
        // hook's time: wrangler dev builds and boots two workers.
        test: { name: "browser", include: ["test/browser/**/*.test.mjs"], environment: "node", hookTimeout: 150_000, testTimeout: 120_000 },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./sim/wrangler.toml" },
            miniflare: { bindings: { SIM_MODE: "test" } },
          }),
        ],
        test: { name: "sim", include: ["sim/test/**/*.test.ts"] },
      },
      {
        plugins: [
          cloudflareTest(async () => {
            const [migrations, simScript] = await Promise.all([
              readD1Migrations("migrations"),
              bundleSimulator(),
            ]);
            return {
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                compatibilityFlags: ["nodejs_compat", "service_binding_extra_handlers"],
                // FUZZ_REQUESTS: the long form of test/fuzz-api.test.ts (`npm run fuzz`); empty in the suite.
                bindings: {
                  ...TEST_BINDINGS,
                  TEST_MIGRATIONS: migrations,
                  FUZZ_REQUESTS: process.env.FUZZ_REQUESTS ?? "",
                  // The long form's 100,000 request lines would cost more than the requests.
                  ...(process.env.FUZZ_REQUESTS ? { LOG_LEVEL: "error" } : {}),
                },
                workers: [
                  {
                    name: "lnm-sim",
                    modules: true,
                    scriptPath: simScript,
                    compatibilityDate: "2026-11-01",
                    bindings: { SIM_MODE: "test" },
                    durableObjects: { EXCHANGE: { className: "ExchangeDO", useSQLite: true } },
                  },
                ],
              },
            };
          }),
        ],
        test: {
          name: "platform",
          // One simulator serves every platform test file: files run one at a time so a test
          // that moves the simulator's price does not move it under another file's feet.
          fileParallelism: false,
          include: ["test/**/*.test.ts"],
          exclude: ["test/domain/**", "test/scripts/**"],
          setupFiles: ["./test/setup.ts"],
        },
      },
    ],
  },
});
