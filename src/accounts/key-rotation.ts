/**
 * Re-encrypts every secret at rest under the current CREDENTIALS_KEYS key (issue 22, item 3):
 * exchange credentials (exchange_accounts.credentials_enc) and webhook signing secrets (inside
 * notification_channels.config). Bounded per call and resumable: rows are walked in id order
 * from a cursor, each update is guarded on the old ciphertext (a concurrent write wins), and a
 * call from scratch finds only what is still under an old key. A row that cannot be opened
 * (its key already removed, or tampered) is reported by id and skipped, never blocks the rest.
 */
import { and, asc, eq, gt, ne, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { exchangeAccounts, notificationChannels } from "../db/schema";
import { loadKeyRing, open, seal, type KeyRingHandle } from "../lib/credentials-crypto";

export interface RotationReport {
  currentKeyId: string;
  rotated: { accounts: number; webhookSecrets: number };
  /** Still under an old key after this call (failed rows included). */
  remaining: { accounts: number; webhookSecrets: number };
  failed: { kind: "account" | "webhook"; id: string }[];
  /** Pass back to continue after the rows this call looked at; null when both tables are walked. */
  cursor: string | null;
  done: boolean;
}

const SECRET_MARK = '"secretEnc":"v1:';

function staleWebhook(currentId: string) {
  return sql`instr(${notificationChannels.config}, ${SECRET_MARK}) > 0 AND instr(${notificationChannels.config}, ${`${SECRET_MARK}${currentId}:`}) = 0`;
}

async function rotateAccounts(db: Db, ring: KeyRingHandle, after: string, limit: number, report: RotationReport): Promise<string | null> {
  const rows = await db.select({ id: exchangeAccounts.id, enc: exchangeAccounts.credentialsEnc }).from(exchangeAccounts)
    .where(and(ne(exchangeAccounts.credentialsKeyId, ring.currentId), gt(exchangeAccounts.id, after)))
    .orderBy(asc(exchangeAccounts.id)).limit(limit).all();
  for (const row of rows) {
    try {
      const { plaintext } = await open(ring, row.id, row.enc);
      const sealed = await seal(ring, row.id, plaintext);
      const res = await db.update(exchangeAccounts).set({ credentialsEnc: sealed.value, credentialsKeyId: sealed.keyId })
        .where(and(eq(exchangeAccounts.id, row.id), eq(exchangeAccounts.credentialsEnc, row.enc))).run();
      if (res.meta.changes) report.rotated.accounts += 1;
    } catch {
      report.failed.push({ kind: "account", id: row.id });
    }
  }
  return rows.length === limit ? rows[rows.length - 1]!.id : null;
}

async function rotateWebhooks(db: Db, ring: KeyRingHandle, after: string, limit: number, report: RotationReport): Promise<string | null> {
  const rows = await db.select({ userId: notificationChannels.userId, config: notificationChannels.config }).from(notificationChannels)
    .where(and(staleWebhook(ring.currentId), gt(notificationChannels.userId, after)))
    .orderBy(asc(notificationChannels.userId)).limit(limit).all();
  for (const row of rows) {
    try {
      const cfg = JSON.parse(row.config) as { webhook?: { secretEnc?: string } };
      if (!cfg.webhook?.secretEnc) continue;
      // Webhook secrets are sealed with the user id as associated data (src/notify/settings.ts).
      const { plaintext } = await open(ring, row.userId, cfg.webhook.secretEnc);
      cfg.webhook.secretEnc = (await seal(ring, row.userId, plaintext)).value;
      const res = await db.update(notificationChannels).set({ config: JSON.stringify(cfg) })
        .where(and(eq(notificationChannels.userId, row.userId), eq(notificationChannels.config, row.config))).run();
      if (res.meta.changes) report.rotated.webhookSecrets += 1;
    } catch {
      report.failed.push({ kind: "webhook", id: row.userId });
    }
  }
  return rows.length === limit ? rows[rows.length - 1]!.userId : null;
}

/**
 * One bounded step of the rotation: up to `limit` rows, accounts first, then webhook secrets.
 * Cursor: `a:<account id>` or `w:<user id>`; call again with the returned cursor until it is null.
 */
export async function rotateSecrets(env: Pick<Env, "CREDENTIALS_KEYS">, db: Db, opts: { limit: number; cursor?: string | null }): Promise<RotationReport> {
  const ring = loadKeyRing(env.CREDENTIALS_KEYS);
  const report: RotationReport = { currentKeyId: ring.currentId, rotated: { accounts: 0, webhookSecrets: 0 }, remaining: { accounts: 0, webhookSecrets: 0 }, failed: [], cursor: null, done: false };
  const cursor = opts.cursor ?? "a:";
  let next: string | null = null;
  if (cursor.startsWith("a:")) {
    const last = await rotateAccounts(db, ring, cursor.slice(2), opts.limit, report);
    next = last !== null ? `a:${last}` : "w:";
  }
  if (next === "w:" || cursor.startsWith("w:")) {
    const from = cursor.startsWith("w:") ? cursor.slice(2) : "";
    const room = opts.limit - report.rotated.accounts - report.failed.length;
    if (room > 0) {
      const last = await rotateWebhooks(db, ring, from, room, report);
      next = last !== null ? `w:${last}` : null;
    } else next = `w:${from}`;
  }
  report.cursor = next;
  const [acc, hooks] = await Promise.all([
    db.select({ n: sql<number>`count(*)` }).from(exchangeAccounts).where(ne(exchangeAccounts.credentialsKeyId, ring.currentId)).get(),
    db.select({ n: sql<number>`count(*)` }).from(notificationChannels).where(staleWebhook(ring.currentId)).get(),
  ]);
  report.remaining = { accounts: acc?.n ?? 0, webhookSecrets: hooks?.n ?? 0 };
  report.done = report.remaining.accounts + report.remaining.webhookSecrets === 0;
  return report;
}
