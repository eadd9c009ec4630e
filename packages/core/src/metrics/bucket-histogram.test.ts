import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors/error-codes.js';
import { BucketHistogram, DEFAULT_DURATION_BUCKETS } from './bucket-histogram.js';

describe('BucketHistogram', () => {
  it('counts each value in the first bucket whose bound it does not exceed (Prometheus le), cumulatively', () => {
    const h = new BucketHistogram([0.001, 0.01, 0.1]);
    for (const ms of [0.5, 1, 1.0001, 10, 50, 100, 250]) h.record(ms);
    const s = h.stats();
    expect(s.bounds).toEqual([0.001, 0.01, 0.1]);
    // ≤1 ms: 0.5, 1 · ≤10 ms: + 1.0001, 10 · ≤100 ms: + 50, 100 · +Inf: + 250
    expect(s.cumulative).toEqual([2, 4, 6]);
    expect(s.count).toBe(7);
    expect(s.sumSeconds).toBeCloseTo((0.5 + 1 + 1.0001 + 10 + 50 + 100 + 250) / 1_000, 9);
  });

  it('ignores negative, NaN and infinite durations', () => {
    const h = new BucketHistogram();
    h.record(-1);
    h.record(Number.NaN);
    h.record(Number.POSITIVE_INFINITY);
    expect(h.count).toBe(0);
    h.record(0);
    expect(h.stats().cumulative[0]).toBe(1);
  });

  it('defaults to 100 µs … 30 s and refuses bounds that are not finite, positive and ascending', () => {
    expect(new BucketHistogram().bounds).toEqual(DEFAULT_DURATION_BUCKETS);
    for (const bad of [[], [0.1, 0.1], [0.2, 0.1], [0, 1], [-1], [1, Number.POSITIVE_INFINITY], [Number.NaN]]) {
      expect(() => new BucketHistogram(bad), String(bad)).toThrow(expect.objectContaining({ code: ErrorCode.Validation }));
    }
  });

  it('keeps its own copy of the bounds', () => {
    const bounds = [0.1, 1];
    const h = new BucketHistogram(bounds);
    bounds.push(10);
    expect(h.bounds).toEqual([0.1, 1]);
    expect(Object.isFrozen(h.bounds)).toBe(true);
  });
});
