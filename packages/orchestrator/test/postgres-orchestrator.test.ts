// Orchestrators sharing one real PostgreSQL (the vitest globalSetup's server; never skipped): store events over
// LISTEN/NOTIFY wake result waiters, cancellations and claims on other instances without polling.
import { createInProcessClient, createSilentLogger, ErrorCode, NodeService, OnexError, sleep } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PostgresWorkflowStore } from '../src/postgres.js';
import { defineWorkflow, Orchestrator, peer, StepStatus, WorkflowStatus, type AnyWorkflowDefinition, type WorkflowEvent } from '../src/index.js';
import { flaky } from './flaky-store.js';
import { ScriptedPeer, stepContract } from './scripted-peer.js';

const url = postgresUrl();
const schemas: TestSchema[] = [];
const open: { shutdown(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.shutdown().catch(() => undefined);
});
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

async function schema(): Promise<string> {
  const s = await freshSchema(url, 'orch');
  schemas.push(s);
  return s.name;
}

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number() });
const ref = (name: string) => peer(name, stepContract);

function store(name: string): PostgresWorkflowStore {
  return new PostgresWorkflowStore({ connectionString: url, schema: name, purgeIntervalMs: 0, maxConnections: 4 });
}

async function instance(workflows: AnyWorkflowDefinition[], peers: Record<string, ScriptedPeer>, workflowStore: PostgresWorkflowStore | ReturnType<typeof flaky>['store'], leaseMs = 60_000): Promise<Orchestrator> {
  const clients: Record<string, ReturnType<typeof createInProcessClient>> = {};
  for (const [name, node] of Object.entries(peers)) clients[name] = createInProcessClient(node);
  const o = new Orchestrator({ workflows }, { store: workflowStore, peers: clients, logger: createSilentLogger(), leaseMs });
  await o.initialize();
  open.push(o);
  return o;
}

describe('PostgresWorkflowStore events (LISTEN/NOTIFY)', () => {
  it('tells every subscriber of finished workflows, given-up leases, cancel requests and wake-up times', async () => {
    const name = await schema();
    const writer = store(name);
    const reader = store(name);
    await writer.init();
    await reader.init();
    open.push({ shutdown: () => writer.close() }, { shutdown: () => reader.close() });
    const events: WorkflowEvent[] = [];
    const stop = await reader.subscribe((event) => events.push(event));
    const now = Date.now();
    const base = { type: 't', version: '1', status: WorkflowStatus.Running, input: {}, correlationId: 'c', createdAt: now, updatedAt: now, owner: 'w', leaseExpiresAt: now + 60_000, epoch: 1, steps: {} };
    await writer.create({ ...base, id: 'a' });
    await writer.create({ ...base, id: 'b' });
    await writer.create({ ...base, id: 'c' });
    await writer.commit('a', 1, { workflow: { status: WorkflowStatus.Completed, output: 1 } });
    await writer.commit('b', 1, { workflow: { wakeAt: now + 5_000 }, steps: [{ name: 's', status: StepStatus.Compensating, attempts: 1, attemptErrors: [] }] });
    await writer.release('w', { id: 'b', epoch: 1 });
    await writer.requestCancel('c');
    // A refused commit (stale epoch) announces nothing.
    await writer.commit('c', 7, { workflow: { status: WorkflowStatus.Failed } }).catch(() => undefined);
    await expect.poll(() => events.length, { timeout: 10_000 }).toBe(4);
    expect(events).toEqual([
      { kind: 'finished', id: 'a' },
      { kind: 'wake', at: now + 5_000 },
      { kind: 'claimable', id: 'b' },
      { kind: 'cancel', id: 'c' },
    ]);
    await stop();
    await writer.commit('c', 1, { workflow: { status: WorkflowStatus.Cancelled } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events).toHaveLength(4);
  });
});

describe('Orchestrators on one PostgreSQL', () => {
  const slowWf = defineWorkflow({ type: 'pg-slow', version: '1.0.0', input: Input, output: Output })
    .step('only', { target: ref('a'), input: ({ input }) => input, compensate: { target: ref('a'), input: () => ({ value: 99 }) } })
    .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));

  it('a waiter on another instance hears the end at once, reading the store only a few times', async () => {
    const name = await schema();
    const a = new ScriptedPeer('a', { delayMs: 1_500 });
    await a.initialize();
    const runner = await instance([slowWf], { a }, store(name));
    const watched = flaky(store(name));
    const waiter = await instance([slowWf], { a }, watched.store);
    const id = await runner.start(slowWf, { value: 1 });
    const reads = watched.calls.get('get') ?? 0;
    expect(await waiter.result(id, { signal: AbortSignal.timeout(15_000) })).toMatchObject({ status: WorkflowStatus.Completed, output: { total: 2 } });
    // Polling every 250 ms would have read it about six times during the 1.5 s step.
    expect((watched.calls.get('get') ?? 0) - reads).toBeLessThanOrEqual(3);
  });

  it('a cancel on another instance reaches the holder at once, not at its next lease renewal', async () => {
    const name = await schema();
    const a = new ScriptedPeer('a', { delayMs: 60_000 });
    const u = new ScriptedPeer('u');
    await a.initialize();
    await u.initialize();
    const wf = defineWorkflow({ type: 'pg-cancel', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input, compensate: { target: ref('u'), input: () => ({ value: 99 }) } })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    // A 10-minute lease: the holder's renewal tick (every 200 s) cannot be what delivers the cancel.
    const holder = await instance([wf], { a, u }, store(name), 600_000);
    const other = await instance([wf], { a, u }, store(name), 600_000);
    const id = await holder.start(wf, { value: 1 });
    await expect.poll(() => a.calls, { timeout: 10_000 }).toBe(1);
    const outcome = await other.cancel(id, { signal: AbortSignal.timeout(15_000) });
    expect(outcome.status).toBe(WorkflowStatus.Cancelled);
    expect(a.aborted).toBe(1);
    expect(u.log.map((l) => l.value)).toEqual([99]);
  });

  it('a workflow given up by a shut-down instance is claimed by another at once', async () => {
    const name = await schema();
    const slow = new ScriptedPeer('a', { delayMs: 60_000 });
    await slow.initialize();
    const first = await instance([slowWf], { a: slow }, store(name), 600_000);
    const quick = new ScriptedPeer('a');
    await quick.initialize();
    const second = await instance([slowWf], { a: quick }, store(name), 600_000);
    const id = await first.start(slowWf, { value: 1 });
    await expect.poll(() => slow.calls, { timeout: 10_000 }).toBe(1);
    await first.shutdown();
    expect(await second.result(id, { signal: AbortSignal.timeout(15_000) })).toMatchObject({ status: WorkflowStatus.Completed, output: { total: 2 } });
  });
});

describe('Concurrency keys across orchestrators on one PostgreSQL', () => {
  /** Holds each call 40 ms and records, per key (the input value mod 3), the most calls in flight at once. */
  class KeyedPeer extends NodeService<typeof stepContract.input, typeof stepContract.output, typeof stepContract.config> {
    readonly most = new Map<number, number>();
    readonly #now = new Map<number, number>();
    constructor() {
      super({ ...stepContract, name: 'keyed' }, { logger: createSilentLogger() });
    }
    protected async process(input: { value: number }): Promise<{ value: number; by: string }> {
      const key = input.value % 3;
      const n = (this.#now.get(key) ?? 0) + 1;
      this.#now.set(key, n);
      this.most.set(key, Math.max(this.most.get(key) ?? 0, n));
      await sleep(40);
      this.#now.set(key, this.#now.get(key)! - 1);
      return { value: input.value, by: `k${key}` };
    }
  }
  const keyedWf = defineWorkflow({ type: 'keyed', version: '1.0.0', input: Input, output: Output })
    .step('work', { target: peer('keyed', stepContract), input: ({ input }) => input })
    .returns(({ steps }) => ({ total: steps.work.value }));

  it('3 instances, 30 workflows over 3 keys with a limit of 2: no key ever runs more than 2 anywhere', async () => {
    const name = await schema();
    const node = new KeyedPeer();
    await node.initialize();
    const instances: Orchestrator[] = [];
    for (const instanceId of ['a', 'b', 'c']) {
      const o = new Orchestrator(
        { workflows: [keyedWf] },
        { store: store(name), peers: { keyed: createInProcessClient(node) }, logger: createSilentLogger(), instanceId, maxConcurrentWorkflows: 3, maxQueuedWorkflows: 1 },
      );
      await o.initialize();
      open.push(o);
      instances.push(o);
    }
    const ids: string[] = [];
    for (let value = 0; value < 30; value += 1) {
      // An instance holding all it may (3 running, 1 waiting) refuses a start as OVERLOADED: try the next one.
      for (let attempt = 0; ; attempt += 1) {
        try {
          ids.push(await instances[(value + attempt) % 3]!.start(keyedWf, { value }, { concurrencyKey: `k${value % 3}`, concurrencyLimit: 2 }));
          break;
        } catch (error) {
          if (!(error instanceof OnexError && error.code === ErrorCode.Overloaded) || attempt > 300) throw error;
          await sleep(10);
        }
      }
    }
    const outcomes = await Promise.all(ids.map((id, i) => instances[i % 3]!.result(id, { signal: AbortSignal.timeout(60_000) })));
    expect(outcomes.map((o) => o.status)).toEqual(ids.map(() => WorkflowStatus.Completed));
    expect([...node.most.entries()].sort()).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    const owners = new Set(await Promise.all(ids.map(async (id) => (await instances[0]!.get(id)).owner)));
    expect(owners.size, 'more than one instance ran them').toBeGreaterThan(1);
  });
});
