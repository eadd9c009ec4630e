import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../contract/contract.js';
import { createSilentLogger } from '../logging/logger.js';
import { NodeKind } from './node-kind.js';
import { NodeService, type ComponentHealth, type NodeServiceOptions } from './node-service.js';
import { assessPerformance, performanceTier, resolvePerformanceOptions } from './performance-tier.js';

describe('performanceTier', () => {
  it('grades a p95 at 0.5×, 1× and 2× the target', () => {
    expect(performanceTier(0, 100)).toBe('optimal');
    expect(performanceTier(50, 100)).toBe('optimal');
    expect(performanceTier(50.01, 100)).toBe('good');
    expect(performanceTier(100, 100)).toBe('good');
    expect(performanceTier(100.01, 100)).toBe('degraded');
    expect(performanceTier(200, 100)).toBe('degraded');
    expect(performanceTier(200.01, 100)).toBe('poor');
  });

  it('does not judge a window with fewer calls than minCalls', () => {
    const options = resolvePerformanceOptions({ targetLatencyMs: 10, minCalls: 5 });
    expect(assessPerformance({ p95Ms: 900, calls: 4 }, options)).toEqual({ tier: 'optimal', p95Ms: 900, targetLatencyMs: 10, ratio: 90, calls: 4, sampled: false });
    expect(assessPerformance({ p95Ms: 900, calls: 5 }, options)).toMatchObject({ tier: 'poor', sampled: true });
    expect(assessPerformance({ p95Ms: 0, calls: 0 }, resolvePerformanceOptions({ minCalls: 0 }))).toMatchObject({ tier: 'optimal', sampled: false, targetLatencyMs: 1_000 });
  });

  it('refuses a target or minimum that makes no sense', () => {
    for (const bad of [{ targetLatencyMs: 0 }, { targetLatencyMs: -1 }, { targetLatencyMs: Number.NaN }, { minCalls: 1.5 }, { minCalls: -1 }]) {
      expect(() => resolvePerformanceOptions(bad)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
  });
});

const contract = defineContract({ name: 'held', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ n: z.number() }), output: z.object({ n: z.number() }) });

/** A node whose calls last exactly as long as the test advances the fake clock while they are held. */
class Held extends NodeService<typeof contract.input, typeof contract.output, typeof contract.config> {
  readonly pending: (() => void)[] = [];
  component: ComponentHealth = { status: 'healthy' };

  constructor(options: NodeServiceOptions<typeof contract.config> = {}) {
    super(contract, { logger: createSilentLogger(), ...options });
  }

  protected override async componentHealth(): Promise<Record<string, ComponentHealth>> {
    return { store: this.component };
  }

  protected async process(input: { n: number }): Promise<{ n: number }> {
    await new Promise<void>((resolve) => this.pending.push(resolve));
    return input;
  }
}

async function heldUntil(node: Held, count: number): Promise<void> {
  while (node.pending.length < count) await tick();
}

/** Runs `n` calls that each take `ms` of (fake) time, one after another. */
async function calls(node: Held, n: number, ms: number): Promise<void> {
  for (let i = 0; i < n; i += 1) {
    const call = node.handle({ n: i });
    await heldUntil(node, 1);
    vi.advanceTimersByTime(ms);
    node.pending.shift()!();
    expect((await call).ok).toBe(true);
  }
}

describe('NodeService health', () => {
  beforeEach(() => {
    // `performance.now()` (call durations) and `Date` (the recent window) follow the fake clock.
    vi.useFakeTimers({ toFake: ['performance', 'Date', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    [40, 'optimal', 'healthy'],
    [80, 'good', 'healthy'],
    [150, 'degraded', 'healthy'],
    [300, 'poor', 'degraded'],
  ] as const)('grades calls of %i ms against a 100 ms target as %s (status %s)', async (ms, tier, status) => {
    const node = new Held({ performance: { targetLatencyMs: 100 } });
    await node.initialize();
    await calls(node, 10, ms);
    const health = await node.health();
    expect(health.performance).toMatchObject({ tier, targetLatencyMs: 100, calls: 10, sampled: true });
    // The bounded histogram answers within its 5% bucket error.
    expect(health.performance.p95Ms).toBeGreaterThan(ms * 0.95);
    expect(health.performance.p95Ms).toBeLessThan(ms * 1.05);
    expect(health.recent).toMatchObject({ calls: 10, successRate: 1, windowMs: 60_000 });
    expect(health.recent.p95Ms).toBe(health.performance.p95Ms);
    expect(health.status).toBe(status);
    await node.shutdown();
  });

  it('forgets slow calls once they leave the recent window', async () => {
    const node = new Held({ performance: { targetLatencyMs: 10 }, metricsWindowMs: 1_000 });
    await node.initialize();
    await calls(node, 6, 50);
    expect((await node.health()).performance.tier).toBe('poor');
    vi.advanceTimersByTime(2_000);
    const later = await node.health();
    expect(later.performance).toMatchObject({ tier: 'optimal', calls: 0, sampled: false, p95Ms: 0 });
    expect(later.status).toBe('healthy');
    await node.shutdown();
  });

  it('reports capacity in flight against the limit, and each component', async () => {
    const node = new Held({ maxConcurrency: 4 });
    await node.initialize();
    const running = [node.handle({ n: 1 }), node.handle({ n: 2 })];
    await heldUntil(node, 2);
    node.component = { status: 'degraded', detail: 'replica lagging' };
    const health = await node.health();
    expect(health.capacity).toEqual({ inFlight: 2, maxConcurrency: 4, utilization: 0.5 });
    expect(health.components).toEqual({ store: { status: 'degraded', detail: 'replica lagging' } });
    expect(health.status).toBe('degraded');
    // Default target: 1 s; nothing finished yet, so nothing judged.
    expect(health.performance).toMatchObject({ tier: 'optimal', targetLatencyMs: 1_000, sampled: false });
    for (const release of node.pending.splice(0)) release();
    await Promise.all(running);
    await node.shutdown();
  });

  it('refuses invalid performance options at construction', () => {
    expect(() => new Held({ performance: { targetLatencyMs: 0 } })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});
