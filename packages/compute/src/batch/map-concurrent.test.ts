import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { mapConcurrent } from './map-concurrent.js';

describe('mapConcurrent', () => {
  it('answers in input order whatever order items finish in', async () => {
    const delays = [30, 5, 20, 1, 10];
    const results = await mapConcurrent(delays, async (ms, i) => {
      await delay(ms);
      return `${i}:${ms}`;
    }, { concurrency: 5 });
    expect(results).toEqual(['0:30', '1:5', '2:20', '3:1', '4:10']);
  });

  it('never has more than `concurrency` items in progress, and reaches it', async () => {
    let running = 0;
    let peak = 0;
    await mapConcurrent(Array.from({ length: 20 }, (_, i) => i), async () => {
      running += 1;
      peak = Math.max(peak, running);
      await delay(2);
      running -= 1;
    }, { concurrency: 3 });
    expect(peak).toBe(3);
  });

  it('handles an empty list and fewer items than workers', async () => {
    expect(await mapConcurrent([], () => 1, { concurrency: 4 })).toEqual([]);
    expect(await mapConcurrent([1, 2], (n) => n * 2, { concurrency: 8 })).toEqual([2, 4]);
  });

  it('stops taking items once the signal is aborted', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const run = mapConcurrent(Array.from({ length: 10 }, (_, i) => i), async (n) => {
      seen.push(n);
      if (n === 2) controller.abort(new Error('stop'));
      await delay(1);
    }, { concurrency: 1, signal: controller.signal });
    await expect(run).rejects.toThrow('stop');
    expect(seen).toEqual([0, 1, 2]);
  });

  it('gives the event loop a turn during long synchronous work', async () => {
    let timerFired = false;
    setTimeout(() => {
      timerFired = true;
    }, 0);
    let firedDuringBatch = false;
    await mapConcurrent(Array.from({ length: 50 }, (_, i) => i), () => {
      const until = performance.now() + 1;
      while (performance.now() < until) {
        // burn 1 ms
      }
      if (timerFired) firedDuringBatch = true;
    }, { concurrency: 1, sliceMs: 5 });
    expect(firedDuringBatch).toBe(true);
  });

  it('refuses a concurrency that is not a positive integer', async () => {
    await expect(mapConcurrent([1], (n) => n, { concurrency: 0 })).rejects.toThrow(RangeError);
  });
});
