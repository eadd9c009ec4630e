import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { createSilentLogger } from '../logging/logger.js';
import { NodeKind } from '../node/node-kind.js';
import type { CallContext } from '../node/call-context.js';
import { NodeService, type NodeServiceOptions } from '../node/node-service.js';
import { parseScrape } from '../../test/prometheus-text.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { CircuitBreakerRegistry } from './circuit-breaker-registry.js';
import { circuitBreakerInterceptor, withCircuitBreaker } from './with-circuit-breaker.js';

const contract = defineContract({
  name: 'flaky',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.object({ fail: z.boolean() }),
  output: z.object({ ok: z.literal(true) }),
});

class Flaky extends NodeService<typeof contract.input, typeof contract.output, typeof contract.config> {
  calls = 0;
  constructor() {
    super(contract, { logger: createSilentLogger() });
  }
  protected async process(input: { fail: boolean }): Promise<{ ok: true }> {
    this.calls += 1;
    if (input.fail) throw new OnexError(ErrorCode.Unavailable, 'downstream down');
    return { ok: true };
  }
}

describe('withCircuitBreaker', () => {
  it('opens after failures, fails fast without calling process, and shows in health', async () => {
    const registry = new CircuitBreakerRegistry();
    const Guarded = withCircuitBreaker(Flaky, { registry, breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 } });
    const node = new Guarded();
    await node.initialize();
    for (let i = 0; i < 3; i += 1) {
      const r = await node.handle({ fail: true });
      expect(r.ok ? null : r.error.code).toBe(ErrorCode.Unavailable);
    }
    const callsBefore = node.calls;
    const blocked = await node.handle({ fail: false });
    expect(blocked.ok).toBe(false);
    if (blocked.ok) return;
    expect(blocked.error.code).toBe(ErrorCode.CircuitOpen);
    expect(blocked.error.retryAfterMs).toBeGreaterThan(0);
    expect(node.calls).toBe(callsBefore);
    expect(registry.states()).toEqual({ 'node:flaky': 'open' });
    const health = await node.health();
    expect(health.status).toBe('degraded');
    expect(health.components['breaker']?.detail).toBe('circuit open');
    expect(node.metrics().extra['breaker']).toMatchObject({ state: 'open' });
    registry.shutdown();
  });

  it("shows the breaker's state and counters in Prometheus", async () => {
    const Guarded = withCircuitBreaker(Flaky, { breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 } });
    const node = new Guarded();
    await node.initialize();
    const closed = parseScrape(await node.metricsRegistry.metrics());
    expect(closed.value('onex_circuit_breaker_state', { node: 'flaky', breaker: 'node:flaky', state: 'closed' })).toBe(1);
    expect(closed.value('onex_circuit_breaker_state', { node: 'flaky', breaker: 'node:flaky', state: 'open' })).toBe(0);
    for (let i = 0; i < 2; i += 1) await node.handle({ fail: true });
    await node.handle({ fail: false }); // rejected: the breaker is open
    const open = parseScrape(await node.metricsRegistry.metrics());
    expect(open.value('onex_circuit_breaker_state', { node: 'flaky', breaker: 'node:flaky', state: 'open' })).toBe(1);
    expect(open.value('onex_circuit_breaker_state', { node: 'flaky', breaker: 'node:flaky', state: 'closed' })).toBe(0);
    expect(open.value('onex_circuit_breaker_calls_total', { node: 'flaky', breaker: 'node:flaky', result: 'failure' })).toBe(2);
    expect(open.value('onex_circuit_breaker_calls_total', { node: 'flaky', breaker: 'node:flaky', result: 'rejected' })).toBe(1);
    expect(open.value('onex_circuit_breaker_openings_total', { node: 'flaky', breaker: 'node:flaky' })).toBe(1);
    await node.shutdown();
  });

  it('passes successful calls through unchanged', async () => {
    const node = new (withCircuitBreaker(Flaky))();
    await node.initialize();
    expect(await node.handle({ fail: false })).toEqual({ ok: true, value: { ok: true } });
    await node.shutdown();
  });
});

const slowContract = defineContract({
  name: 'slow',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.object({ fail: z.boolean().default(false), hang: z.boolean().default(false) }),
  output: z.object({ ok: z.literal(true) }),
});
type SlowOptions = NodeServiceOptions<typeof slowContract.config, typeof slowContract.input, typeof slowContract.output>;

/** A node whose constructor takes options, with a static member: both must survive the mixin. */
class Slow extends NodeService<typeof slowContract.input, typeof slowContract.output, typeof slowContract.config> {
  static readonly label = 'slow-node';
  readonly events: string[] = [];
  constructor(options: SlowOptions = {}) {
    super(slowContract, { logger: createSilentLogger(), ...options });
  }
  protected async process(input: { fail: boolean; hang: boolean }, ctx: CallContext): Promise<{ ok: true }> {
    this.events.push('process');
    if (input.hang) {
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      this.events.push('aborted');
    }
    if (input.fail) throw new OnexError(ErrorCode.Unavailable, 'downstream down');
    return { ok: true };
  }
}

describe('withCircuitBreaker, built on circuitBreakerInterceptor', () => {
  it('keeps the constructor and static members of the base class', async () => {
    const Guarded = withCircuitBreaker(Slow);
    expect(Guarded.label).toBe('slow-node');
    const node = new Guarded({ defaultTimeoutMs: 5_000 });
    expect(node).toBeInstanceOf(Slow);
    await node.initialize();
    expect(await node.handle({})).toEqual({ ok: true, value: { ok: true } });
    expect(node.circuitBreaker.key).toBe('node:slow');
    await node.shutdown();
  });

  it('runs its breaker outside the interceptors of the options: an open breaker reaches none of them', async () => {
    const seen: string[] = [];
    const registry = new CircuitBreakerRegistry();
    const Guarded = withCircuitBreaker(Slow, { registry, breaker: { volumeThreshold: 2, resetTimeoutMs: 60_000 } });
    const node = new Guarded({
      interceptors: [
        (input, _ctx, next) => {
          seen.push('interceptor');
          return next(input);
        },
      ],
    });
    await node.initialize();
    await node.handle({ fail: true });
    await node.handle({ fail: true });
    expect(node.circuitBreaker.state).toBe('open');
    seen.length = 0;
    node.events.length = 0;
    const blocked = await node.handle({});
    expect(blocked.ok ? null : blocked.error.code).toBe(ErrorCode.CircuitOpen);
    expect(seen).toEqual([]);
    expect(node.events).toEqual([]);
    await node.shutdown();
    registry.shutdown();
  });

  it('aborts the signal process sees when a call runs past the breaker timeout', async () => {
    const node = new (withCircuitBreaker(Slow, { breaker: { timeoutMs: 20 } }))({ defaultTimeoutMs: 60_000 });
    await node.initialize();
    const r = await node.handle({ hang: true });
    expect(r.ok ? null : r.error.code).toBe(ErrorCode.Timeout);
    await vi.waitFor(() => expect(node.events).toEqual(['process', 'aborted']));
    await node.shutdown();
  });

  it('guards a node given as an interceptor of its options too', async () => {
    const breaker = new CircuitBreaker('slow-peer', { volumeThreshold: 2, resetTimeoutMs: 60_000 });
    const node = new Slow({ interceptors: [circuitBreakerInterceptor(breaker)] });
    await node.initialize();
    await node.handle({ fail: true });
    await node.handle({ fail: true });
    node.events.length = 0;
    const blocked = await node.handle({});
    expect(blocked.ok ? null : blocked.error.code).toBe(ErrorCode.CircuitOpen);
    expect(blocked.ok ? undefined : blocked.error.retryAfterMs).toBeGreaterThan(0);
    expect(node.events).toEqual([]);
    await node.shutdown();
    breaker.shutdown();
  });
});
