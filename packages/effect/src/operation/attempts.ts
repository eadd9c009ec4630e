import { abortReasonToOnexError, ErrorCode, OnexError, RetryPolicy, type CallContext } from '@onex/core';
import { onAbort, raceAbort } from '@onex/core/internal';
import type { KeyedRun } from '../idempotency/keyed-run.js';
import { AttemptContext } from './attempt-context.js';
import type { PreparedOperation } from './prepared-operation.js';

const NO_RETRY = RetryPolicy.noRetry();

/**
 * An operation's attempts under its retry policy: attempt control (retries, breaker, per-attempt timeout, abort).
 * The first attempt runs before the policy is entered, so a call that succeeds at once pays nothing for it; after a
 * failure the policy decides, waits and runs the rest (its attempt 1 is the failure already seen). A non-idempotent
 * operation is retried only in a keyed run. A keyed run's retries wait for attempts still running (see
 * {@link KeyedRun}) and stop when its lease is lost.
 *
 * @internal Used by {@link NodeEffect} and its keyed runs.
 */
export async function runAttempts(prepared: PreparedOperation, input: unknown, ctx: CallContext, keyed: KeyedRun | undefined): Promise<unknown> {
  const policy = prepared.op.idempotent || keyed !== undefined ? prepared.retry : NO_RETRY;
  const attempt = (n: number): Promise<unknown> => {
    if (keyed?.lost !== undefined) return Promise.reject(keyed.lost);
    const breaker = prepared.breaker;
    if (breaker === undefined) return bounded(prepared, input, ctx, n, keyed, undefined);
    return breaker.execute((breakerSignal) => bounded(prepared, input, ctx, n, keyed, breakerSignal));
  };
  let first: unknown;
  try {
    return await attempt(1);
  } catch (error) {
    if (policy.options.maxAttempts === 1) throw error;
    first = error;
  }
  // A keyed run also stops retrying, and waiting, when its lease is lost.
  const signal = keyed === undefined ? ctx.signal : keyed.signalFor(ctx.signal);
  const retry =
    keyed === undefined
      ? attempt
      : async (n: number): Promise<unknown> => {
          // An earlier attempt that timed out may still run its operation: wait for it rather than run the effect
          // twice at once; if it succeeded after all, its result is the run's.
          if (keyed.busy) await untilSettled(keyed.whenIdle(), signal, ctx.correlationId);
          const late = keyed.lateResult;
          return late === undefined ? attempt(n) : late.value;
        };
  return policy.execute((n) => (n === 1 ? Promise.reject(first as Error) : retry(n)), {
    signal,
    ...(ctx.deadlineAt === undefined ? {} : { deadlineAt: ctx.deadlineAt }),
    onRetry: (info) => {
      prepared.stats.retries++;
      ctx.logger.warn({ operation: prepared.op.name, attempt: info.attempt, delayMs: info.delayMs, code: info.error.code }, 'operation attempt failed; retrying');
    },
  });
}

/**
 * Waits for `settling` (which never rejects), or rejects with the TIMEOUT/CANCELLED of `signal` when it aborts first.
 *
 * @internal Used by {@link NodeEffect}'s keyed runs.
 */
export function untilSettled(settling: Promise<unknown>, signal: AbortSignal, correlationId: string): Promise<void> {
  return raceAbort(
    settling.then(() => undefined),
    signal,
    (aborted) => abortReasonToOnexError(aborted, correlationId),
  );
}

function noop(): void {}

/**
 * One attempt with its own signal: the call's, the breaker's (only when the breaker has a timeout) and the
 * operation's timeout. Without either, the attempt runs on the call's signal (a keyed run's adds its lease, made
 * only if the operation reads it) and `handle()` races the call. (In Node 20 every AbortSignal that gets a
 * listener costs ~4 µs, so this path adds as few as it can.)
 *
 * An attempt stopped by a timeout or an abort answers at once; in a keyed run it stays counted as running until
 * its operation settles (see {@link KeyedRun}), and a lost lease stops it.
 */
function bounded(
  prepared: PreparedOperation,
  input: unknown,
  ctx: CallContext,
  attempt: number,
  keyed: KeyedRun | undefined,
  breakerSignal: AbortSignal | undefined,
): Promise<unknown> {
  const { op, timeoutMs } = prepared;
  const guard = prepared.breakerTimes ? breakerSignal : undefined;
  if (timeoutMs === undefined && guard === undefined) {
    return prepared.work(input, new AttemptContext<unknown>(ctx, op.name, attempt, undefined, keyed), keyed);
  }
  return new Promise<unknown>((resolve, reject) => {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    let unlinkCall = noop;
    let unlinkGuard = noop;
    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      unlinkCall();
      unlinkGuard();
    };
    // Rejects at once, even when the operation ignores its signal.
    const stop = (reason: unknown): void => {
      if (settled) return;
      cleanup();
      controller.abort(reason);
      reject(abortReasonToOnexError(controller.signal, ctx.correlationId));
    };
    // Each runs `stop` at once when its signal has already aborted.
    unlinkCall = onAbort(ctx.signal, stop);
    if (!settled) unlinkGuard = onAbort(guard, stop);
    if (!settled && keyed?.lost !== undefined) stop(keyed.lost);
    if (settled) return;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        stop(
          new OnexError(ErrorCode.Timeout, `Operation '${op.name}' timed out after ${String(timeoutMs)} ms`, {
            correlationId: ctx.correlationId,
            context: { operation: op.name, timeoutMs },
          }),
        );
      }, timeoutMs);
    }
    const opCtx = new AttemptContext<unknown>(ctx, op.name, attempt, undefined, controller.signal);
    keyed?.attemptStarted(stop);
    prepared.work(input, opCtx, keyed).then(
      (value) => {
        // Settled after it answered: the key's holder records this value (the effect did happen).
        keyed?.attemptSettled(stop, settled ? { value } : undefined);
        if (settled) return;
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        keyed?.attemptSettled(stop);
        if (settled) return;
        cleanup();
        // Passed on as thrown: toOnexError classifies foreign values (`{ status: 503 }`) later.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(error);
      },
    );
  });
}
