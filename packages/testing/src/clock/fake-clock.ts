import { ErrorCode, OnexError, type Clock } from '@onex/core';
import { install, timers as nativeTimers, type Clock as SinonClock, type FakeMethod } from '@sinonjs/fake-timers';

/**
 * What a fake clock replaces: timers and `Date`. `process.nextTick`, `setImmediate`, `queueMicrotask` and
 * `performance` stay real, so promises, I/O callbacks and latency measurements run as usual while time stands still.
 */
const FAKED: readonly FakeMethod[] = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'];

/** One day: how far {@link FakeClock.runUntil} advances at most before it gives up. */
const DEFAULT_RUN_UNTIL_LIMIT_MS = 86_400_000;

/**
 * Options of {@link installFakeClock}.
 *
 * @example
 * ```ts
 * const options: FakeClockOptions = { now: Date.UTC(2030, 0, 1), loopLimit: 50_000 };
 * ```
 */
export interface FakeClockOptions {
  /** The time the clock starts at, epoch ms or a `Date`. Default: the real time of the call. */
  readonly now?: number | Date;
  /** Most timers one `advance`/`runUntil` runs before it throws (a timer that keeps rescheduling itself). Default 10 000. */
  readonly loopLimit?: number;
}

/**
 * Options of {@link FakeClock.runUntil}.
 *
 * @example
 * ```ts
 * const options: RunUntilOptions = { limitMs: 3_600_000 };
 * ```
 */
export interface RunUntilOptions {
  /** Fake time it advances at most before it rejects with `TIMEOUT`. Default one day. */
  readonly limitMs?: number;
}

/**
 * A fake clock installed on the globals: `setTimeout`, `setInterval` (and their `clear…`) and `Date` follow it, so the
 * engine's deadlines, the retry policy's backoff and the circuit breakers' reset timers (opossum's own timers too)
 * wait for {@link FakeClock.advance} instead of real time. It is also a core {@link Clock}: pass it as the `clock`
 * option of a node. Uninstall it when the test ends: `using clock = installFakeClock()` does.
 *
 * @example
 * ```ts
 * import { installFakeClock } from '@onex/testing';
 *
 * using clock = installFakeClock({ now: Date.UTC(2030, 0, 1) });
 * let fired = false;
 * setTimeout(() => (fired = true), 60_000);
 * await clock.advance(60_000);
 * console.log(fired, new Date(clock.now()).toISOString()); // true 2030-01-01T00:01:00.000Z
 * ```
 */
export interface FakeClock extends Clock, Disposable {
  /** The fake time, epoch ms (what `Date.now()` answers while the clock is installed). */
  now(): number;
  /**
   * Moves time forward by `ms`, running every timer that falls due on the way, in order; between two timers it lets
   * promises and I/O callbacks run (a real macrotask), so work a timer starts gets to schedule its next timer.
   * Resolves with the new time.
   */
  advance(ms: number): Promise<number>;
  /** Moves time to the next timer and runs it (and what it starts, as `advance` does). Resolves with the new time. */
  runToNext(): Promise<number>;
  /**
   * Runs timers one after another until `promise` settles, and settles as it does: the way to await something that
   * waits on fake time (a retried step, a workflow's deadline) without knowing how long it waits. While no timer
   * is due it waits for real I/O instead. Rejects with `TIMEOUT` once it moved `limitMs` of fake time.
   */
  runUntil<T>(promise: Promise<T>, options?: RunUntilOptions): Promise<T>;
  /** Timers scheduled and not yet run. */
  pendingTimers(): number;
  /** Puts the real timers and `Date` back. Timers still pending never run. Idempotent. */
  uninstall(): void;
}

/**
 * Installs a {@link FakeClock} on the globals (with `@sinonjs/fake-timers`): timers and `Date` only, so promises,
 * `setImmediate`, `process.nextTick` and I/O keep running. One at a time: installing a second one, or one while
 * vitest's `vi.useFakeTimers()` fakes `Date`, throws `LIFECYCLE`.
 *
 * Everything that reads the time through `Date.now()` or a {@link Clock} defaulting to it, and waits with
 * `setTimeout`/`setInterval`, follows the clock: a node's call deadlines, the orchestrator's workflow and step
 * deadlines, leases and wake-ups, `RetryPolicy` backoff (`sleep`), `CircuitBreaker` reset timeouts. Install it before
 * you create what schedules timers; timers created before stay real.
 *
 * @throws OnexError `LIFECYCLE` when a fake clock is installed already.
 * @example
 * ```ts
 * import { ErrorCode, OnexError, RetryPolicy } from '@onex/core';
 * import { installFakeClock } from '@onex/testing';
 *
 * using clock = installFakeClock();
 * const retry = new RetryPolicy({ maxAttempts: 3, initialDelayMs: 60_000, jitter: 'none' });
 * let attempts = 0;
 * const result = retry.execute(async () => {
 *   attempts += 1;
 *   if (attempts < 3) throw new OnexError(ErrorCode.Unavailable, 'not yet'); // retryable
 *   return 'done';
 * });
 * console.log(await clock.runUntil(result)); // 'done', after three minutes of fake time and no real wait
 * ```
 */
export function installFakeClock(options: FakeClockOptions = {}): FakeClock {
  if ((Date as { isFake?: boolean }).isFake === true) {
    throw new OnexError(ErrorCode.Lifecycle, 'A fake clock is installed already: uninstall it first (one at a time)');
  }
  const sinon: SinonClock = install({
    now: options.now ?? Date.now(),
    toFake: [...FAKED],
    loopLimit: options.loopLimit ?? 10_000,
    // A timer made before the clock was installed (a real one) may be cleared while it is: pass that on to Node.
    shouldClearNativeTimers: true,
  });
  let installed = true;

  const ensureInstalled = (): void => {
    if (!installed) throw new OnexError(ErrorCode.Lifecycle, 'The fake clock was uninstalled');
  };

  const runUntil = async <T>(promise: Promise<T>, runOptions: RunUntilOptions = {}): Promise<T> => {
    const limitMs = runOptions.limitMs ?? DEFAULT_RUN_UNTIL_LIMIT_MS;
    let settled = false;
    const tracked = promise.finally(() => {
      settled = true;
    });
    // The rejection is the caller's: observed here only so that it is not reported unhandled meanwhile.
    tracked.catch(() => undefined);
    const until = sinon.now + limitMs;
    await realMacrotask();
    while (!settled) {
      ensureInstalled();
      if (sinon.countTimers() === 0) {
        // Nothing is due in fake time: the promise waits on real I/O.
        await realMacrotask();
        continue;
      }
      if (sinon.now >= until) {
        throw new OnexError(ErrorCode.Timeout, `The promise did not settle within ${limitMs} ms of fake time`);
      }
      await sinon.nextAsync();
    }
    return tracked;
  };

  const uninstall = (): void => {
    if (!installed) return;
    installed = false;
    sinon.uninstall();
  };

  return {
    now: () => sinon.now,
    advance: async (ms) => {
      ensureInstalled();
      if (!(Number.isFinite(ms) && ms >= 0)) throw new OnexError(ErrorCode.Validation, `advance(ms) needs a finite ms >= 0 (got ${ms})`);
      return sinon.tickAsync(ms);
    },
    runToNext: async () => {
      ensureInstalled();
      return sinon.nextAsync();
    },
    runUntil,
    pendingTimers: () => sinon.countTimers(),
    uninstall,
    [Symbol.dispose]: uninstall,
  };
}

/** One turn of the real event loop (the fake clock does not hold it): I/O callbacks and promises run meanwhile. */
function realMacrotask(): Promise<void> {
  return new Promise((resolve) => nativeTimers.setTimeout(() => resolve(), 0));
}
