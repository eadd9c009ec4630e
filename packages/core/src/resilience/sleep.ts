import { abortReasonToOnexError } from '../errors/onex-error.js';
import { MAX_TIMEOUT_MS } from '../transport/headers.js';

/**
 * Waits `ms` milliseconds, or rejects as soon as `signal` aborts with
 * `abortReasonToOnexError(signal)` (`CANCELLED`, or `TIMEOUT` for a deadline signal).
 *
 * The timer is not `unref`ed: a pending backoff is real work the process should wait for. The abort listener
 * is removed when the sleep ends, so a long-lived signal does not collect listeners.
 *
 * @example
 * ```ts
 * import { sleep } from '@onex/core';
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(), 10);
 * await sleep(1_000, controller.signal); // rejects after ~10 ms with OnexError CANCELLED
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  // Node fires timers longer than 2^31-1 ms at once.
  ms = Math.min(Math.max(0, ms), MAX_TIMEOUT_MS);
  if (signal === undefined) return new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
  if (signal.aborted) return Promise.reject(abortReasonToOnexError(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReasonToOnexError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
