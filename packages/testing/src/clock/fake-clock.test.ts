import { BreakerState, CircuitBreaker, ErrorCode, OnexError, RetryPolicy } from '@onex/core';
import { afterEach, describe, expect, it } from 'vitest';
import { installFakeClock, type FakeClock } from './fake-clock.js';

const START = Date.UTC(2030, 0, 1);
let clock: FakeClock | undefined;
afterEach(() => {
  clock?.uninstall();
  clock = undefined;
});

/** Real milliseconds `work` took: what proves nothing waited for real time. */
async function realMs(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

describe('installFakeClock', () => {
  it('fakes timers and Date: timers run when time is advanced past them, in order', async () => {
    clock = installFakeClock({ now: START });
    const fired: string[] = [];
    setTimeout(() => fired.push('b'), 2_000);
    setTimeout(() => fired.push('a'), 1_000);
    const interval = setInterval(() => fired.push('tick'), 1_500);
    expect(Date.now()).toBe(START);
    expect(new Date().getTime()).toBe(START);
    expect(clock.pendingTimers()).toBe(3);

    expect(await clock.advance(999)).toBe(START + 999);
    expect(fired).toEqual([]);
    await clock.advance(1_001);
    expect(fired).toEqual(['a', 'tick', 'b']);
    clearInterval(interval);
    expect(clock.pendingTimers()).toBe(0);
    expect(clock.now()).toBe(START + 2_000);
    expect(Date.now()).toBe(START + 2_000);
  });

  it('runToNext jumps to the next timer, however far', async () => {
    clock = installFakeClock({ now: START });
    let fired = 0;
    setTimeout(() => (fired += 1), 3_600_000);
    expect(await clock.runToNext()).toBe(START + 3_600_000);
    expect(fired).toBe(1);
    // No timer left: time stays.
    expect(await clock.runToNext()).toBe(START + 3_600_000);
  });

  it('lets work a timer starts schedule the next timer within the same advance', async () => {
    clock = installFakeClock({ now: START });
    const at: number[] = [];
    const chain = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await Promise.resolve();
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        at.push(Date.now() - START);
      }
    };
    const done = chain();
    await clock.advance(30_000);
    await done;
    expect(at).toEqual([10_000, 20_000, 30_000]);
  });

  it('leaves promises, setImmediate and process.nextTick real', async () => {
    clock = installFakeClock({ now: START });
    const order: string[] = [];
    await new Promise<void>((resolve) => setImmediate(() => (order.push('immediate'), resolve())));
    await new Promise<void>((resolve) => process.nextTick(() => (order.push('nextTick'), resolve())));
    await Promise.resolve().then(() => order.push('microtask'));
    expect(order).toEqual(['immediate', 'nextTick', 'microtask']);
    expect(Date.now()).toBe(START);
  });

  it('uninstall puts the real timers and Date back, and is idempotent; dispose uninstalls', async () => {
    const fake = installFakeClock({ now: START });
    let fired = false;
    setTimeout(() => (fired = true), 1);
    fake.uninstall();
    fake.uninstall();
    expect(Math.abs(Date.now() - START)).toBeGreaterThan(1_000);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(fired).toBe(false);
    await expect(fake.advance(1)).rejects.toMatchObject({ code: ErrorCode.Lifecycle });
    {
      using scoped = installFakeClock({ now: START });
      expect(scoped.now()).toBe(START);
    }
    expect((Date as { isFake?: boolean }).isFake).not.toBe(true);
  });

  it('refuses a second clock while one is installed, and a negative advance', async () => {
    clock = installFakeClock();
    expect(() => installFakeClock()).toThrow(expect.objectContaining({ code: ErrorCode.Lifecycle }));
    await expect(clock.advance(-1)).rejects.toMatchObject({ code: ErrorCode.Validation });
  });

  it('runUntil runs timers until the promise settles, and rejects as it does', async () => {
    clock = installFakeClock({ now: START });
    const late = new Promise<string>((resolve) => setTimeout(() => resolve('late'), 7 * 86_400_000 - 1));
    expect(await clock.runUntil(late, { limitMs: 7 * 86_400_000 })).toBe('late');
    const failing = new Promise<never>((_, reject) => setTimeout(() => reject(new OnexError(ErrorCode.Conflict, 'no')), 5_000));
    await expect(clock.runUntil(failing)).rejects.toMatchObject({ code: ErrorCode.Conflict });
  });

  it('runUntil waits for real I/O while no timer is due, and gives up after limitMs of fake time', async () => {
    clock = installFakeClock({ now: START });
    const io = new Promise<string>((resolve) => setImmediate(() => setImmediate(() => resolve('io'))));
    expect(await clock.runUntil(io)).toBe('io');
    const interval = setInterval(() => undefined, 60_000);
    const never = new Promise<void>(() => undefined);
    await expect(clock.runUntil(never, { limitMs: 600_000 })).rejects.toMatchObject({ code: ErrorCode.Timeout });
    expect(clock.now()).toBeGreaterThanOrEqual(START + 600_000);
    clearInterval(interval);
  });

  it('is a core Clock', () => {
    clock = installFakeClock({ now: START });
    const asClock: { now(): number } = clock;
    expect(asClock.now()).toBe(START);
  });
});

describe('what follows the fake clock', () => {
  it('RetryPolicy: a backoff of minutes completes after advance, without real waiting', async () => {
    clock = installFakeClock({ now: START });
    const retry = new RetryPolicy({ maxAttempts: 4, initialDelayMs: 60_000, multiplier: 2, maxDelayMs: 600_000, jitter: 'none' });
    const attempts: number[] = [];
    const elapsed = await realMs(async () => {
      const result = retry.execute(async () => {
        attempts.push(Date.now() - START);
        if (attempts.length < 4) throw new OnexError(ErrorCode.Unavailable, 'down');
        return 'up';
      });
      await clock!.advance(60_000 + 120_000 + 240_000);
      expect(await result).toBe('up');
    });
    expect(attempts).toEqual([0, 60_000, 180_000, 420_000]);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('CircuitBreaker: opened by failures, it half-opens after advance(resetTimeoutMs), and a probe closes it', async () => {
    clock = installFakeClock({ now: START });
    const breaker = new CircuitBreaker('peer', { timeoutMs: false, volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 300_000 });
    try {
      const down = (): Promise<never> => Promise.reject(new OnexError(ErrorCode.Unavailable, 'down'));
      for (let i = 0; i < 2; i++) await expect(breaker.execute(down)).rejects.toMatchObject({ code: ErrorCode.Unavailable });
      expect(breaker.state).toBe(BreakerState.Open);
      await expect(breaker.execute(() => Promise.resolve('x'))).rejects.toMatchObject({ code: ErrorCode.CircuitOpen, retryAfterMs: 300_000 });

      await clock.advance(299_999);
      expect(breaker.state).toBe(BreakerState.Open);
      await clock.advance(1);
      expect(breaker.state).toBe(BreakerState.HalfOpen);
      expect(await breaker.execute(() => Promise.resolve('probe'))).toBe('probe');
      expect(breaker.state).toBe(BreakerState.Closed);
    } finally {
      breaker.shutdown();
    }
  });
});
