// Flow control in admission. Invariants checked here:
// - a concurrency key never has more than its limit running at once, on one instance and across instances sharing a
//   store, while other keys go on (none is starved: every workflow completes, and several keys run at once);
// - among waiting workflows a higher priority starts first;
// - waiting workflows are durable: an instance that stops with a backlog leaves it in the store, and the next one
//   runs all of it, keys and priorities kept.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSilentLogger, NodeService, type CallContext } from '@onex/core';
import { rejection, type FakeClock } from '@onex/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, WorkflowStatus, type WorkflowRecord, type WorkflowStore } from '../src/index.js';
import { SqliteWorkflowStore } from '../src/sqlite.js';
import { createInProcessClient } from '@onex/core';
import { fakeTime, pause } from './fake-time.js';
import { stepContract } from './scripted-peer.js';

const T0 = Date.UTC(2030, 0, 1);
const dir = mkdtempSync(join(tmpdir(), 'onex-admission-'));

/** A peer that takes `holdMs` of fake time per call and records, per tag, how many calls run at once. */
class CountingPeer extends NodeService<typeof stepContract.input, typeof stepContract.output, typeof stepContract.config> {
  readonly inFlightByTag = new Map<string, number>();
  readonly maxInFlight = new Map<string, number>();
  readonly order: string[] = [];
  maxTotal = 0;
  #total = 0;
  constructor(readonly holdMs: number) {
    super({ ...stepContract, name: 'counting' }, { logger: createSilentLogger(), defaultTimeoutMs: 3_600_000 });
  }
  protected async process(input: { value: number; tag?: string }, _ctx: CallContext): Promise<{ value: number; by: string }> {
    const tag = input.tag ?? '';
    this.order.push(`${tag}#${input.value}`);
    this.inFlightByTag.set(tag, (this.inFlightByTag.get(tag) ?? 0) + 1);
    this.maxInFlight.set(tag, Math.max(this.maxInFlight.get(tag) ?? 0, this.inFlightByTag.get(tag)!));
    this.#total += 1;
    this.maxTotal = Math.max(this.maxTotal, this.#total);
    await new Promise<void>((resolve) => setTimeout(resolve, this.holdMs));
    this.inFlightByTag.set(tag, this.inFlightByTag.get(tag)! - 1);
    this.#total -= 1;
    return { value: input.value, by: tag };
  }
}

const Job = z.object({ tenant: z.string(), n: z.number() });
const job = defineWorkflow({ type: 'tenant-job', version: '1.0.0', input: Job, output: z.number() })
  .step('work', { target: peer('counting', stepContract), timeoutMs: 3_600_000, input: ({ input }) => ({ value: input.n, tag: input.tenant }) })
  .returns(({ steps }) => steps.work.value);

const time = fakeTime({ tickMs: 0, stepMs: 250 });
let clock: FakeClock | undefined;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function orchestrator(store: WorkflowStore, counting: CountingPeer, maxConcurrentWorkflows: number, instanceId = 'only', maxQueuedWorkflows?: number): Promise<Orchestrator> {
  if (counting.status !== 'ready') await counting.initialize();
  const o = new Orchestrator(
    { workflows: [job] },
    { store, peers: { counting: createInProcessClient(counting) }, logger: createSilentLogger(), maxConcurrentWorkflows, leaseMs: 4 * 3_600_000, instanceId, clock: time.clock, ...(maxQueuedWorkflows === undefined ? {} : { maxQueuedWorkflows }) },
  );
  time.track(o);
  await o.initialize();
  return o;
}

/** Advances fake time in small steps, letting the runs' I/O finish between them, until `done` holds. */
async function runUntil(done: () => Promise<boolean>, stepMs: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error('timed out');
    await clock!.advance(stepMs);
    await pause(2);
  }
}

async function allFinished(store: WorkflowStore, ids: readonly string[]): Promise<boolean> {
  for (const id of ids) if ((await store.get(id))?.status !== WorkflowStatus.Completed) return false;
  return true;
}

describe('admission flow control', () => {
  it('50 workflows over 5 keys with a limit of 2: no key ever runs more than 2, the others are not starved', async () => {
    clock = time.install(T0, 1_000_000);
    const counting = new CountingPeer(1_000);
    const store = new MemoryWorkflowStore();
    const o = await orchestrator(store, counting, 8);
    const ids: string[] = [];
    // Tenant t0 floods first: 30 of its workflows, then 5 each of the other four.
    for (let n = 0; n < 30; n += 1) ids.push(await o.start(job, { tenant: 't0', n }, { concurrencyKey: 'tenant:t0', concurrencyLimit: 2 }));
    for (const tenant of ['t1', 't2', 't3', 't4']) {
      for (let n = 0; n < 5; n += 1) ids.push(await o.start(job, { tenant, n }, { concurrencyKey: `tenant:${tenant}`, concurrencyLimit: 2 }));
    }
    await runUntil(() => allFinished(store, ids), 250);
    for (const tenant of ['t0', 't1', 't2', 't3', 't4']) expect(counting.maxInFlight.get(tenant)).toBe(2);
    expect(counting.maxTotal).toBe(8); // 4 keys × 2 while t0's backlog waits: the others went on beside it
    // The four small tenants were done long before t0's backlog: their last call started in the first rounds.
    const lastSmall = Math.max(...['t1', 't2', 't3', 't4'].map((t) => counting.order.lastIndexOf(`${t}#4`)));
    expect(lastSmall).toBeLessThan(30);
    expect((await store.get(ids[0]!))?.admission).toEqual({ concurrencyKey: 'tenant:t0', concurrencyLimit: 2 });
  });

  for (const kind of ['memory', 'sqlite'] as const) {
    it(`3 instances on one ${kind} store: 50 workflows over 5 keys with a limit of 2, no key ever runs more than 2 anywhere`, async () => {
      clock = time.install(T0, 1_000_000);
      const counting = new CountingPeer(1_000);
      const path = join(dir, `shared-${kind}.db`);
      const shared = new MemoryWorkflowStore();
      const storeOf = (): WorkflowStore => (kind === 'memory' ? shared : new SqliteWorkflowStore({ path, purgeIntervalMs: 0 }));
      // Each takes at most 4 (3 running, 1 waiting): the 10 slots of the 5 keys are spread over the three, and
      // per-instance limits alone would let a key run 2 on each (6 at once).
      const instances: Orchestrator[] = [];
      for (const id of ['a', 'b', 'c']) instances.push(await orchestrator(storeOf(), counting, 3, id, 1));
      const ids: string[] = [];
      let at = 0;
      for (const tenant of ['t0', 't1', 't2', 't3', 't4']) {
        for (let n = 0; n < 10; n += 1) ids.push(await instances[at++ % 3]!.start(job, { tenant, n }, { concurrencyKey: `tenant:${tenant}`, concurrencyLimit: 2 }));
      }
      const reader = storeOf();
      await reader.init();
      await runUntil(() => allFinished(reader, ids), 250);
      for (const tenant of ['t0', 't1', 't2', 't3', 't4']) expect(counting.maxInFlight.get(tenant), tenant).toBe(2);
      expect(counting.maxTotal).toBeGreaterThan(2); // keys ran beside each other
      const ranOn = new Set(await Promise.all(ids.map(async (id) => (await reader.get(id))?.owner)));
      expect(ranOn, 'every instance ran some').toEqual(new Set(['a', 'b', 'c']));
      for (const o of instances) await time.stop(o);
      if (kind === 'sqlite') await reader.close();
    });
  }

  it('starts the higher priority first among waiting workflows; equal priorities in start order', async () => {
    clock = time.install(T0, 1_000_000);
    const counting = new CountingPeer(1_000);
    const store = new MemoryWorkflowStore();
    const o = await orchestrator(store, counting, 1);
    const ids = [await o.start(job, { tenant: 'blocker', n: 0 })];
    ids.push(await o.start(job, { tenant: 'low', n: 1 }, { priority: -1 }));
    ids.push(await o.start(job, { tenant: 'normal', n: 2 }));
    ids.push(await o.start(job, { tenant: 'high', n: 3 }, { priority: 10 }));
    ids.push(await o.start(job, { tenant: 'normal', n: 4 }));
    ids.push(await o.start(job, { tenant: 'high', n: 5 }, { priority: 10 }));
    await runUntil(() => allFinished(store, ids), 250);
    expect(counting.order).toEqual(['blocker#0', 'high#3', 'high#5', 'normal#2', 'normal#4', 'low#1']);
    expect((await rejection(o.start(job, { tenant: 'x', n: 9 }, { priority: 1.5 }))).code).toBe('VALIDATION');
    expect((await rejection(o.start(job, { tenant: 'x', n: 9 }, { concurrencyLimit: 2 }))).code).toBe('VALIDATION');
  });

  it('a workflow run at once is created running with its first dispatch: one write fewer, and no write before the call', async () => {
    clock = time.install(T0, 1_000_000);
    const counting = new CountingPeer(1_000);
    const store = new MemoryWorkflowStore();
    const writes: string[] = [];
    const created: WorkflowRecord[] = [];
    const create = store.create.bind(store);
    const commit = store.commit.bind(store);
    store.create = async (record) => {
      writes.push('create');
      created.push(record);
      return create(record);
    };
    store.commit = async (id, epoch, change) => {
      writes.push(counting.order.length === 0 ? 'commit before the call' : 'commit');
      return commit(id, epoch, change);
    };
    const o = await orchestrator(store, counting, 4);
    const id = await o.start(job, { tenant: 't', n: 7 });
    await runUntil(() => allFinished(store, [id]), 250);
    expect(created[0]).toMatchObject({ status: WorkflowStatus.Running, steps: { work: { status: 'running', attempts: 1, input: { value: 7, tag: 't' } } } });
    // The create carried the dispatch; the only commit is the closing one, with the result.
    expect(writes).toEqual(['create', 'commit']);
    expect(counting.order).toEqual(['t#7']);
  });

  it('starts made at once keep the limit while their creates are in flight: the slot is reserved across the create', async () => {
    clock = time.install(T0, 1_000_000);
    const counting = new CountingPeer(1_000);
    const store = new MemoryWorkflowStore();
    const o = await orchestrator(store, counting, 2);
    // All ten creates are in flight at once: without the reservation each would see two free slots.
    const ids = await Promise.all(Array.from({ length: 10 }, (_, n) => o.start(job, { tenant: 't', n })));
    expect(o.stats().running).toBeLessThanOrEqual(2);
    await runUntil(() => allFinished(store, ids), 250);
    expect(counting.maxTotal).toBe(2);
    expect(counting.order).toHaveLength(10);
  });

  it('a backlog left by an instance that stopped is run by the next one, keys and priorities kept (SQLite file)', async () => {
    clock = time.install(T0, 1_000_000);
    const path = join(dir, 'backlog.db');
    const first = await orchestrator(new SqliteWorkflowStore({ path, purgeIntervalMs: 0 }), new CountingPeer(3_600_000), 2);
    const ids: string[] = [];
    for (let n = 0; n < 12; n += 1) {
      const tenant = `t${n % 3}`;
      ids.push(await first.start(job, { tenant, n }, { concurrencyKey: tenant, concurrencyLimit: 1, priority: n % 2 }));
    }
    await clock.advance(1);
    await pause(20);
    // Claimed within each key's limit (one slot each, across instances): two run, one waits here, nine in the store.
    expect(first.stats()).toMatchObject({ running: 2, queued: 1 });
    await time.stop(first);

    const counting = new CountingPeer(1_000);
    const store = new SqliteWorkflowStore({ path, purgeIntervalMs: 0 });
    await orchestrator(store, counting, 2);
    await runUntil(() => allFinished(store, ids), 250);
    for (const tenant of ['t0', 't1', 't2']) expect(counting.maxInFlight.get(tenant)).toBe(1);
    expect((await store.get(ids[3]!))?.admission).toEqual({ priority: 1, concurrencyKey: 't0', concurrencyLimit: 1 });
  });
});
