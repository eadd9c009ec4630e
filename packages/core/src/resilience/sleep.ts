import { raceAbort } from '../internal/abort.js';
import { MAX_TIMEOUT_MS } from '../transport/headers.js';

/**
 * Waits `ms` milliseconds, or rejects as soon as `signal` aborts with
 * `abortReasonToOnexError(signal)` (`CANCELLED`, or `TIMEOUT` for a deadline signal).
 *
 * The timer is not `unref`ed: a pending backoff is real work the process should wait for. An abort clears it, and
 * the abort listener is removed when the sleep ends, so a long-lived signal does not collect listeners.
 *
 * Public because a node's `process` (and any code that waits on behalf of a call) should wait this way: honouring
 * `ctx.signal`, and failing with the error the node answers a cancelled or timed-out call with.
 *
 * @example
 * ```ts
 * import { sleep } from '@onex/core';
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(), 10);
 * await sleep(1_000, controller.signal).catch((e: unknown) => console.log(e)); // OnexError CANCELLED after ~10 ms
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  // Node fires timers longer than 2^31-1 ms at once.
  const delay = Math.min(Math.max(0, ms), MAX_TIMEOUT_MS);
  if (signal === undefined) return new Promise<void>((resolve) => setTimeout(resolve, delay));
  let timer: NodeJS.Timeout | undefined;
  const wait = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, delay);
  });
  return raceAbort(wait, signal).finally(() => clearTimeout(timer));
}
