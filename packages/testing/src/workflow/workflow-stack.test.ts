import { BreakerState, createInProcessClient, createSilentLogger, defineContract, ErrorCode, LifecycleStatus, NodeKind, NodeService, type CallContext } from '@onex/core';
import { defineWorkflow, MemoryWorkflowStore, peer } from '@onex/orchestrator';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { installFakeClock, type FakeClock } from '../clock/fake-clock.js';
import { ScriptedOutcome, ScriptedPeer } from '../peer/scripted-peer.js';
import { startWorkflowStack } from './workflow-stack.js';

const START = Date.UTC(2030, 0, 1);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const pricingContract = defineContract({
  name: 'pricing',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ cents: z.int(), quantity: z.int().positive() }),
  output: z.object({ totalCents: z.int() }),
});

/** A real node of the stack: prices a line. */
class Pricing extends NodeService<typeof pricingContract.input, typeof pricingContract.output, typeof pricingContract.config> {
  constructor() {
    super(pricingContract, { logger: createSilentLogger() });
  }

  protected async process(input: { cents: number; quantity: number }, _ctx: CallContext): Promise<{ totalCents: number }> {
    return { totalCents: input.cents * input.quantity };
  }
}

const paymentsContract = defineContract({
  name: 'payments',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.object({ orderId: z.string(), op: z.enum(['charge', 'refund']), cents: z.int() }),
  output: z.object({ ref: z.string() }),
});

const shippingContract = defineContract({
  name: 'shipping',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.object({ orderId: z.string() }),
  output: z.object({ trackingId: z.string() }),
});

const Order = z.object({ orderId: z.string(), cents: z.int(), quantity: z.int().positive() });
const Receipt = z.object({ orderId: z.string(), totalCents: z.int(), chargeRef: z.string(), trackingId: z.string() });

/** Price → charge (refunded if shipping fails for good) → ship. */
function checkout(options: { readonly timeoutMs?: number; readonly retry?: { maxAttempts: number; initialDelayMs?: number; maxDelayMs?: number; multiplier?: number; jitter?: 'none' } } = {}) {
  return defineWorkflow({
    type: 'checkout',
    version: '1.0.0',
    input: Order,
    output: Receipt,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    defaults: { retry: options.retry ?? { maxAttempts: 1 } },
  })
    .step('price', { target: peer('pricing', pricingContract), input: ({ input }) => ({ cents: input.cents, quantity: input.quantity }) })
    .step('charge', {
      target: peer('payments', paymentsContract),
      dependsOn: ['price'],
      input: ({ input, steps }) => ({ orderId: input.orderId, op: 'charge' as const, cents: steps.price.totalCents }),
      compensate: { target: peer('payments', paymentsContract), input: ({ input }) => ({ orderId: input.orderId, op: 'refund' as const, cents: 0 }) },
    })
    .step('ship', { target: peer('shipping', shippingContract), dependsOn: ['charge'], input: ({ input }) => ({ orderId: input.orderId }) })
    .returns(({ input, steps }) => ({ orderId: input.orderId, totalCents: steps.price.totalCents, chargeRef: steps.charge.ref, trackingId: steps.ship.trackingId }));
}

function payments() {
  return new ScriptedPeer(paymentsContract).respond((input) => ({ ref: `${input.op}-${input.orderId}` }));
}

let clock: FakeClock | undefined;
afterEach(() => {
  clock?.uninstall();
  clock = undefined;
});

describe('startWorkflowStack', () => {
  it('runs a workflow over in-process peers, real and scripted, with a typed outcome', async () => {
    const workflow = checkout();
    const pricing = new Pricing();
    const shipping = new ScriptedPeer(shippingContract).ok({ trackingId: 'trk-1' });
    const stack = await startWorkflowStack({ workflows: [workflow], peers: { pricing, payments: payments(), shipping } });
    expect(pricing.status).toBe(LifecycleStatus.Ready);
    expect(stack.store).toBeInstanceOf(MemoryWorkflowStore);

    const outcome = await stack.run(workflow, { orderId: 'o-1', cents: 250, quantity: 2 });
    expect(outcome).toMatchObject({ status: 'completed', output: { orderId: 'o-1', totalCents: 500, chargeRef: 'charge-o-1', trackingId: 'trk-1' } });
    if (outcome.status === 'completed') expect(outcome.output.trackingId).toBe('trk-1');
    expect(shipping.calls[0]?.idempotencyKey).toBe(`${outcome.id}:ship`);
    expect((await stack.orchestrator.get(outcome.id)).steps['charge']?.status).toBe('completed');

    await Promise.all([stack.close(), stack.close()]);
    expect(stack.orchestrator.status).toBe(LifecycleStatus.Stopped);
    expect(pricing.status).toBe(LifecycleStatus.Stopped);
    expect(shipping.status).toBe(LifecycleStatus.Stopped);
  });

  it('a peer failing on cue: the saga refunds the charge and the outcome names the failed step', async () => {
    const workflow = checkout();
    const pay = payments();
    const shipping = new ScriptedPeer(shippingContract).fail(ErrorCode.Conflict, { message: 'no courier' });
    await using stack = await startWorkflowStack({ workflows: [workflow], peers: { pricing: new Pricing(), payments: pay, shipping } });
    const outcome = await stack.run(workflow, { orderId: 'o-2', cents: 100, quantity: 1 });
    expect(outcome.status).toBe('compensated');
    expect(outcome.error).toMatchObject({ code: ErrorCode.Conflict, step: 'ship' });
    expect(pay.calls.map((c) => c.input.op)).toEqual(['charge', 'refund']);
  });

  it('takes peers as clients too, and a store of its own (which it closes)', async () => {
    const workflow = checkout();
    const pricing = new Pricing();
    await pricing.initialize();
    const store = new MemoryWorkflowStore();
    const shipping = new ScriptedPeer(shippingContract).ok({ trackingId: 'trk-3' });
    const stack = await startWorkflowStack({
      workflows: [workflow],
      peers: { pricing: createInProcessClient(pricing), payments: payments(), shipping },
      store,
      orchestrator: { maxConcurrentWorkflows: 4 },
    });
    expect(stack.store).toBe(store);
    expect((await stack.run(workflow, { orderId: 'o-3', cents: 1, quantity: 3 })).status).toBe('completed');
    await stack.close();
    // A peer given as a client belongs to its owner: still up.
    expect(pricing.status).toBe(LifecycleStatus.Ready);
    await pricing.shutdown();
  });

  it('stops the peers it started when the orchestrator cannot start', async () => {
    const shipping = new ScriptedPeer(shippingContract).ok({ trackingId: 'x' });
    const broken = new MemoryWorkflowStore();
    broken.init = () => Promise.reject(new Error('disk full'));
    await expect(startWorkflowStack({ workflows: [checkout()], peers: { shipping }, store: broken })).rejects.toThrow();
    expect(shipping.status).toBe(LifecycleStatus.Stopped);
  });
});

describe('the workflow stack on a fake clock (no real waiting)', () => {
  it('a step retried with a backoff of minutes completes after advance', async () => {
    clock = installFakeClock({ now: START });
    const workflow = checkout({ retry: { maxAttempts: 3, initialDelayMs: 2 * MINUTE, maxDelayMs: 10 * MINUTE, multiplier: 2, jitter: 'none' } });
    const shipping = new ScriptedPeer(shippingContract).timesThenOk(2, { trackingId: 'trk-late' });
    await using stack = await startWorkflowStack({ workflows: [workflow], peers: { pricing: new Pricing(), payments: payments(), shipping } });
    const started = performance.now();

    const id = await stack.start(workflow, { orderId: 'o-4', cents: 10, quantity: 1 });
    await clock.advance(MINUTE);
    expect(shipping.calls).toHaveLength(1);
    expect((await stack.orchestrator.get(id)).status).toBe('running');

    await clock.advance(10 * MINUTE);
    const outcome = await stack.orchestrator.result(id);
    expect(outcome).toMatchObject({ status: 'completed', output: { trackingId: 'trk-late' } });
    const at = shipping.calls.map((c) => c.at);
    expect(at).toHaveLength(3);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(2 * MINUTE);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(4 * MINUTE);
    expect((await stack.orchestrator.get(id)).steps['ship']?.attemptErrors.map((e) => e.code)).toEqual([ErrorCode.Unavailable, ErrorCode.Unavailable]);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('a workflow deadline of an hour fires: the hanging step is aborted and the charge refunded', async () => {
    clock = installFakeClock({ now: START });
    const workflow = checkout({ timeoutMs: HOUR });
    const pay = payments();
    const shipping = new ScriptedPeer(shippingContract).hang();
    await using stack = await startWorkflowStack({ workflows: [workflow], peers: { pricing: new Pricing(), payments: pay, shipping } });
    const started = performance.now();

    const id = await stack.start(workflow, { orderId: 'o-5', cents: 10, quantity: 1 });
    await clock.advance(HOUR - MINUTE);
    expect(shipping.calls.map((c) => c.outcome)).toEqual([ScriptedOutcome.Pending]);
    expect((await stack.orchestrator.get(id)).status).toBe('running');

    await clock.advance(MINUTE);
    const outcome = await clock.runUntil(stack.orchestrator.result(id));
    expect(outcome.status).toBe('timed_out');
    expect(shipping.calls[0]?.outcome).toBe(ScriptedOutcome.Aborted);
    expect(pay.calls.map((c) => c.input.op)).toEqual(['charge', 'refund']);
    expect(clock.now() - START).toBeGreaterThanOrEqual(HOUR);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it("a peer's breaker, opened by failures, half-opens after advance(resetTimeoutMs)", async () => {
    clock = installFakeClock({ now: START });
    const workflow = checkout();
    const shipping = new ScriptedPeer(shippingContract).fail(ErrorCode.Unavailable);
    await using stack = await startWorkflowStack({
      workflows: [workflow],
      peers: { pricing: new Pricing(), payments: payments(), shipping },
      orchestrator: { breakerDefaults: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 10 * MINUTE } },
    });
    const state = () => stack.orchestrator.stats().breakers['peer:shipping']?.state;
    for (const orderId of ['o-6', 'o-7']) expect((await stack.run(workflow, { orderId, cents: 1, quantity: 1 })).status).toBe('compensated');
    expect(state()).toBe(BreakerState.Open);
    // Open: the next checkout fails fast, without reaching the peer.
    const fast = await stack.run(workflow, { orderId: 'o-8', cents: 1, quantity: 1 });
    expect(fast.error).toMatchObject({ code: ErrorCode.CircuitOpen, step: 'ship' });
    expect(shipping.calls).toHaveLength(2);

    await clock.advance(10 * MINUTE);
    expect(state()).toBe(BreakerState.HalfOpen);
    shipping.ok({ trackingId: 'trk-back' });
    expect(await stack.run(workflow, { orderId: 'o-9', cents: 1, quantity: 1 })).toMatchObject({ status: 'completed', output: { trackingId: 'trk-back' } });
    expect(state()).toBe(BreakerState.Closed);
  });
});
