/**
 * The payments consumer's side of dead letters: record a message's first and last error while
 * it is retried (the DLQ consumer reads them, since a DLQ message carries no error), forget
 * them once it settles, and store a dead letter directly for messages that retrying cannot
 * fix (malformed body, permanent provider error).
 *
 * `storeDeadLetter` keeps the signature of the shared dead-letter module (queues/dead-letters.ts)
 * so the payments consumer switches to it by changing one import here once it exists.
 */
import { and, eq } from "drizzle-orm";
import { getDb } from "../db/client";
import { deadLetters, queueMessageErrors } from "../db/schema";
import { newId } from "../lib/ids";

export interface DeadLetterInput {
  queue: string;
  messageId: string;
  body: unknown;
  attempts: number;
  errorClass: string;
  firstError: string | null;
  lastError: string | null;
}

const clip = (s: string | null) => (s === null ? null : s.slice(0, 1000));

/** Stores a dead letter once per (queue, messageId): a replayed store changes nothing. */
export async function storeDeadLetter(env: Pick<Env, "DB">, d: DeadLetterInput): Promise<void> {
  await getDb(env).insert(deadLetters).values({
    id: newId("dlq"), queue: d.queue, messageId: d.messageId, body: JSON.stringify(d.body ?? null), attempts: d.attempts,
    errorClass: d.errorClass, firstError: clip(d.firstError), lastError: clip(d.lastError), receivedAt: Date.now(), status: "open",
  }).onConflictDoNothing().run();
}

/** Keeps the first error and updates the last one of a message about to be retried. */
export async function recordMessageError(env: Pick<Env, "DB">, queue: string, messageId: string, errorClass: string, error: string, attempts: number): Promise<void> {
  const now = Date.now();
  const e = error.slice(0, 1000);
  await getDb(env).insert(queueMessageErrors)
    .values({ queue, messageId, errorClass, firstError: e, lastError: e, attempts, updatedAt: now })
    .onConflictDoUpdate({ target: [queueMessageErrors.queue, queueMessageErrors.messageId], set: { errorClass, lastError: e, attempts, updatedAt: now } })
    .run();
}

/** The recorded errors of a message, if it failed before. */
export async function readMessageError(env: Pick<Env, "DB">, queue: string, messageId: string) {
  return getDb(env).select().from(queueMessageErrors).where(and(eq(queueMessageErrors.queue, queue), eq(queueMessageErrors.messageId, messageId))).get();
}

/** Forgets a message's errors once it settled. */
export async function clearMessageError(env: Pick<Env, "DB">, queue: string, messageId: string): Promise<void> {
  await getDb(env).delete(queueMessageErrors).where(and(eq(queueMessageErrors.queue, queue), eq(queueMessageErrors.messageId, messageId))).run();
}
