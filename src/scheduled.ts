/** The every-minute cron: payment sweeper, watchdog, alert rules, stuck simulations, retention. */
import { getDb } from "./db/client";
import { incrementCounters } from "./db/counters";
import { systemState } from "./db/schema";
import { createLogger } from "./lib/logger";
import { sweepPayments } from "./lightning/sweeper";
import { evaluateAlertRules } from "./ops/alert-rules";
import { loadRetention, runRetention } from "./ops/retention";
import { sweepSimulations } from "./ops/simulation-sweeper";
import { restoreDriftCounters, takeDriftCounters } from "./lnmarkets/drift";

export async function handleScheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const logger = createLogger({ level: env.LOG_LEVEL, base: { worker: "cron" } });
  const now = Date.now();
  await getDb(env)
    .insert(systemState)
    .values({ key: "last_cron_run", value: String(controller.scheduledTime), updatedAt: now })
    .onConflictDoUpdate({ target: systemState.key, set: { value: String(controller.scheduledTime), updatedAt: now } })
    .run();
  logger.info("cron.run", { cron: controller.cron, scheduledTime: controller.scheduledTime });
  try {
    await sweepPayments(env, { now, logger });
  } catch (e) {
    // One failing sweep must not stop the rest of the cron.
    logger.error("cron.payment_sweep_failed", { error: e });
  }
  try {
    await evaluateAlertRules(env, { now, logger }); // alert rules + watchdog (src/ops)
  } catch (e) {
    logger.error("cron.alert_rules_failed", { error: e });
  }
  try {
    await sweepSimulations(env, { now, logger });
  } catch (e) {
    logger.error("cron.simulation_sweep_failed", { error: e });
  }
  // Schema drifts this isolate saw (credential checks read /account here); account DOs flush
  // their own at their heartbeat.
  const drift = takeDriftCounters();
  try {
    if (Object.keys(drift).length) await incrementCounters(getDb(env), drift);
  } catch (e) {
    restoreDriftCounters(drift);
    logger.error("cron.drift_counters_failed", { error: e });
  }
  try {
    await runRetention(env, { now, days: loadRetention(env, logger), logger });
  } catch (e) {
    logger.error("cron.retention_failed", { error: e });
  }
}
