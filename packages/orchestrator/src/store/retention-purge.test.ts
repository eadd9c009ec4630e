import { ErrorCode, OnexError } from '@onex/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PURGE_BATCH, RetentionPurge, type RetentionPurgeOptions } from './retention-purge.js';

const HOUR = 3_600_000;
const toError = (error: unknown): OnexError => new OnexError(ErrorCode.Unavailable, 'purge failed', { cause: error });

/** Lets the purge's batches run: each yields to the event loop (a real setImmediate) between them. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
};

function purgeWith(overrides: Partial<RetentionPurgeOptions> & Pick<RetentionPurgeOptions, 'deleteBatch'>): RetentionPurge {
  return new RetentionPurge({ retentionMs: 60_000, intervalMs: HOUR, toError, ...overrides });
}

describe('RetentionPurge: the retention purge the durable stores share', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(10 * HOUR);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs first 1 s after start, then every interval, in batches until one comes back short', async () => {
    const batches: [number, number][] = [];
    let rows = 2 * PURGE_BATCH + 7;
    const purge = purgeWith({
      deleteBatch: (cutoff, limit) => {
        batches.push([cutoff, limit]);
        const n = Math.min(limit, rows);
        rows -= n;
        return n;
      },
    });
    purge.start();
    await vi.advanceTimersByTimeAsync(999);
    expect(batches).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    // Three batches: two full, one short; each with the cutoff of the run's start and the batch size.
    expect(batches).toEqual([
      [10 * HOUR + 1000 - 60_000, PURGE_BATCH],
      [10 * HOUR + 1000 - 60_000, PURGE_BATCH],
      [10 * HOUR + 1000 - 60_000, PURGE_BATCH],
    ]);
    expect(purge.figures()).toEqual({ runs: 1, deleted: 2 * PURGE_BATCH + 7, failures: 0 });
    await vi.advanceTimersByTimeAsync(HOUR - 1);
    expect(batches).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    expect(batches).toHaveLength(4);
    expect(purge.figures()).toEqual({ runs: 2, deleted: 2 * PURGE_BATCH + 7, failures: 0 });
    await purge.stop();
  });

  it('a failed background run is told to onError, counted, and the schedule goes on; a throwing callback stops nothing', async () => {
    const told: OnexError[] = [];
    let calls = 0;
    const purge = purgeWith({
      intervalMs: 5_000,
      deleteBatch: () => {
        calls += 1;
        throw new Error(`database locked (${calls})`);
      },
      onError: (error) => {
        told.push(error);
        throw new Error('the callback itself fails');
      },
    });
    purge.start();
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    await vi.advanceTimersByTimeAsync(5_000);
    await settle();
    expect(calls).toBe(2);
    expect(told.map((e) => [e.code, (e.cause as Error).message])).toEqual([
      [ErrorCode.Unavailable, 'database locked (1)'],
      [ErrorCode.Unavailable, 'database locked (2)'],
    ]);
    expect(purge.figures()).toEqual({ runs: 2, deleted: 0, failures: 2, lastError: 'database locked (2)' });
    await purge.stop();
  });

  it('a run asked for while one is in flight joins it; run() rejects with what the batch threw', async () => {
    let release: (n: number) => void = () => undefined;
    let calls = 0;
    const purge = purgeWith({
      intervalMs: 0,
      deleteBatch: () => {
        calls += 1;
        return new Promise<number>((resolve) => {
          release = resolve;
        });
      },
    });
    const first = purge.run();
    const second = purge.run();
    expect(second).toBe(first);
    await settle();
    release(3);
    await expect(first).resolves.toBe(3);
    expect(calls).toBe(1);

    const failing = purgeWith({
      intervalMs: 0,
      deleteBatch: () => Promise.reject(new Error('gone')),
    });
    await expect(failing.run()).rejects.toThrow('gone');
    expect(failing.figures()).toMatchObject({ runs: 1, failures: 1, lastError: 'gone' });
  });

  it('stop() ends a run before its next batch and cancels the timer; retention 0 runs nothing', async () => {
    let calls = 0;
    const purge = purgeWith({
      intervalMs: 1_000,
      deleteBatch: () => {
        calls += 1;
        return PURGE_BATCH; // always full: only stop() ends the run
      },
    });
    const running = purge.run();
    await settle();
    const callsAtStop = calls;
    expect(callsAtStop).toBeGreaterThan(1);
    await purge.stop();
    await expect(running).resolves.toBe(callsAtStop * PURGE_BATCH);
    purge.start(); // after stop: schedules nothing
    await vi.advanceTimersByTimeAsync(10_000);
    await settle();
    expect(calls).toBe(callsAtStop);

    const kept = purgeWith({ retentionMs: 0, intervalMs: 1_000, deleteBatch: () => 1 });
    kept.start();
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(kept.run()).resolves.toBe(0);
    expect(kept.figures()).toEqual({ runs: 0, deleted: 0, failures: 0 });
  });
});
