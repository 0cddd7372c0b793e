import { DurableObject } from "cloudflare:workers";

/** One per exchange account: stream socket, scheduler, executor (issue 6). */
export class AccountDO extends DurableObject<Env> {
  /** Drops the decrypted credentials held in memory. */
  async clearCredentialsCache(): Promise<void> {}
  /** Re-reads from D1 whether this account should run, and starts or stops accordingly. */
  async refreshScheduling(): Promise<void> {}
  /** Stops everything and deletes all state (the account is being deleted). */
  async forget(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }
}
