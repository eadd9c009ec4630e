import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError, isOnexError } from '../errors/onex-error.js';
import { BreakerState, CircuitBreaker, type BreakerStateChange } from './circuit-breaker.js';
import { DEFAULT_CIRCUIT_BREAKER_OPTIONS, type CircuitBreakerOptions } from './circuit-breaker-options.js';
import { sleep } from './sleep.js';

const RESET_MS = 100;
const created: CircuitBreaker[] = [];

function breaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const b = new CircuitBreaker('peer-a', { volumeThreshold: 4, resetTimeoutMs: RESET_MS, timeoutMs: 1_000, ...options });
  created.push(b);
  return b;
}

afterEach(() => {
  for (const b of created.splice(0)) b.shutdown();
});

const ok = async (): Promise<string> => 'ok';
const down = async (): Promise<never> => {
  throw new OnexError(ErrorCode.Unavailable, 'peer down');
};

async function rejectionOf(promise: Promise<unknown>): Promise<OnexError> {
  try {
    await promise;
  } catch (error) {
    if (isOnexError(error)) return error;
    throw new Error(`expected an OnexError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection');
}

async function fail(b: CircuitBreaker, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await rejectionOf(b.execute(down));
}

/** Opens `b`, then waits for it to go half-open. */
async function halfOpen(b: CircuitBreaker): Promise<void> {
  await fail(b, 4);
  expect(b.state).toBe(BreakerState.Open);
  await vi.waitFor(() => expect(b.state).toBe(BreakerState.HalfOpen), { timeout: RESET_MS * 10, interval: 5 });
}

describe('CircuitBreaker', () => {
  it('stays closed below the volume threshold and opens once it is reached', async () => {
    const b = breaker();
    await fail(b, 3);
    expect(b.state).toBe(BreakerState.Closed);
    await fail(b, 1);
    expect(b.state).toBe(BreakerState.Open);
    expect(b.stats()).toMatchObject({ state: BreakerState.Open, failures: 4, successes: 0, rejections: 0 });
    expect(b.stats().openedAt).toBeTypeOf('number');
  });

  it('opens only when the failure rate exceeds errorThresholdPercentage', async () => {
    const b = breaker({ errorThresholdPercentage: 50 });
    await b.execute(ok);
    await b.execute(ok);
    await fail(b, 2); // 2 of 4 = 50 %: not above the threshold
    expect(b.state).toBe(BreakerState.Closed);
    await fail(b, 1); // 3 of 5 = 60 %
    expect(b.state).toBe(BreakerState.Open);
  });

  it('fails fast with CIRCUIT_OPEN and retryAfterMs while open, without calling fn', async () => {
    const b = breaker({ resetTimeoutMs: 10_000 });
    await fail(b, 4);
    const fn = vi.fn(ok);
    const error = await rejectionOf(b.execute(fn));
    expect(fn).not.toHaveBeenCalled();
    expect(error.code).toBe(ErrorCode.CircuitOpen);
    expect(error.retryable).toBe(true);
    expect(error.context).toMatchObject({ breaker: 'peer-a' });
    expect(error.retryAfterMs).toBeGreaterThan(9_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(10_000);
    expect(b.stats().rejections).toBe(1);
  });

  it('goes half-open after resetTimeoutMs and closes on a successful probe', async () => {
    const b = breaker();
    await halfOpen(b);
    await expect(b.execute(ok)).resolves.toBe('ok');
    expect(b.state).toBe(BreakerState.Closed);
    expect(b.stats().openedAt).toBeUndefined();
  });

  it('re-opens on a failed probe, restarting the reset timeout', async () => {
    const b = breaker();
    await halfOpen(b);
    const firstOpenedAt = b.stats().openedAt ?? 0;
    await fail(b, 1);
    expect(b.state).toBe(BreakerState.Open);
    expect(b.stats().openedAt).toBeGreaterThan(firstOpenedAt);
    expect(b.stats().openings).toBe(2);
    const error = await rejectionOf(b.execute(ok));
    expect(error.retryAfterMs).toBeGreaterThan(RESET_MS / 2);
    await vi.waitFor(() => expect(b.state).toBe(BreakerState.HalfOpen), { timeout: RESET_MS * 10, interval: 5 });
  });

  it('lets only one probe through while half-open by default; extra concurrent calls fail fast', async () => {
    const b = breaker();
    await halfOpen(b);
    let release = (): void => undefined;
    const probe = b.execute(() => new Promise<string>((resolve) => (release = () => resolve('probe'))));
    const extra = await rejectionOf(b.execute(ok));
    expect(extra.code).toBe(ErrorCode.CircuitOpen);
    expect(extra.context).toMatchObject({ breaker: 'peer-a', state: BreakerState.HalfOpen });
    release();
    await expect(probe).resolves.toBe('probe');
    expect(b.state).toBe(BreakerState.Closed);
  });

  it('honours halfOpenMaxProbes for concurrent probes', async () => {
    const b = breaker({ halfOpenMaxProbes: 2 });
    await halfOpen(b);
    const gates: (() => void)[] = [];
    const slow = (): Promise<string> => new Promise<string>((resolve) => gates.push(() => resolve('probe')));
    const first = b.execute(slow);
    const second = b.execute(slow);
    const third = await rejectionOf(b.execute(ok));
    expect(third.code).toBe(ErrorCode.CircuitOpen);
    expect(gates).toHaveLength(2);
    for (const open of gates) open();
    await expect(Promise.all([first, second])).resolves.toEqual(['probe', 'probe']);
    expect(b.state).toBe(BreakerState.Closed);
  });

  it('does not trip on errors that say nothing about the peer, and rethrows them unchanged', async () => {
    const b = breaker({ volumeThreshold: 2 });
    const validation = new OnexError(ErrorCode.Validation, 'bad input');
    for (let i = 0; i < 10; i++) {
      await expect(b.execute(() => Promise.reject(validation))).rejects.toBe(validation);
    }
    await rejectionOf(b.execute(() => Promise.reject(new OnexError(ErrorCode.NotFound, 'no such order'))));
    expect(b.state).toBe(BreakerState.Closed);
    expect(b.stats()).toMatchObject({ failures: 0, successes: 11 });
  });

  it('normalises foreign errors with toOnexError and counts them by isFailure', async () => {
    const b = breaker({ isFailure: (e) => e.code === ErrorCode.Conflict, errorThresholdPercentage: 40 });
    const raw = new Error('boom');
    const error = await rejectionOf(b.execute(() => Promise.reject(raw)));
    expect(error.code).toBe(ErrorCode.Internal);
    expect(error.cause).toBe(raw);
    expect(b.stats().failures).toBe(0); // custom isFailure: INTERNAL does not count
    await fail(b, 4);
    expect(b.state).toBe(BreakerState.Closed);
    // 5 non-failures so far; the 4th CONFLICT makes 4 of 9 = 44 % > 40 %.
    for (let i = 0; i < 3; i++) await rejectionOf(b.execute(() => Promise.reject(new OnexError(ErrorCode.Conflict, 'x'))));
    expect(b.state).toBe(BreakerState.Closed);
    await rejectionOf(b.execute(() => Promise.reject(new OnexError(ErrorCode.Conflict, 'x'))));
    expect(b.state).toBe(BreakerState.Open);
  });

  it('times out a slow call: aborts its signal and throws TIMEOUT, counted as a failure', async () => {
    const b = breaker({ timeoutMs: 30 });
    let seen: AbortSignal | undefined;
    const started = Date.now();
    const error = await rejectionOf(
      b.execute(
        (signal) =>
          new Promise<string>((_resolve, reject) => {
            seen = signal;
            signal.addEventListener('abort', () => reject(new Error('aborted late')), { once: true });
          }),
      ),
    );
    // The call never settles: only the breaker's 30 ms timeout (named in the context) can end it.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error.code).toBe(ErrorCode.Timeout);
    expect(error.context).toMatchObject({ breaker: 'peer-a', timeoutMs: 30 });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(error);
    expect(b.stats()).toMatchObject({ timeouts: 1, failures: 1 });
  });

  it('does not let a cancelled probe decide the half-open outcome', async () => {
    const b = breaker();
    await halfOpen(b);
    await rejectionOf(b.execute(() => Promise.reject(new OnexError(ErrorCode.Cancelled, 'caller left'))));
    expect(b.state).toBe(BreakerState.HalfOpen);
    await b.execute(ok); // the slot was released
    expect(b.state).toBe(BreakerState.Closed);
  });

  it('reports state changes in order, and stops after unsubscribe', async () => {
    const b = breaker();
    const changes: BreakerStateChange[] = [];
    const unsubscribe = b.onStateChange((change) => changes.push(change));
    await halfOpen(b);
    await fail(b, 1);
    await vi.waitFor(() => expect(b.state).toBe(BreakerState.HalfOpen), { timeout: RESET_MS * 10, interval: 5 });
    await b.execute(ok);
    expect(changes.map(({ from, to }) => `${from}->${to}`)).toEqual([
      'closed->open',
      'open->half_open',
      'half_open->open',
      'open->half_open',
      'half_open->closed',
    ]);
    expect(changes.every((c) => c.key === 'peer-a')).toBe(true);
    expect(changes.map((c) => c.at)).toEqual([...changes.map((c) => c.at)].sort((x, y) => x - y));
    unsubscribe();
    await fail(b, 4);
    expect(b.state).toBe(BreakerState.Open);
    expect(changes).toHaveLength(5);
  });

  it('keeps the breaker consistent when a listener throws', async () => {
    const b = breaker();
    const boom = new Error('listener bug');
    const uncaught = vi.fn();
    // The listener error is rethrown from a microtask; intercept it instead of failing the test run.
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (cb) => {
      try {
        cb();
      } catch (error) {
        uncaught(error);
      }
    };
    try {
      b.onStateChange(() => {
        throw boom;
      });
      await fail(b, 4);
    } finally {
      globalThis.queueMicrotask = original;
    }
    expect(b.state).toBe(BreakerState.Open);
    expect(uncaught).toHaveBeenCalledWith(boom);
  });

  it('fails with LIFECYCLE after shutdown', async () => {
    const b = breaker();
    b.shutdown();
    b.shutdown();
    const error = await rejectionOf(b.execute(ok));
    expect(error.code).toBe(ErrorCode.Lifecycle);
  });

  it('keeps no referenced timer alive while open', async () => {
    const refTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = refTimers();
    const b = breaker({ resetTimeoutMs: 60_000 });
    await fail(b, 4);
    expect(b.state).toBe(BreakerState.Open);
    expect(refTimers()).toBe(before);
  });

  it('applies the documented defaults and validates options', () => {
    const b = new CircuitBreaker('defaults');
    created.push(b);
    expect(b.options).toEqual(DEFAULT_CIRCUIT_BREAKER_OPTIONS);
    expect(DEFAULT_CIRCUIT_BREAKER_OPTIONS).toMatchObject({
      timeoutMs: 10_000,
      errorThresholdPercentage: 50,
      volumeThreshold: 10,
      resetTimeoutMs: 30_000,
      rollingWindowMs: 10_000,
      rollingBuckets: 10,
      halfOpenMaxProbes: 1,
    });
    const { isFailure } = DEFAULT_CIRCUIT_BREAKER_OPTIONS;
    expect(isFailure(new OnexError(ErrorCode.Internal, 'x'))).toBe(true);
    expect(isFailure(new OnexError(ErrorCode.Timeout, 'x'))).toBe(true);
    expect(isFailure(new OnexError(ErrorCode.RateLimited, 'x'))).toBe(true);
    expect(isFailure(new OnexError(ErrorCode.Validation, 'x'))).toBe(false);
    expect(isFailure(new OnexError(ErrorCode.NotFound, 'x'))).toBe(false);
    expect(isFailure(new OnexError(ErrorCode.Cancelled, 'x'))).toBe(false);

    const invalid: [string, CircuitBreakerOptions][] = [
      ['timeoutMs', { timeoutMs: 0 }],
      ['errorThresholdPercentage', { errorThresholdPercentage: 101 }],
      ['volumeThreshold', { volumeThreshold: -1 }],
      ['resetTimeoutMs', { resetTimeoutMs: Number.POSITIVE_INFINITY }],
      ['rollingBuckets', { rollingBuckets: 0 }],
      ['rollingWindowMs', { rollingWindowMs: 5, rollingBuckets: 10 }],
      ['halfOpenMaxProbes', { halfOpenMaxProbes: 0 }],
    ];
    for (const [option, options] of invalid) {
      let caught: unknown;
      try {
        new CircuitBreaker('x', options);
      } catch (error) {
        caught = error;
      }
      expect(isOnexError(caught) && caught.code).toBe(ErrorCode.Validation);
      expect((caught as OnexError).context).toEqual({ option });
    }
  });
});

describe('CircuitBreaker rolling window', () => {
  it('judges failures after recovery on the rolling window, once the failures that opened it rotate out', async () => {
    const b = breaker({ volumeThreshold: 4, rollingWindowMs: 100, rollingBuckets: 10 });
    await halfOpen(b);
    await b.execute(ok);
    await sleep(150); // let the rolling window forget the failures that opened it
    await fail(b, 1);
    expect(b.state).toBe(BreakerState.Closed);
  });
});

describe('issue 9 #12: the rolling window starts fresh after recovery', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('one failure right after a successful half-open probe does not reopen the breaker', async () => {
    vi.useFakeTimers();
    // A window much longer than the reset timeout: without a reset, the failures that opened it are still in it.
    const b = breaker({ volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeoutMs: 1_000, rollingWindowMs: 60_000, rollingBuckets: 10 });
    await fail(b, 4);
    expect(b.state).toBe(BreakerState.Open);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.state).toBe(BreakerState.HalfOpen);
    await expect(b.execute(ok)).resolves.toBe('ok');
    expect(b.state).toBe(BreakerState.Closed);

    await fail(b, 1);
    expect(b.state).toBe(BreakerState.Closed);
    // The thresholds still apply to the calls made since the recovery.
    await fail(b, 3);
    expect(b.state).toBe(BreakerState.Open);
    expect(b.stats()).toMatchObject({ openings: 2, failures: 8, successes: 1 });
  });

  it('keeps rotating the window on its own timer: old failures still age out', async () => {
    vi.useFakeTimers();
    const b = breaker({ volumeThreshold: 4, rollingWindowMs: 1_000, rollingBuckets: 10 });
    await fail(b, 3);
    await vi.advanceTimersByTimeAsync(1_000); // every bucket rotated out
    await fail(b, 3);
    expect(b.state).toBe(BreakerState.Closed);
    await fail(b, 1);
    expect(b.state).toBe(BreakerState.Open);
  });
});

describe('CircuitBreaker without a timeout', () => {
  it('lets many concurrent calls listen to the signal it hands them without a listener-leak warning', async () => {
    const breaker = new CircuitBreaker('no-timeout-fan-out', { timeoutMs: false });
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    try {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // Each call listens to its signal while in flight, as fetch(url, { signal }) does, and stops when it settles.
      const calls = Array.from({ length: 32 }, (_, i) =>
        breaker.execute(async (signal) => {
          const onAbortEvent = (): void => undefined;
          signal.addEventListener('abort', onAbortEvent);
          try {
            await gate;
            return i;
          } finally {
            signal.removeEventListener('abort', onAbortEvent);
          }
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
      release();
      expect(await Promise.all(calls)).toHaveLength(32);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
      breaker.shutdown();
    }
    expect(warnings).toEqual([]);
  });
});
