// What an effect node adds to its Prometheus metrics: calls labelled by operation, dedup hits, conflicts, retries
// and timeouts per operation, the idempotency keys in flight and each operation's breaker — read through
// prom-client's registry. (The exposition format itself is parsed in @onex/core's tests.)
import { CircuitBreakerRegistry, createSilentLogger, ErrorCode, OnexError } from '@onex/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { MemoryIdempotencyStore } from '../idempotency/memory-idempotency-store.js';
import { defineOperation, type AnyEffectOperation } from '../operation/effect-operation.js';
import { defineEffectNode } from './define-effect-node.js';
import { NodeEffect } from './node-effect.js';

type Labels = Readonly<Record<string, string>>;
type Scraped = Pick<NodeEffect<readonly AnyEffectOperation[]>, 'metricsRegistry'>;

/** The value of the series of `name` whose labels are exactly `labels`. */
async function valueOf(node: Scraped, name: string, labels: Labels): Promise<number | undefined> {
  const metric = (await node.metricsRegistry.getMetricsAsJSON()).find((m) => m.name === name);
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return metric?.values.find((v) => JSON.stringify(Object.entries(v.labels).map(([k, l]) => [k, String(l)]).sort()) === wanted)?.value;
}

afterEach(() => {
  vi.useRealTimers();
});

function setup() {
  let failures = 0;
  let release: (() => void) | undefined;
  const send = defineOperation({
    name: 'send',
    input: z.object({ to: z.string() }),
    output: z.object({ to: z.string() }),
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
    run: async ({ to }) => {
      if (to === 'flaky' && failures++ < 2) throw new OnexError(ErrorCode.Unavailable, 'down');
      if (to === 'held') await new Promise<void>((resolve) => (release = resolve));
      return { to };
    },
  });
  const slow = defineOperation({
    name: 'slow',
    input: z.object({}),
    output: z.object({}),
    timeoutMs: 50,
    retry: { maxAttempts: 1 },
    breaker: false,
    run: (_input, ctx) => new Promise<Record<string, never>>((resolve) => ctx.signal.addEventListener('abort', () => resolve({}))),
  });
  const breakers = new CircuitBreakerRegistry();
  const store = new MemoryIdempotencyStore();
  const definition = defineEffectNode({ name: 'mailer', version: '1.0.0', operations: [send, slow] });
  const node = new NodeEffect(definition, { logger: createSilentLogger(), breakers, idempotencyStore: store });
  // Another process sharing the store, to be refused a key this node holds.
  const other = new NodeEffect(definition, { logger: createSilentLogger(), idempotencyStore: store });
  const v = (name: string, labels: Labels) => valueOf(node, name, { node: 'mailer', ...labels });
  return { node, other, breakers, v, release: () => release?.() };
}

describe('NodeEffect Prometheus metrics', () => {
  it('labels calls by operation, and never by a name outside the definition', async () => {
    const { node, other, breakers, v } = setup();
    await node.initialize();
    await node.execute('send', { to: 'ada' });
    await node.handle({ operation: 'nope', input: {} });
    expect(await v('onex_node_calls_total', { operation: 'send', outcome: 'success' })).toBe(1);
    const metric = (await node.metricsRegistry.getMetricsAsJSON()).find((m) => m.name === 'onex_node_calls_total');
    expect(new Set(metric?.values.map((s) => s.labels['operation']))).toEqual(new Set(['', 'send', 'slow']));
    await node.shutdown();
    await other.shutdown();
    breakers.shutdown();
  });

  it('counts dedup hits, conflicts, retries and timeouts per operation, and the keys in flight', async () => {
    const { node, other, breakers, v, release } = setup();
    await node.initialize();
    await other.initialize();
    for (const operation of ['send', 'slow']) expect(await v('onex_effect_dedup_hits_total', { operation })).toBe(0);

    expect((await node.execute('send', { to: 'ada' }, { idempotencyKey: 'k-1' })).ok).toBe(true);
    expect((await node.execute('send', { to: 'ada' }, { idempotencyKey: 'k-1' })).ok).toBe(true); // replayed
    const mismatch = await node.execute('send', { to: 'bob' }, { idempotencyKey: 'k-1' });
    expect(!mismatch.ok && mismatch.error.code).toBe(ErrorCode.Conflict);

    // A keyed run held open here is in flight, and refused to the other process.
    const held = node.execute('send', { to: 'held' }, { idempotencyKey: 'k-2' });
    await vi.waitFor(async () => expect(await v('onex_effect_idempotency_keys_in_flight', {})).toBe(1));
    const elsewhere = await other.execute('send', { to: 'held' }, { idempotencyKey: 'k-2' });
    expect(!elsewhere.ok && elsewhere.error.code).toBe(ErrorCode.Conflict);
    release();
    expect((await held).ok).toBe(true);
    expect(await v('onex_effect_idempotency_keys_in_flight', {})).toBe(0);

    expect((await node.execute('send', { to: 'flaky' })).ok).toBe(true); // two retries

    vi.useFakeTimers();
    const timingOut = node.execute('slow', {});
    await vi.advanceTimersByTimeAsync(60);
    const timedOut = await timingOut;
    expect(!timedOut.ok && timedOut.error.code).toBe(ErrorCode.Timeout);

    expect(await v('onex_effect_dedup_hits_total', { operation: 'send' })).toBe(1);
    expect(await v('onex_effect_conflicts_total', { operation: 'send' })).toBe(1);
    expect(await v('onex_effect_retries_total', { operation: 'send' })).toBe(2);
    expect(await v('onex_effect_timeouts_total', { operation: 'slow' })).toBe(1);
    expect(await v('onex_effect_timeouts_total', { operation: 'send' })).toBe(0);
    // The other node's refusal is counted there, under its own registry.
    expect(await valueOf(other, 'onex_effect_conflicts_total', { node: 'mailer', operation: 'send' })).toBe(1);
    // The figures are the ones stats() reports.
    expect(node.stats().operations['send']).toMatchObject({ dedupHits: 1, conflicts: 1, retries: 2 });
    await node.shutdown();
    await other.shutdown();
    breakers.shutdown();
  });

  it("reports each operation's breaker, not the other breakers of a shared registry", async () => {
    const { node, other, breakers, v } = setup();
    breakers.get('peer:elsewhere');
    await node.initialize();
    await node.execute('send', { to: 'ada' });
    expect(await v('onex_circuit_breaker_state', { breaker: 'op:mailer:send', state: 'closed' })).toBe(1);
    expect(await v('onex_circuit_breaker_state', { breaker: 'op:mailer:send', state: 'open' })).toBe(0);
    expect(await v('onex_circuit_breaker_calls_total', { breaker: 'op:mailer:send', result: 'success' })).toBe(1);
    const states = (await node.metricsRegistry.getMetricsAsJSON()).find((m) => m.name === 'onex_circuit_breaker_state');
    // `slow` has no breaker; the registry's other breaker is not this node's.
    expect(new Set(states?.values.map((s) => s.labels['breaker']))).toEqual(new Set(['op:mailer:send']));
    await node.shutdown();
    await other.shutdown();
    breakers.shutdown();
  });
});
