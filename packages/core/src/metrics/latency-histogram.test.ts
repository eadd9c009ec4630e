import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './latency-histogram.js';
import { CallMetrics } from './call-metrics.js';

describe('LatencyHistogram', () => {
  it('estimates percentiles within 5% of the exact value', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 10_000, noNaN: true }), { minLength: 50, maxLength: 500 }), (values) => {
        const h = new LatencyHistogram();
        for (const v of values) h.record(v);
        const sorted = [...values].sort((a, b) => a - b);
        for (const q of [0.5, 0.9, 0.99]) {
          const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
          expect(Math.abs(h.percentile(q) - exact) / exact).toBeLessThanOrEqual(0.05);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('keeps count, mean, min and max exact and ignores garbage', () => {
    const h = new LatencyHistogram();
    h.record(1);
    h.record(3);
    h.record(Number.NaN);
    h.record(-1);
    expect(h.stats()).toMatchObject({ count: 2, meanMs: 2, minMs: 1, maxMs: 3 });
  });

  it('uses constant memory however many values it records', () => {
    const h = new LatencyHistogram();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000; i += 1) h.record((i % 1000) / 10);
    const grown = process.memoryUsage().heapUsed - before;
    expect(h.count).toBe(1_000_000);
    // Keeping the samples would take ≥ 8 MB (1M doubles); the bound leaves room for GC noise only.
    expect(grown).toBeLessThan(6 * 1024 * 1024);
  });
});

describe('CallMetrics', () => {
  it('counts outcomes by code and rotates the recent window', () => {
    let now = 0;
    const m = new CallMetrics({ windowMs: 1000, now: () => now });
    m.record(5);
    m.record(7, 'TIMEOUT');
    expect(m.stats()).toMatchObject({ calls: 2, failures: 1, successRate: 0.5, failuresByCode: { TIMEOUT: 1 } });
    now = 1500;
    m.record(1);
    expect(m.stats().recent.calls).toBe(3);
    now = 2600;
    expect(m.stats().recent.calls).toBe(1);
    now = 10_000;
    expect(m.stats().recent.calls).toBe(0);
    expect(m.stats().calls).toBe(3);
  });

  it('tracks in-flight calls', () => {
    const m = new CallMetrics();
    const startedAt = m.begin();
    expect(m.inFlight).toBe(1);
    m.end(startedAt);
    expect(m.inFlight).toBe(0);
    expect(m.stats().successes).toBe(1);
  });
});
