import { abortReasonToOnexError } from '@onex/core';
import { onAbort } from '@onex/core/internal';

interface Waiter {
  readonly resolve: () => void;
  /** Stops listening to the waiter's signal. */
  unlink: () => void;
}

/**
 * A FIFO mutex over one database connection: while a transaction awaits between `BEGIN` and `COMMIT`, every other
 * statement on the connection would join it, so access is serialized.
 *
 * @internal Used by {@link SqliteTransactionManager}; not part of the public API.
 */
export class ConnectionLock {
  #held = false;
  readonly #waiters: Waiter[] = [];

  /** True while someone holds the lock. */
  get held(): boolean {
    return this.#held;
  }

  /** Callers waiting for the lock. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes the lock now if it is free (returns true), else returns false without waiting. */
  tryAcquire(): boolean {
    if (this.#held) return false;
    this.#held = true;
    return true;
  }

  /** Waits for the lock; rejects with the abort reason when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(abortReasonToOnexError(signal));
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, unlink: noop };
      this.#waiters.push(waiter);
      // Not aborted yet (checked above), so this never runs at once.
      waiter.unlink = onAbort(signal, () => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        reject(abortReasonToOnexError(signal as AbortSignal));
      });
    });
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.#waiters.shift();
    if (next === undefined) {
      this.#held = false;
      return;
    }
    next.unlink();
    next.resolve();
  }
}

function noop(): void {}
