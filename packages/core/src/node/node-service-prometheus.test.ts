// The Prometheus view of a node: the core families NodeService registers, calls labelled by operation, and nodes
// sharing one registry. Every scrape is read with a real exposition-format parser (test/prometheus-text.ts).
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseScrape, type Scrape } from '../../test/prometheus-text.js';
import { defineContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { createSilentLogger } from '../logging/logger.js';
import type { CallContext } from './call-context.js';
import { NodeKind } from './node-kind.js';
import { NodeService, type Clock, type ComponentHealth, type NodeServiceOptions } from './node-service.js';

const contract = defineContract({
  name: 'math',
  kind: NodeKind.Compute,
  version: '2.1.0',
  input: z.object({ op: z.string(), a: z.number(), b: z.number(), wait: z.boolean().default(false) }),
  output: z.number(),
});
type Contract = typeof contract;
type Options = NodeServiceOptions<Contract['config']>;

class MathNode extends NodeService<Contract['input'], Contract['output'], Contract['config']> {
  store: ComponentHealth = { status: 'healthy' };
  #release: () => void = () => undefined;

  constructor(options: Options = {}, labelled = true) {
    super(contract, { logger: createSilentLogger(), ...options });
    if (labelled) this.labelCallsByOperation(['add', 'div'], (input) => input.op);
  }

  /** Lets the calls that wait finish. */
  release(): void {
    this.#release();
  }

  /** Exposes the hook to the test: a second call must be refused. */
  labelAgain(): void {
    this.labelCallsByOperation(['x'], () => 'x');
  }

  protected override async componentHealth(): Promise<Record<string, ComponentHealth>> {
    return { store: this.store };
  }

  protected async process(input: z.output<Contract['input']>, _ctx: CallContext): Promise<number> {
    if (input.wait) await new Promise<void>((resolve) => (this.#release = resolve));
    if (input.op === 'div' && input.b === 0) throw new OnexError(ErrorCode.Validation, 'division by zero');
    if (input.op === 'add') return input.a + input.b;
    if (input.op === 'div') return input.a / input.b;
    throw new OnexError(ErrorCode.NotFound, `no operation ${input.op}`);
  }
}

async function scrape(node: { readonly metricsRegistry: { metrics(): Promise<string> } }): Promise<Scrape> {
  return parseScrape(await node.metricsRegistry.metrics());
}

describe('NodeService Prometheus metrics', () => {
  it('counts calls by operation and outcome, errors by code, and times them per operation', async () => {
    const node = new MathNode();
    await node.initialize();
    await node.handle({ op: 'add', a: 1, b: 2 });
    await node.handle({ op: 'add', a: 3, b: 4 });
    await node.handle({ op: 'div', a: 1, b: 0 }); // fails in process: VALIDATION, labelled div
    await node.handle({ op: 'pow', a: 1, b: 2 }); // a name outside the set: no label, whatever the caller sent
    await node.handle({ op: 'add' }); // invalid input: before any operation is known
    const s = await scrape(node);
    const calls = (operation: string, outcome: string) => s.value('onex_node_calls_total', { node: 'math', operation, outcome });
    expect(s.family('onex_node_calls_total').type).toBe('COUNTER');
    expect([calls('add', 'success'), calls('add', 'failure'), calls('div', 'failure'), calls('', 'failure')]).toEqual([2, 0, 1, 2]);
    expect(s.value('onex_node_call_errors_total', { node: 'math', operation: 'div', code: ErrorCode.Validation })).toBe(1);
    expect(s.value('onex_node_call_errors_total', { node: 'math', operation: '', code: ErrorCode.NotFound })).toBe(1);
    expect(s.value('onex_node_call_errors_total', { node: 'math', operation: '', code: ErrorCode.Validation })).toBe(1);
    // No series names 'pow': the set of operations is the one the kind declared.
    expect(s.series('onex_node_calls_total').map((l) => l['operation'])).not.toContain('pow');
    const add = s.histogram('onex_node_call_duration_seconds', { node: 'math', operation: 'add' });
    expect(add?.count).toBe(2);
    expect(add?.sum).toBeGreaterThan(0);
    expect(add?.buckets.get('30')).toBe(2);
    expect(s.histogram('onex_node_call_duration_seconds', { node: 'math', operation: '' })?.count).toBe(2);
    await node.shutdown();
  });

  it('counts calls refused before they run (not ready, at the concurrency limit) as rejected, by code', async () => {
    const node = new MathNode({ maxConcurrency: 1 });
    await node.handle({ op: 'add', a: 1, b: 2 }); // not initialised: LIFECYCLE
    await node.initialize();
    const waiting = node.handle({ op: 'add', a: 1, b: 2, wait: true });
    await expect(node.handle({ op: 'add', a: 1, b: 2 })).resolves.toMatchObject({ ok: false, error: { code: ErrorCode.Overloaded } });
    let s = await scrape(node);
    expect(s.value('onex_node_calls_in_flight', { node: 'math' })).toBe(1);
    expect(s.value('onex_node_max_concurrency', { node: 'math' })).toBe(1);
    node.release();
    await waiting;
    s = await scrape(node);
    expect(s.value('onex_node_calls_total', { node: 'math', operation: '', outcome: 'rejected' })).toBe(2);
    expect(s.value('onex_node_call_errors_total', { node: 'math', operation: '', code: ErrorCode.Lifecycle })).toBe(1);
    expect(s.value('onex_node_call_errors_total', { node: 'math', operation: '', code: ErrorCode.Overloaded })).toBe(1);
    expect(s.value('onex_node_calls_total', { node: 'math', operation: 'add', outcome: 'success' })).toBe(1);
    expect(s.value('onex_node_calls_in_flight', { node: 'math' })).toBe(0);
    expect(node.metrics()).toMatchObject({ calls: 1, rejected: 2, rejectedByCode: { LIFECYCLE: 1, OVERLOADED: 1 } });
    await node.shutdown();
  });

  it('shows identity, lifecycle, uptime and health (of the node and each component) as statesets', async () => {
    let now = 1_000;
    const clock: Clock = { now: () => now };
    const node = new MathNode({ clock });
    const lifecycle = (s: Scrape) => s.series('onex_node_lifecycle_status').filter((l) => s.value('onex_node_lifecycle_status', l) === 1).map((l) => l['status']);
    let s = await scrape(node);
    expect(s.value('onex_node_info', { node: 'math', kind: 'compute', version: '2.1.0' })).toBe(1);
    expect(lifecycle(s)).toEqual(['created']);
    expect(s.series('onex_node_lifecycle_status')).toHaveLength(6);
    expect(s.family('onex_node_max_concurrency').metrics).toHaveLength(0); // unlimited
    await node.initialize();
    now += 90_000;
    node.store = { status: 'degraded', detail: 'replica lag' };
    s = await scrape(node);
    expect(lifecycle(s)).toEqual(['ready']);
    expect(s.value('onex_node_uptime_seconds', { node: 'math' })).toBe(90);
    expect(s.value('onex_node_health_status', { node: 'math', status: 'degraded' })).toBe(1);
    expect(s.value('onex_node_health_status', { node: 'math', status: 'healthy' })).toBe(0);
    expect(s.value('onex_node_component_health_status', { node: 'math', component: 'store', status: 'degraded' })).toBe(1);
    expect(s.value('onex_node_component_health_status', { node: 'math', component: 'store', status: 'unhealthy' })).toBe(0);
    await node.shutdown();
    s = await scrape(node);
    expect(lifecycle(s)).toEqual(['stopped']);
    expect(s.value('onex_node_health_status', { node: 'math', status: 'unhealthy' })).toBe(1);
  });

  it('has a registry of its own by default: two nodes of the same name in one process do not clash', async () => {
    const a = new MathNode();
    const b = new MathNode();
    expect(a.metricsRegistry).not.toBe(b.metricsRegistry);
    await a.initialize();
    await a.handle({ op: 'add', a: 1, b: 1 });
    expect((await scrape(a)).value('onex_node_calls_total', { node: 'math', operation: 'add', outcome: 'success' })).toBe(1);
    expect((await scrape(b)).value('onex_node_calls_total', { node: 'math', operation: 'add', outcome: 'success' })).toBe(0);
    await a.shutdown();
  });

  it('shares a registry across nodes, kept apart by the node label; refuses a second live node with the same label', async () => {
    const registry = new Registry();
    const eu = new MathNode({ metrics: { registry, node: 'math-eu' } });
    const us = new MathNode({ metrics: { registry, node: 'math-us' } });
    expect(eu.metricsRegistry).toBe(registry);
    expect(() => new MathNode({ metrics: { registry, node: 'math-eu' } })).toThrow(expect.objectContaining({ code: ErrorCode.Validation }));
    await eu.initialize();
    await us.initialize();
    await eu.handle({ op: 'add', a: 1, b: 1 });
    await us.handle({ op: 'add', a: 1, b: 1 });
    await us.handle({ op: 'add', a: 1, b: 1 });
    const s = await scrape(eu);
    expect(s.value('onex_node_calls_total', { node: 'math-eu', operation: 'add', outcome: 'success' })).toBe(1);
    expect(s.value('onex_node_calls_total', { node: 'math-us', operation: 'add', outcome: 'success' })).toBe(2);
    // Stopped, the node gives its label up: a new one (a restart in process) takes it over.
    await eu.shutdown();
    const again = new MathNode({ metrics: { registry, node: 'math-eu' } });
    await again.initialize();
    expect((await scrape(again)).value('onex_node_calls_total', { node: 'math-eu', operation: 'add', outcome: 'success' })).toBe(0);
    await again.shutdown();
    await us.shutdown();
  });

  it('labels nothing when the kind does not, takes duration buckets from the options, and labels only once', async () => {
    const node = new MathNode({ metrics: { durationBuckets: [0.5, 5] } }, false);
    await node.initialize();
    await node.handle({ op: 'add', a: 1, b: 1 });
    const s = await scrape(node);
    expect(s.value('onex_node_calls_total', { node: 'math', operation: '', outcome: 'success' })).toBe(1);
    expect([...(s.histogram('onex_node_call_duration_seconds', { node: 'math' })?.buckets.keys() ?? [])]).toEqual(['0.5', '5', '+Inf']);
    node.labelAgain(); // the first labelling is accepted, even after calls
    expect(() => node.labelAgain()).toThrow(expect.objectContaining({ code: ErrorCode.Lifecycle }));
    expect(() => new MathNode({ metrics: { durationBuckets: [1, 0.5] } })).toThrow(expect.objectContaining({ code: ErrorCode.Validation }));
    await node.shutdown();
  });
});
