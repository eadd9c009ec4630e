import { setMaxListeners } from 'node:events';
import { abortReasonToOnexError } from '../errors/onex-error.js';

/**
 * Runs `listener` once when `signal` aborts, and answers the function that stops listening. On a signal that has
 * already aborted, `listener` runs at once (synchronously) and the answer is a no-op. On `undefined`, nothing ever
 * runs. This is the one place that pairs `addEventListener('abort')` with its removal, so a long-lived signal never
 * collects listeners of calls that settled.
 *
 * @internal for ONEX packages; not part of the public API.
 *
 * @example
 * ```ts
 * import { onAbort } from '@onex/core/internal';
 * const controller = new AbortController();
 * const stop = onAbort(controller.signal, (reason) => console.log('aborted:', reason));
 * stop(); // the call settled first: nothing will run
 * ```
 */
export function onAbort(signal: AbortSignal | undefined, listener: (reason: unknown) => void): () => void {
  if (signal === undefined) return noop;
  if (signal.aborted) {
    listener(signal.reason);
    return noop;
  }
  const handler = (): void => listener(signal.reason);
  signal.addEventListener('abort', handler, { once: true });
  return () => signal.removeEventListener('abort', handler);
}

/**
 * Settles with `work`, or rejects as soon as `signal` aborts, whichever comes first. The rejection is
 * `toError(signal)`, by default `abortReasonToOnexError(signal)` (`CANCELLED`, or `TIMEOUT` for a deadline signal).
 * `work` itself is not stopped: pass the signal to it as well when it can stop. The listener is removed when either
 * side settles. A rejection of `work` after the abort is observed, so it never surfaces as unhandled.
 *
 * @internal for ONEX packages; not part of the public API.
 *
 * @example
 * ```ts
 * import { raceAbort } from '@onex/core/internal';
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(), 10);
 * await raceAbort(new Promise(() => {}), controller.signal).catch((e: unknown) => console.log(e)); // CANCELLED
 * ```
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, toError: (signal: AbortSignal) => Error = abortReasonToOnexError): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    work.catch(noop);
    return Promise.reject(toError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const stop = onAbort(signal, () => {
      work.catch(noop);
      reject(toError(signal));
    });
    work.finally(stop).then(resolve, reject);
  });
}

/** Node's default: past this many listeners on one signal it warns of a possible leak. */
const DEFAULT_MAX_LISTENERS = 10;
/** Abort listeners one user of a shared signal may hold at once: its transport's, the node's, a retry's wait, its own. */
const LISTENERS_PER_CONSUMER = 4;

/**
 * Declares that `signal` is shared by up to `consumers` concurrent users (the parallel steps of one run, say), each of
 * which listens to it while it works. Node warns of a "possible EventTarget memory leak" past 10 abort listeners on a
 * signal; such a signal legitimately holds a few per user, each removed when that user settles ({@link onAbort}), so
 * its limit becomes `consumers` × 4 (never below Node's 10). It stays a bound: a real leak still warns.
 *
 * @internal for ONEX packages; not part of the public API.
 *
 * @example
 * ```ts
 * import { shareSignal } from '@onex/core/internal';
 * const steps = new AbortController();
 * shareSignal(steps.signal, 16); // 16 steps may listen at once without a warning
 * ```
 */
export function shareSignal(signal: AbortSignal, consumers: number): AbortSignal {
  const limit = consumers * LISTENERS_PER_CONSUMER;
  if (limit > DEFAULT_MAX_LISTENERS) setMaxListeners(limit, signal);
  return signal;
}

function noop(): void {}
