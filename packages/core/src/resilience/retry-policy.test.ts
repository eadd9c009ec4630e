import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError, isOnexError, isUnclassifiedError } from '../errors/onex-error.js';
import { DEFAULT_RETRY_POLICY_OPTIONS, RetryPolicy, isRetryableError, type RetryInfo } from './retry-policy.js';
import { sleep } from './sleep.js';

const unavailable = (): OnexError => new OnexError(ErrorCode.Unavailable, 'peer down');

async function rejectionOf(promise: Promise<unknown>): Promise<OnexError> {
  try {
    await promise;
  } catch (error) {
    if (isOnexError(error)) return error;
    throw new Error(`expected an OnexError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection');
}

describe('RetryPolicy.execute', () => {
  it('retries a retryable error and then succeeds', async () => {
    const policy = new RetryPolicy({ initialDelayMs: 1 });
    const onRetry = vi.fn<(info: RetryInfo) => void>();
    const fn = vi.fn(async (attempt: number) => {
      if (attempt < 3) throw unavailable();
      return `ok on ${attempt}`;
    });
    await expect(policy.execute(fn, { onRetry })).resolves.toBe('ok on 3');
    expect(fn).toHaveBeenCalledTimes(3);
    expect(onRetry.mock.calls.map(([info]) => info.attempt)).toEqual([1, 2]);
  });

  it('does not retry a non-retryable error and rethrows it with context.attempts, keeping its class', async () => {
    class OrderNotFoundError extends OnexError {
      readonly orderId = 42;
    }
    const original = new OrderNotFoundError(ErrorCode.NotFound, 'order 42 not found', {
      context: { orderId: 42 },
      correlationId: 'c-1',
    });
    const fn = vi.fn(async () => {
      throw original;
    });
    const error = await rejectionOf(new RetryPolicy({ initialDelayMs: 1 }).execute(fn));
    expect(fn).toHaveBeenCalledTimes(1);
    // Not `toBeInstanceOf`: OnexError's static Symbol.hasInstance makes every OnexError pass it for any subclass.
    expect(Object.getPrototypeOf(error)).toBe(OrderNotFoundError.prototype);
    expect((error as OrderNotFoundError).orderId).toBe(42);
    expect(error.code).toBe(ErrorCode.NotFound);
    expect(error.message).toBe('order 42 not found');
    expect(error.correlationId).toBe('c-1');
    expect(error.stack).toBe(original.stack);
    expect(error.context).toEqual({ orderId: 42, attempts: 1 });
    expect(original.context).toEqual({ orderId: 42 }); // the thrown error is not mutated
  });

  it('respects maxAttempts and reports how many attempts were made', async () => {
    const fn = vi.fn(async () => {
      throw unavailable();
    });
    const error = await rejectionOf(new RetryPolicy({ maxAttempts: 4, initialDelayMs: 1 }).execute(fn));
    expect(fn).toHaveBeenCalledTimes(4);
    expect(error.code).toBe(ErrorCode.Unavailable);
    expect(error.context['attempts']).toBe(4);
  });

  it('makes a single attempt with noRetry()', async () => {
    const fn = vi.fn(async () => {
      throw unavailable();
    });
    const error = await rejectionOf(RetryPolicy.noRetry().execute(fn));
    expect(fn).toHaveBeenCalledTimes(1);
    expect(error.context['attempts']).toBe(1);
  });

  it('normalises foreign errors and retries HTTP-like 5xx objects and connection resets', async () => {
    const thrown: unknown[] = [{ status: 503 }, Object.assign(new Error('reset'), { code: 'ECONNRESET' })];
    const fn = vi.fn(async () => {
      const next = thrown.shift();
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- HTTP clients throw plain objects: under test
      if (next !== undefined) throw next;
      return 'done';
    });
    await expect(new RetryPolicy({ initialDelayMs: 1 }).execute(fn)).resolves.toBe('done');
    expect(fn).toHaveBeenCalledTimes(3);

    const plain = new Error('boom');
    const error = await rejectionOf(new RetryPolicy({ initialDelayMs: 1 }).execute(() => Promise.reject(plain)));
    expect(error.code).toBe(ErrorCode.Internal);
    expect(error.cause).toBe(plain);
    expect(error.context['attempts']).toBe(1);
  });

  it('lets retryOn override the classification but never retries CANCELLED', async () => {
    const validation = vi.fn(async () => {
      throw new OnexError(ErrorCode.Validation, 'bad');
    });
    const retryOn = vi.fn(() => true);
    await rejectionOf(new RetryPolicy({ initialDelayMs: 1, retryOn }).execute(validation));
    expect(validation).toHaveBeenCalledTimes(3);
    expect(retryOn.mock.calls).toEqual([
      [expect.objectContaining({ code: ErrorCode.Validation }), 1],
      [expect.objectContaining({ code: ErrorCode.Validation }), 2],
    ]);

    const cancelled = vi.fn(async () => {
      throw new OnexError(ErrorCode.Cancelled, 'caller gave up');
    });
    const error = await rejectionOf(new RetryPolicy({ initialDelayMs: 1, retryOn: () => true }).execute(cancelled));
    expect(cancelled).toHaveBeenCalledTimes(1);
    expect(error.code).toBe(ErrorCode.Cancelled);

    const noUnavailable = vi.fn(async () => {
      throw unavailable();
    });
    await rejectionOf(new RetryPolicy({ initialDelayMs: 1, retryOn: () => false }).execute(noUnavailable));
    expect(noUnavailable).toHaveBeenCalledTimes(1);
  });

  it('never starts a backoff that would end past deadlineAt', async () => {
    // A 30 s backoff against a 50 ms deadline: a policy that started it would take far longer than the bound.
    const policy = new RetryPolicy({ maxAttempts: 5, initialDelayMs: 30_000, maxDelayMs: 60_000, jitter: 'none' });
    const fn = vi.fn(async () => {
      throw unavailable();
    });
    const started = Date.now();
    const error = await rejectionOf(policy.execute(fn, { deadlineAt: started + 50 }));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(error.code).toBe(ErrorCode.Unavailable);
    expect(error.context['attempts']).toBe(1);
  });

  it('retries within the deadline and stops at the attempt whose backoff would cross it (injected clock)', async () => {
    // Backoffs 10, 20, 40, 80 ms (no jitter); a fake clock advanced by the attempts themselves.
    let clock = 1_000;
    const policy = new RetryPolicy({ maxAttempts: 10, initialDelayMs: 1, multiplier: 2, jitter: 'none' });
    const delays: number[] = [];
    const fn = vi.fn(async () => {
      clock += 10;
      throw unavailable();
    });
    const error = await rejectionOf(
      policy.execute(fn, { deadlineAt: 1_000 + 35, now: () => clock, onRetry: ({ delayMs }) => delays.push(delayMs) }),
    );
    // attempt 1 ends at 1010 (+1 ok), 2 at 1020 (+2 ok), 3 at 1030 (+4 ok), 4 ends at 1040: past the deadline.
    expect(fn).toHaveBeenCalledTimes(4);
    expect(delays).toEqual([1, 2, 4]);
    expect(error.context['attempts']).toBe(4);
  });

  it('rejects promptly with CANCELLED when aborted during a backoff', async () => {
    const controller = new AbortController();
    const fn = vi.fn(async () => {
      throw unavailable();
    });
    const policy = new RetryPolicy({ initialDelayMs: 5_000, jitter: 'none' });
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    const error = await rejectionOf(policy.execute(fn, { signal: controller.signal }));
    expect(error.code).toBe(ErrorCode.Cancelled);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('does not call fn when the signal is already aborted, and reports a deadline abort as TIMEOUT', async () => {
    const fn = vi.fn(async () => 'never');
    const error = await rejectionOf(new RetryPolicy().execute(fn, { signal: AbortSignal.abort() }));
    expect(error.code).toBe(ErrorCode.Cancelled);
    expect(fn).not.toHaveBeenCalled();

    const timedOut = await rejectionOf(
      new RetryPolicy({ initialDelayMs: 5_000, jitter: 'none' }).execute(
        async () => {
          throw unavailable();
        },
        { signal: AbortSignal.timeout(20) },
      ),
    );
    expect(timedOut.code).toBe(ErrorCode.Timeout);
  });

  it('waits at least retryAfterMs before the next attempt', async () => {
    const policy = new RetryPolicy({ initialDelayMs: 1, jitter: 'none' });
    const onRetry = vi.fn();
    let first = true;
    const started = Date.now();
    const result = await policy.execute(
      async () => {
        if (first) {
          first = false;
          throw new OnexError(ErrorCode.RateLimited, 'slow down', { retryAfterMs: 60 });
        }
        return Date.now() - started;
      },
      { onRetry },
    );
    expect(result).toBeGreaterThanOrEqual(55);
    expect(onRetry).toHaveBeenCalledWith(expect.objectContaining({ attempt: 1, delayMs: 60 }));
  });

  it('caps retryAfterMs at maxDelayMs, and gives up when the requested wait would pass the deadline', async () => {
    const rateLimited = (): OnexError => new OnexError(ErrorCode.RateLimited, 'slow down', { retryAfterMs: 60_000 });
    const policy = new RetryPolicy({ initialDelayMs: 1, maxDelayMs: 5, jitter: 'none' });
    const delays: number[] = [];
    let calls = 0;
    await policy.execute(
      async () => {
        if (calls++ === 0) throw rateLimited();
        return 'ok';
      },
      { onRetry: ({ delayMs }) => delays.push(delayMs) },
    );
    expect(delays).toEqual([5]);

    const fn = vi.fn(async () => {
      throw rateLimited();
    });
    const started = Date.now();
    const error = await rejectionOf(policy.execute(fn, { deadlineAt: started + 1_000 }));
    expect(fn).toHaveBeenCalledTimes(1);
    expect(error.code).toBe(ErrorCode.RateLimited);
    expect(error.retryAfterMs).toBe(60_000);
  });
});

describe('RetryPolicy.delayFor', () => {
  it('stays within the full-jitter bounds [0, min(max, initial * mult^(n-1))]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initialDelayMs, maxDelayMs, multiplier, attempt, r) => {
          const policy = new RetryPolicy({ initialDelayMs, maxDelayMs, multiplier, maxAttempts: 1_000 });
          const ceiling = Math.min(maxDelayMs, initialDelayMs * multiplier ** (attempt - 1));
          const delay = policy.delayFor(attempt, () => r);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(ceiling);
          expect(Number.isInteger(delay)).toBe(true);
        },
      ),
    );
  });

  it('grows exponentially without jitter and is capped at maxDelayMs', () => {
    const policy = new RetryPolicy({ initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 50, 5_000].map((n) => policy.delayFor(n))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
    expect(new RetryPolicy({ initialDelayMs: 0, jitter: 'none' }).delayFor(10_000)).toBe(0);
  });

  it('uses the injected random for full jitter', () => {
    const policy = new RetryPolicy({ initialDelayMs: 100, multiplier: 2 });
    expect(policy.delayFor(3, () => 0)).toBe(0);
    expect(policy.delayFor(3, () => 0.5)).toBe(200);
    expect(policy.delayFor(3, () => 0.999_999)).toBe(399);
  });
});

describe('RetryPolicy options', () => {
  it('applies the documented defaults', () => {
    expect(new RetryPolicy().options).toEqual(DEFAULT_RETRY_POLICY_OPTIONS);
    expect(DEFAULT_RETRY_POLICY_OPTIONS).toEqual({ maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, jitter: 'full' });
    expect(Object.isFrozen(DEFAULT_RETRY_POLICY_OPTIONS)).toBe(true);
  });

  it.each([
    ['maxAttempts', { maxAttempts: 0 }],
    ['maxAttempts', { maxAttempts: 1.5 }],
    ['initialDelayMs', { initialDelayMs: -1 }],
    ['maxDelayMs', { maxDelayMs: Number.NaN }],
    ['multiplier', { multiplier: 0.5 }],
    ['jitter', { jitter: 'some' as 'full' }],
  ])('rejects an invalid %s with VALIDATION naming it', (option, options) => {
    let caught: unknown;
    try {
      new RetryPolicy(options);
    } catch (error) {
      caught = error;
    }
    expect(isOnexError(caught)).toBe(true);
    const error = caught as OnexError;
    expect(error.code).toBe(ErrorCode.Validation);
    expect(error.message).toContain(option);
    expect(error.context).toEqual({ option });
  });

  it('shouldRetry follows the classification and the attempt budget', () => {
    const policy = new RetryPolicy({ maxAttempts: 2 });
    expect(policy.shouldRetry(unavailable(), 1)).toBe(true);
    expect(policy.shouldRetry(unavailable(), 2)).toBe(false);
    expect(policy.shouldRetry(new OnexError(ErrorCode.Validation, 'bad'), 1)).toBe(false);
    expect(policy.shouldRetry(new OnexError(ErrorCode.Cancelled, 'gone'), 1)).toBe(false);
  });
});

describe('isRetryableError', () => {
  it.each<[string, unknown, boolean]>([
    ['HTTP 429', { status: 429 }, true],
    ['HTTP 503', { status: 503 }, true],
    ['statusCode 500', { statusCode: 500 }, true],
    ['HTTP 404', { status: 404 }, false],
    ['HTTP 400', { statusCode: 400 }, false],
    ['ECONNRESET', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true],
    ['ECONNREFUSED', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), true],
    ['retryable OnexError', new OnexError(ErrorCode.Timeout, 'slow'), true],
    ['non-retryable OnexError', new OnexError(ErrorCode.NotFound, 'nope'), false],
    ['OnexError with retryable override', new OnexError(ErrorCode.Internal, 'x', { retryable: true }), true],
    ['plain Error', new Error('boom'), false],
    ['a string', 'boom', false],
    ['null', null, false],
  ])('%s -> %s', (_label, error, expected) => {
    expect(isRetryableError(error)).toBe(expected);
  });
});

describe('issue 9 #10: transient causes stay retryable', () => {
  it.each<[string, unknown, boolean]>([
    ["fetch failed caused by ECONNREFUSED", new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }), true],
    ['wrapped UND_ERR_SOCKET', new Error('outer', { cause: new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }) }), true],
    ['wrapped HTTP 503', new Error('upstream', { cause: { status: 503 } }), true],
    ['wrapped HTTP 404', new Error('upstream', { cause: { status: 404 } }), false],
    ['wrapped retryable OnexError', new Error('outer', { cause: new OnexError(ErrorCode.Unavailable, 'down') }), true],
    ['wrapped non-retryable OnexError', new Error('outer', { cause: new OnexError(ErrorCode.NotFound, 'gone') }), false],
    ['plain cause', new Error('outer', { cause: new Error('inner') }), false],
  ])('%s -> %s', (_label, error, expected) => {
    expect(isRetryableError(error)).toBe(expected);
  });

  it('keeps the unclassified mark on the error it throws (with its attempts)', async () => {
    const policy = new RetryPolicy({ maxAttempts: 2, initialDelayMs: 0, retryOn: () => true });
    const error = await rejectionOf(policy.execute(() => Promise.reject(new Error('bug'))));
    expect(error.code).toBe(ErrorCode.Internal);
    expect(error.context).toMatchObject({ attempts: 2 });
    expect(isUnclassifiedError(error)).toBe(true);
  });

  it('retries a fetch failure whose cause is a refused connection', async () => {
    let calls = 0;
    const value = await new RetryPolicy({ maxAttempts: 3, initialDelayMs: 0 }).execute(async () => {
      calls++;
      if (calls < 3) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
      return 'up';
    });
    expect(value).toBe('up');
    expect(calls).toBe(3);
  });
});

describe('sleep', () => {
  it('resolves after the delay and removes its abort listener', async () => {
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    await sleep(5, controller.signal);
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function));
  });

  it('rejects with the abort reason as an OnexError', async () => {
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    controller.abort();
    const error = await rejectionOf(pending);
    expect(error.code).toBe(ErrorCode.Cancelled);
  });
});
