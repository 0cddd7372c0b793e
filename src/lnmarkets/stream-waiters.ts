/**
 * The callers of the stream client's open() waiting for the socket to open.
 */

interface OpenWaiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  /** The open() call that started the loop reports its first failure; later ones wait. */
  failFast: boolean;
}

export class OpenWaiters {
  #waiters: OpenWaiter[] = [];

  /** A promise settled by a later settle(). */
  wait(failFast: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject, failFast }));
  }

  /** Resolves every waiter (success), or rejects fail-fast ones (all when `all`). */
  settle(err?: unknown, all = false): void {
    const keep: OpenWaiter[] = [];
    for (const w of this.#waiters) {
      if (err === undefined) w.resolve();
      else if (all || w.failFast) w.reject(err);
      else keep.push(w);
    }
    this.#waiters = keep;
  }
}
