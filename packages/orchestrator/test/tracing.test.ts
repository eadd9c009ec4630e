// One workflow, one trace: an orchestrator and three peers (compute, effect with a SQLite transaction, reducer), each
// served over HTTP on loopback, with the OpenTelemetry SDK's in-memory exporter. Every span of a workflow must share
// its trace id and hang from its `workflow <type>` span — also when a second orchestrator instance resumes it.
import Database from 'better-sqlite3';
import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { computeContract, defineComputation, defineComputeNode, NodeCompute } from '@onex/compute';
import { createNodeClient, createSilentLogger, defineContract, ErrorCode, NodeKind, NodeService, OnexAttribute, OnexError, serveNode, type CallContext, type NodeClient, type NodeContract, type ServedNode } from '@onex/core';
import { defineEffectContract, defineEffectNode, defineOperation, NodeEffect, type OperationContext } from '@onex/effect';
import { SqliteTransactionManager, type SqliteTransaction } from '@onex/effect/sqlite';
import { defineReducerNode, defineStateMachine, NodeReducer, reducerContract } from '@onex/reducer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineOrchestrator, defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, serveOrchestrator } from '../src/index.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
afterEach(() => exporter.reset());
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

// --- the three peers ---------------------------------------------------------------------------------------------
const price = defineComputation({
  name: 'price',
  input: z.object({ quantity: z.int().positive() }),
  output: z.object({ totalCents: z.int() }),
  compute: ({ quantity }) => ({ totalCents: quantity * 250 }),
});
const pricingDefinition = defineComputeNode({ name: 'pricing', version: '1.0.0', computations: [price] });

const charge = defineOperation({
  name: 'charge',
  input: z.object({ amountCents: z.int() }),
  output: z.object({ chargeId: z.string() }),
  transactional: true,
  run: async ({ amountCents }, ctx: OperationContext<SqliteTransaction>) => {
    if (amountCents > 10_000) throw new OnexError(ErrorCode.Conflict, 'Card declined');
    ctx.tx.run('INSERT INTO charges (key, amount) VALUES (?, ?)', ctx.idempotencyKey ?? '', amountCents);
    return { chargeId: `ch-${amountCents}` };
  },
});
const paymentsDefinition = defineEffectNode({ name: 'payments', version: '1.0.0', operations: [charge] });

const ledgerMachine = defineStateMachine({
  name: 'ledger',
  states: ['open', 'charged'],
  initial: 'open',
  terminal: ['charged'],
  context: z.object({ chargeId: z.string().default('') }),
  events: { CHARGED: z.object({ chargeId: z.string() }) },
  transitions: [{ from: 'open', on: 'CHARGED', to: 'charged', update: (ctx, p) => ({ ...ctx, chargeId: p.chargeId }) }],
});
const ledgerDefinition = defineReducerNode({ machine: ledgerMachine, version: '1.0.0' });
const ledgerContract = reducerContract(ledgerDefinition);

const pricingPeer = peer('pricing', computeContract(pricingDefinition).computation('price'));
const chargePeer = peer('payments', defineEffectContract(paymentsDefinition).operation('charge'));
const ledgerPeer = peer('ledger', ledgerContract);

const Order = z.object({ orderId: z.string(), quantity: z.int().positive() });
const checkout = defineWorkflow({ type: 'checkout', version: '1.0.0', input: Order, output: z.object({ chargeId: z.string() }) })
  .step('price', { target: pricingPeer, input: ({ input }) => ({ computation: 'price', input: { quantity: input.quantity } }) })
  .step('charge', {
    target: chargePeer,
    dependsOn: ['price'],
    retry: { maxAttempts: 1 },
    input: ({ steps }) => ({ operation: 'charge', input: { amountCents: steps.price.result.totalCents } }),
  })
  .step('record', {
    target: ledgerPeer,
    dependsOn: ['charge'],
    input: ({ workflowId, input, steps }) => ({ aggregateId: input.orderId, event: { id: `${workflowId}:charged`, type: 'CHARGED', payload: { chargeId: steps.charge.result.chargeId } } }),
  })
  .returns(({ steps }) => ({ chargeId: steps.charge?.result.chargeId ?? '' }));

/** A generic contract for a multi-operation peer's client: the node checks each operation's schemas. */
const anyContract = (name: string, kind: NodeKind): NodeContract => defineContract({ name, kind, version: '1.0.0', input: z.unknown(), output: z.unknown() });

interface Peers {
  readonly served: readonly ServedNode[];
  readonly clients: Record<string, NodeClient<NodeContract>>;
  close(): Promise<void>;
}

async function servePeers(): Promise<Peers> {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE charges (key TEXT NOT NULL, amount INTEGER NOT NULL)');
  const logger = createSilentLogger();
  const served = [
    await serveNode(new NodeCompute(pricingDefinition, { logger })),
    await serveNode(new NodeEffect(paymentsDefinition, { logger, transactions: new SqliteTransactionManager({ database: db }) })),
    await serveNode(new NodeReducer(ledgerDefinition, { logger })),
  ] as const;
  const clients: Record<string, NodeClient<NodeContract>> = {
    pricing: createNodeClient(served[0].url, anyContract('pricing', NodeKind.Compute)),
    payments: createNodeClient(served[1].url, anyContract('payments', NodeKind.Effect)),
    ledger: createNodeClient(served[2].url, ledgerContract),
  };
  return {
    served,
    clients,
    close: async () => {
      await Promise.all(Object.values(clients).map((c) => c.close()));
      await Promise.all(served.map((s) => s.close()));
      db.close();
    },
  };
}

/** The spans of one trace, checked to form one tree; answers its root and a lookup by name. */
function treeOf(traceId: string): { root: ReadableSpan; spans: readonly ReadableSpan[]; named: (name: string) => ReadableSpan[] } {
  const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const roots = spans.filter((s) => s.parentSpanContext === undefined || !ids.has(s.parentSpanContext.spanId));
  expect(roots.map((s) => s.name), 'one root: every other span hangs from a span of the trace').toHaveLength(1);
  return { root: roots[0]!, spans, named: (name) => spans.filter((s) => s.name === name) };
}

const parentOf = (span: ReadableSpan, spans: readonly ReadableSpan[]): ReadableSpan | undefined => spans.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);

describe('one workflow across four nodes is one trace', () => {
  let peers: Peers;
  let orchestrator: Orchestrator;
  let served: ServedNode;

  beforeAll(async () => {
    peers = await servePeers();
    orchestrator = new Orchestrator(defineOrchestrator({ workflows: [checkout] }), { peers: peers.clients, logger: createSilentLogger() });
    served = await serveOrchestrator(orchestrator);
  });
  afterAll(async () => {
    await served.close();
    await peers.close();
  });

  it('started over HTTP: workflow → run → step → call → process → effect → transaction, with ONEX attributes', async () => {
    const res = await fetch(`${served.url}/v1/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'checkout', input: { orderId: 'o-1', quantity: 2 } }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const outcome = await orchestrator.result(id);
    expect(outcome).toMatchObject({ status: 'completed', output: { chargeId: 'ch-500' } });

    const workflowSpan = exporter.getFinishedSpans().find((s) => s.name === 'workflow checkout');
    expect(workflowSpan).toBeDefined();
    const traceId = workflowSpan!.spanContext().traceId;
    const { root, spans, named } = treeOf(traceId);
    expect(root.name).toBe('workflow checkout');
    expect(exporter.getFinishedSpans().every((s) => s.spanContext().traceId === traceId), 'no span outside the workflow’s trace').toBe(true);

    // The stored trace context is the workflow span's: what a resumed run continues from.
    const record = await orchestrator.get(id);
    expect(record.traceContext?.traceparent).toBe(`00-${traceId}-${root.spanContext().spanId}-01`);

    expect(root.attributes).toMatchObject({ [OnexAttribute.WorkflowId]: id, [OnexAttribute.WorkflowType]: 'checkout' });
    const [run] = named('run checkout');
    expect(parentOf(run!, spans)?.name).toBe('workflow checkout');
    expect(run!.attributes).toMatchObject({ [OnexAttribute.WorkflowId]: id, [OnexAttribute.WorkflowStatus]: 'completed' });

    for (const [step, node] of [['price', 'pricing'], ['charge', 'payments'], ['record', 'ledger']] as const) {
      const [stepSpan] = named(`step ${step}`);
      expect(parentOf(stepSpan!, spans)?.name).toBe('run checkout');
      expect(stepSpan!.attributes).toMatchObject({
        [OnexAttribute.WorkflowId]: id,
        [OnexAttribute.WorkflowType]: 'checkout',
        [OnexAttribute.Step]: step,
        [OnexAttribute.Attempt]: 1,
        [OnexAttribute.IdempotencyKey]: `${id}:${step}`,
      });
      const [call] = named(`call ${node}`).filter((s) => parentOf(s, spans) === stepSpan);
      expect(call, `call ${node} under step ${step}`).toBeDefined();
      const [processed] = named(`process ${node}`);
      expect(parentOf(processed!, spans)).toBe(call);
      expect(processed!.attributes).toMatchObject({ [OnexAttribute.Node]: node, [OnexAttribute.IdempotencyKey]: `${id}:${step}` });
    }
    const [effect] = named('effect charge');
    expect(parentOf(effect!, spans)?.name).toBe('process payments');
    expect(effect!.attributes).toMatchObject({ [OnexAttribute.Operation]: 'charge', [OnexAttribute.IdempotencyKey]: `${id}:charge` });
    const [transaction] = named('transaction charge');
    expect(parentOf(transaction!, spans)).toBe(effect);
    expect(transaction!.attributes).toMatchObject({ [OnexAttribute.Attempt]: 1 });
    expect(spans.every((s) => s.status.code !== SpanStatusCode.ERROR)).toBe(true);
  });

  it('marks the failing step, call, node, operation and the run ERROR with the error code', async () => {
    const id = await orchestrator.start(checkout, { orderId: 'o-2', quantity: 100 });
    const outcome = await orchestrator.result(id);
    expect(outcome.status).toBe('failed');
    const traceId = exporter.getFinishedSpans().find((s) => s.name === 'workflow checkout')!.spanContext().traceId;
    const { named } = treeOf(traceId);
    for (const name of ['step charge', 'call payments', 'process payments', 'effect charge', 'transaction charge', 'run checkout']) {
      const [span] = named(name);
      expect(span?.status, name).toEqual({ code: SpanStatusCode.ERROR, message: ErrorCode.Conflict });
      expect(span?.attributes[OnexAttribute.ErrorCode], name).toBe(ErrorCode.Conflict);
    }
    expect(named('run checkout')[0]?.attributes[OnexAttribute.WorkflowStatus]).toBe('failed');
    expect(named('step record')).toEqual([]);
  });

  it('a child workflow is in its parent’s trace, under the parent’s step', async () => {
    const inner = defineWorkflow({ type: 'inner', version: '1.0.0', input: Order, output: z.object({ totalCents: z.int() }) })
      .step('price', { target: pricingPeer, input: ({ input }) => ({ computation: 'price', input: { quantity: input.quantity } }) })
      .returns(({ steps }) => ({ totalCents: steps.price?.result.totalCents ?? 0 }));
    const outer = defineWorkflow({ type: 'outer', version: '1.0.0', input: Order, output: z.object({ totalCents: z.int() }) })
      .subworkflow('nested', { workflow: inner, input: ({ input }) => input })
      .returns(({ steps }) => ({ totalCents: steps.nested?.totalCents ?? 0 }));
    orchestrator.register(outer);
    const outcome = await orchestrator.result(await orchestrator.start(outer, { orderId: 'o-3', quantity: 1 }));
    expect(outcome.status).toBe('completed');
    const traceId = exporter.getFinishedSpans().find((s) => s.name === 'workflow outer')!.spanContext().traceId;
    const { root, spans, named } = treeOf(traceId);
    expect(root.name).toBe('workflow outer');
    expect(parentOf(named('workflow inner')[0]!, spans)?.name).toBe('step nested');
    expect(named('process pricing')).toHaveLength(1);
  });
});

describe('a resumed workflow continues its trace', () => {
  it('on a second orchestrator instance that takes it over after the first one stopped mid-workflow', async () => {
    const gate = defineContract({ name: 'gate', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ n: z.int() }), output: z.object({ n: z.int() }) });
    // The second call waits until its caller gives up (instance a stops); every other call answers at once.
    let calls = 0;
    let reached: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => (reached = resolve));
    class Gate extends NodeService<typeof gate.input, typeof gate.output, typeof gate.config> {
      constructor() {
        super(gate, { logger: createSilentLogger() });
      }
      protected async process(input: { n: number }, ctx: CallContext): Promise<{ n: number }> {
        calls += 1;
        if (calls === 2) {
          reached();
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
          ctx.signal.throwIfAborted();
        }
        return { n: input.n + 1 };
      }
    }
    const gateServed = await serveNode(new Gate());
    const clientA = createNodeClient(gateServed.url, gate);
    const clientB = createNodeClient(gateServed.url, gate);
    const wf = defineWorkflow({ type: 'two-steps', version: '1.0.0', input: z.object({ n: z.int() }), output: z.object({ n: z.int() }) })
      .step('first', { target: peer('gate', gate), input: ({ input }) => input })
      .step('second', { target: peer('gate', gate), dependsOn: ['first'], retry: { maxAttempts: 1 }, input: ({ steps }) => steps.first })
      .returns(({ steps }) => steps.second ?? { n: -1 });
    const store = new MemoryWorkflowStore();
    const a = new Orchestrator(defineOrchestrator({ workflows: [wf] }), { store, instanceId: 'a', peers: { gate: clientA }, logger: createSilentLogger() });
    const b = new Orchestrator(defineOrchestrator({ workflows: [wf] }), { store, instanceId: 'b', peers: { gate: clientB }, logger: createSilentLogger() });
    try {
      await a.initialize();
      const id = await a.start(wf, { n: 1 });
      await blocked; // the first step is done, the second is in flight
      await a.shutdown(); // the run halts (`shutdown`) and gives its lease up
      await b.initialize(); // claims and resumes it
      const outcome = await b.result(id);
      expect(outcome).toMatchObject({ status: 'completed', output: { n: 3 } });

      const traceId = exporter.getFinishedSpans().find((s) => s.name === 'workflow two-steps')!.spanContext().traceId;
      const { root, spans, named } = treeOf(traceId);
      expect(root.name).toBe('workflow two-steps');
      expect(exporter.getFinishedSpans().filter((s) => s.spanContext().traceId !== traceId).map((s) => s.name)).toEqual([]);
      const runs = named('run two-steps');
      expect(runs).toHaveLength(2);
      for (const run of runs) expect(parentOf(run, spans)).toBe(root);
      const [first, second] = [...runs].sort((x, y) => x.startTime[0] - y.startTime[0] || x.startTime[1] - y.startTime[1]);
      expect(first!.attributes[OnexAttribute.RunStopped]).toBe('shutdown');
      expect(second!.attributes[OnexAttribute.WorkflowStatus]).toBe('completed');
      // The resumed run dispatched the second step again, in its own run span.
      const secondSteps = named('step second');
      expect(secondSteps.map((s) => parentOf(s, spans))).toEqual(expect.arrayContaining([first, second]));
      expect(named('process gate').length).toBeGreaterThanOrEqual(3);
    } finally {
      await b.shutdown();
      if (a.status !== 'stopped') await a.shutdown();
      await clientA.close();
      await clientB.close();
      await gateServed.close();
    }
  });
});
