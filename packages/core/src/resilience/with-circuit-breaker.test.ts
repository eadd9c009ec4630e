import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { createSilentLogger } from '../logging/logger.js';
import { NodeKind } from '../node/node-kind.js';
import { NodeService } from '../node/node-service.js';
import { CircuitBreakerRegistry } from './circuit-breaker.js';
import { withCircuitBreaker } from './with-circuit-breaker.js';

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

  it('passes successful calls through unchanged', async () => {
    const node = new (withCircuitBreaker(Flaky))();
    await node.initialize();
    expect(await node.handle({ fail: false })).toEqual({ ok: true, value: { ok: true } });
    await node.shutdown();
  });
});
