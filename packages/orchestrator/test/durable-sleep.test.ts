// Durable sleep steps and delayed starts, driven by a fake clock: a sleeping (or not yet started) workflow is parked
// in the store with its wake-up time, holds nothing in the engine, and the instance's one claim timer wakes it when
// due — on every store, across a restart, and at once after downtime.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeApp, createSilentLogger } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import { installFakeClock, type FakeClock } from '@onex/testing';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, StepStatus, WorkflowStatus, workflowRoutes, type AnyWorkflowDefinition, type WorkflowStore } from '../src/index.js';
import { PostgresWorkflowStore } from '../src/postgres.js';
import { SqliteWorkflowStore } from '../src/sqlite.js';
import { endFakeClockPools, fakeClockPool } from './fake-time.js';
import { peers, ScriptedPeer, stepContract } from './scripted-peer.js';

// PostgreSQL round trips under fake time: generous per-test bounds for a busy machine (the waits inside have their own).
vi.setConfig({ testTimeout: 90_000 });

// Real timers, captured before any fake clock is installed: the test's own waits for I/O.
const realSetTimeout = globalThis.setTimeout;
const pause = (ms: number) => new Promise<void>((resolve) => realSetTimeout(resolve, ms));

const HOUR = 3_600_000;
/** A long lease: its renewal tick (a quarter of it) is the step the fake clock advances by. */
const LEASE_MS = 4 * HOUR;
const STEP_MS = LEASE_MS / 4;
const T0 = Date.UTC(2030, 0, 1);

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number(), lateBy: z.number() });
const ref = (name: string) => peer(name, stepContract);

const dir = mkdtempSync(join(tmpdir(), 'onex-sleep-'));
const url = postgresUrl();
const schemas: TestSchema[] = [];
let clock: FakeClock | undefined;
const open: Orchestrator[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.shutdown().catch(() => undefined);
  clock?.uninstall();
  clock = undefined;
  await endFakeClockPools();
});
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
function sqlitePath(): string {
  files += 1;
  return join(dir, `sleep-${files}.db`);
}

/** before → sleep 48 h → after: `after` sees the sleep's typed output. */
function napWorkflow(type = 'nap') {
  return defineWorkflow({ type, version: '1.0.0', input: Input, output: Output })
    .step('before', { target: ref('a'), input: ({ input }) => ({ value: input.value }) })
    .sleep('wait', { dependsOn: ['before'], ms: 48 * HOUR })
    .step('after', { target: ref('b'), dependsOn: ['wait'], input: ({ steps }) => ({ value: steps.wait.wokeAt - steps.wait.dueAt }) })
    .returns(({ steps }) => ({ total: steps.before.value, lateBy: steps.wait.wokeAt - steps.wait.dueAt }));
}

async function orchestrator(store: WorkflowStore, workflows: AnyWorkflowDefinition[], nodes: ScriptedPeer[]): Promise<Orchestrator> {
  const o = new Orchestrator({ workflows }, { store, peers: await peers(...nodes), logger: createSilentLogger(), leaseMs: LEASE_MS, ...(clock === undefined ? {} : { clock }) });
  await o.initialize();
  open.push(o);
  return o;
}

/** Waits, in real time (fake time stands still), until `condition` holds: the store's I/O runs meanwhile. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await pause(2);
  }
}

/** Moves fake time forward by `ms` in lease ticks, letting each tick's store I/O finish before the next. */
async function advance(ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= STEP_MS) {
    await clock!.advance(Math.min(STEP_MS, left));
    await pause(3);
  }
}

async function parked(o: Orchestrator, id: string): Promise<void> {
  await until(async () => (await o.store.get(id))?.wakeAt !== undefined && !o.stats().running, `${id} is parked`);
}

async function finished(store: WorkflowStore, id: string): Promise<void> {
  await until(async () => (await store.get(id))?.status === WorkflowStatus.Completed, `${id} completed`);
}

const stores: { readonly name: string; readonly create: () => Promise<WorkflowStore> }[] = [
  { name: 'memory', create: async () => new MemoryWorkflowStore() },
  { name: 'SQLite', create: async () => new SqliteWorkflowStore({ path: sqlitePath(), purgeIntervalMs: 0 }) },
  {
    name: 'PostgreSQL',
    create: async () => {
      const schema = await freshSchema(url, 'sleep');
      schemas.push(schema);
      return new PostgresWorkflowStore({ pool: fakeClockPool(url), schema: schema.name, purgeIntervalMs: 0 });
    },
  },
];

describe.each(stores)('durable sleep on the $name store', ({ create }) => {
  it('parks a workflow sleeping 48 h with its wake-up time, and wakes it on time once the clock gets there', async () => {
    const store = await create();
    await store.init();
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const a = new ScriptedPeer('a');
    const b = new ScriptedPeer('b');
    const o = await orchestrator(store, [napWorkflow()], [a, b]);
    const id = await o.start(napWorkflow(), { value: 1 });
    await parked(o, id);

    const asleep = await o.store.get(id);
    expect(asleep).toMatchObject({ status: WorkflowStatus.Running, wakeAt: T0 + 48 * HOUR });
    expect(asleep?.steps['before']?.status).toBe(StepStatus.Completed);
    expect(asleep?.steps['wait']).toMatchObject({ status: StepStatus.Running, input: { wakeAt: T0 + 48 * HOUR } });
    expect(o.stats()).toMatchObject({ running: 0, queued: 0 });

    await advance(48 * HOUR - STEP_MS);
    expect(b.calls).toBe(0);
    expect((await o.store.get(id))?.status).toBe(WorkflowStatus.Running);

    await advance(STEP_MS);
    await finished(o.store, id);
    const outcome = await o.result(id);
    expect(outcome.status).toBe(WorkflowStatus.Completed);
    const lateBy = (outcome.output as { lateBy: number }).lateBy;
    // Woken by the claim timer at its time, within the one lease tick the test advanced past it.
    expect(lateBy).toBeGreaterThanOrEqual(0);
    expect(lateBy).toBeLessThanOrEqual(STEP_MS);
    expect(b.calls).toBe(1);
    const woken = await o.store.get(id);
    expect(woken?.wakeAt).toBeUndefined();
    expect(woken?.steps['wait']).toMatchObject({ status: StepStatus.Completed, output: { dueAt: T0 + 48 * HOUR } });
  });
});

describe('durable sleep across restarts (SQLite file)', () => {
  it('a workflow asleep when its orchestrator closes is woken on time by a new one opened on the same file', async () => {
    const path = sqlitePath();
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const first = await orchestrator(new SqliteWorkflowStore({ path, purgeIntervalMs: 0 }), [napWorkflow()], [new ScriptedPeer('a'), new ScriptedPeer('b')]);
    const id = await first.start(napWorkflow(), { value: 2 });
    await parked(first, id);
    await first.shutdown();
    open.splice(open.indexOf(first), 1);

    await advance(24 * HOUR); // no instance runs
    const b = new ScriptedPeer('b');
    const second = await orchestrator(new SqliteWorkflowStore({ path, purgeIntervalMs: 0 }), [napWorkflow()], [new ScriptedPeer('a'), b]);
    await advance(24 * HOUR - STEP_MS);
    expect(b.calls).toBe(0);
    await advance(STEP_MS);
    await finished(second.store, id);
    const outcome = await second.result(id);
    expect(outcome).toMatchObject({ status: WorkflowStatus.Completed, output: { total: 3 } });
    expect((outcome.output as { lateBy: number }).lateBy).toBeLessThanOrEqual(STEP_MS);
    expect(b.calls).toBe(1);
  });

  it('a workflow whose wake-up time passed while no instance ran wakes at once when one starts', async () => {
    const path = sqlitePath();
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const first = await orchestrator(new SqliteWorkflowStore({ path, purgeIntervalMs: 0 }), [napWorkflow()], [new ScriptedPeer('a'), new ScriptedPeer('b')]);
    const id = await first.start(napWorkflow(), { value: 2 });
    await parked(first, id);
    await first.shutdown();
    open.splice(open.indexOf(first), 1);

    await clock.advance(72 * HOUR); // downtime: no timer of any orchestrator is left to run
    const b = new ScriptedPeer('b');
    const second = await orchestrator(new SqliteWorkflowStore({ path, purgeIntervalMs: 0 }), [napWorkflow()], [new ScriptedPeer('a'), b]);
    // No fake time passes: the start's own claim takes it.
    await finished(second.store, id);
    const outcome = await second.result(id);
    expect((outcome.output as { lateBy: number }).lateBy).toBe(24 * HOUR);
    expect(b.calls).toBe(1);
  });
});

describe('durable sleep holds nothing in memory', () => {
  it('200 sleeping workflows hold no run, no queue entry and no timer of their own', async () => {
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const b = new ScriptedPeer('b');
    const o = await orchestrator(new MemoryWorkflowStore(), [napWorkflow()], [new ScriptedPeer('a'), b]);
    const firstId = await o.start(napWorkflow(), { value: 0 });
    await parked(o, firstId);
    const timersWithOne = clock.pendingTimers();

    const ids = [firstId];
    for (let i = 1; i < 200; i += 1) ids.push(await o.start(napWorkflow(), { value: i }));
    await until(async () => (await o.list({ status: WorkflowStatus.Running, limit: 1000 })).filter((w) => w.wakeAt !== undefined).length === 200, 'all 200 are parked');
    expect(o.stats()).toMatchObject({ running: 0, queued: 0, started: 200 });
    expect(clock.pendingTimers()).toBeLessThanOrEqual(timersWithOne);
    expect(b.calls).toBe(0);

    await advance(48 * HOUR);
    await until(async () => (await o.list({ status: WorkflowStatus.Completed, limit: 1000 })).length === 200, 'all 200 completed');
    expect(b.calls).toBe(200);
  });
});

describe('sleep steps', () => {
  it("sleeps until a time computed from the input (an order's delivery date) and from its dependencies", async () => {
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const Delivery = z.object({ deliverAt: z.number(), graceMs: z.number() });
    const wf = defineWorkflow({ type: 'deliver', version: '1.0.0', input: Delivery, output: z.number() })
      .sleep('delivered', { until: ({ input }) => new Date(input.deliverAt) })
      .sleep('grace', { dependsOn: ['delivered'], ms: ({ input }) => input.graceMs })
      .returns(({ steps }) => steps.grace.dueAt);
    const o = await orchestrator(new MemoryWorkflowStore(), [wf], []);
    const id = await o.start(wf, { deliverAt: T0 + 10 * HOUR, graceMs: 2 * HOUR });
    await parked(o, id);
    expect((await o.store.get(id))?.wakeAt).toBe(T0 + 10 * HOUR);
    await advance(10 * HOUR);
    await until(async () => (await o.store.get(id))?.steps['grace']?.status === StepStatus.Running, 'grace sleeps');
    const graceDue = (await o.store.get(id))?.wakeAt;
    expect(graceDue).toBeGreaterThanOrEqual(T0 + 12 * HOUR);
    await advance(3 * HOUR);
    await finished(o.store, id);
    expect(await o.result(id)).toMatchObject({ status: WorkflowStatus.Completed, output: graceDue });
  });

  it('a sleep past the workflow deadline ends it timed_out at the deadline, not at the wake-up time', async () => {
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const wf = defineWorkflow({ type: 'too-long', version: '1.0.0', input: Input, output: z.number(), timeoutMs: 5 * HOUR })
      .sleep('wait', { ms: 48 * HOUR })
      .returns(({ steps }) => steps.wait.wokeAt);
    const o = await orchestrator(new MemoryWorkflowStore(), [wf], []);
    const id = await o.start(wf, { value: 1 });
    await parked(o, id);
    expect((await o.store.get(id))?.wakeAt).toBe(T0 + 5 * HOUR);
    await advance(6 * HOUR);
    await until(async () => (await o.store.get(id))?.status === WorkflowStatus.TimedOut, 'timed out');
    expect((await o.store.get(id))?.steps['wait']?.status).toBe(StepStatus.Cancelled);
  });

  it('a sleep whose time cannot be computed fails the workflow with VALIDATION', async () => {
    clock = installFakeClock({ now: T0 });
    const wf = defineWorkflow({ type: 'bad-sleep', version: '1.0.0', input: Input, output: z.number() })
      .sleep('wait', { until: () => Number.NaN })
      .returns(() => 0);
    const o = await orchestrator(new MemoryWorkflowStore(), [wf], []);
    const outcome = await o.result(await o.start(wf, { value: 1 }));
    expect(outcome).toMatchObject({ status: WorkflowStatus.Failed, error: { code: 'VALIDATION', step: 'wait' } });
  });

  it('a sleep beside a running step wakes in the run, without parking, while the step is in flight', async () => {
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const slow = new ScriptedPeer('a', { delayMs: 50_000 });
    const wf = defineWorkflow({ type: 'side-by-side', version: '1.0.0', input: Input, output: z.number() })
      .step('slow', { target: ref('a'), timeoutMs: 120_000, input: ({ input }) => input })
      .sleep('short', { ms: 20_000 })
      .returns(({ steps }) => steps.short.wokeAt);
    const o = await orchestrator(new MemoryWorkflowStore(), [wf], [slow]);
    const id = await o.start(wf, { value: 1 });
    await until(async () => (await o.store.get(id))?.steps['short']?.status === StepStatus.Running, 'short sleeps');
    await clock.advance(20_000);
    await until(async () => (await o.store.get(id))?.steps['short']?.status === StepStatus.Completed, 'short woke');
    expect(o.stats().running).toBe(1);
    expect((await o.store.get(id))?.steps['slow']?.status).toBe(StepStatus.Running);
    expect((await o.store.get(id))?.wakeAt).toBeUndefined();
    await clock.advance(30_000);
    await finished(o.store, id);
    expect(await o.result(id)).toMatchObject({ output: T0 + 20_000 });
    expect(slow.calls).toBe(1);
  });

  it('a cancelled sleeping workflow ends cancelled at once', async () => {
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const o = await orchestrator(new MemoryWorkflowStore(), [napWorkflow()], [new ScriptedPeer('a'), new ScriptedPeer('b')]);
    const id = await o.start(napWorkflow(), { value: 1 });
    await parked(o, id);
    const outcome = await clock.runUntil(o.cancel(id), { limitMs: HOUR });
    expect(outcome.status).toBe(WorkflowStatus.Cancelled);
    expect(clock.now()).toBeLessThan(T0 + HOUR);
  });
});

describe('delayed start', () => {
  const once = () =>
    defineWorkflow({ type: 'later', version: '1.0.0', input: Input, output: z.number() })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(({ steps }) => steps.only.value);

  it('creates the workflow durably, runs nothing before delayMs, and starts it then', async () => {
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const a = new ScriptedPeer('a');
    const o = await orchestrator(new MemoryWorkflowStore(), [once()], [a]);
    const id = await o.start(once(), { value: 4 }, { delayMs: 6 * HOUR });
    const stored = await o.store.get(id);
    expect(stored).toMatchObject({ status: WorkflowStatus.Pending, wakeAt: T0 + 6 * HOUR });
    expect(stored?.owner).toBeUndefined();
    expect(o.stats()).toMatchObject({ running: 0, queued: 0 });
    await advance(5 * HOUR);
    expect(a.calls).toBe(0);
    await advance(HOUR);
    await finished(o.store, id);
    expect(await o.result(id)).toMatchObject({ status: WorkflowStatus.Completed, output: 5 });
    expect(a.log[0]?.at).toBeGreaterThanOrEqual(T0 + 6 * HOUR);
  });

  it('startAt in the past starts at once; a delayed start survives a restart; startAt with delayMs is refused', async () => {
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const path = sqlitePath();
    const first = await orchestrator(new SqliteWorkflowStore({ path, purgeIntervalMs: 0 }), [once()], [new ScriptedPeer('a')]);
    const now = await first.result(await first.start(once(), { value: 1 }, { startAt: new Date(T0 - HOUR) }));
    expect(now).toMatchObject({ status: WorkflowStatus.Completed, output: 2 });
    await expect(first.start(once(), { value: 1 }, { startAt: T0 + HOUR, delayMs: 1 })).rejects.toMatchObject({ code: 'VALIDATION' });
    const id = await first.start(once(), { value: 7 }, { startAt: T0 + 2 * HOUR });
    await first.shutdown();
    open.splice(open.indexOf(first), 1);

    const a = new ScriptedPeer('a');
    const second = await orchestrator(new SqliteWorkflowStore({ path, purgeIntervalMs: 0 }), [once()], [a]);
    await advance(HOUR);
    expect(a.calls).toBe(0);
    await advance(HOUR);
    await finished(second.store, id);
    expect(await second.result(id)).toMatchObject({ output: 8 });
  });

  it('POST /v1/workflows takes delayMs or startAt (epoch ms or ISO date-time)', async () => {
    clock = installFakeClock({ now: T0, loopLimit: 100_000 });
    const o = await orchestrator(new MemoryWorkflowStore(), [once()], [new ScriptedPeer('a')]);
    const app = createNodeApp(o, { configure: workflowRoutes(o) });
    const post = async (body: unknown) => {
      const response = await app.request('/v1/workflows', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as { id?: string; error?: { code: string } } };
    };
    const delayed = await post({ type: 'later', input: { value: 1 }, delayMs: HOUR });
    const iso = await post({ type: 'later', input: { value: 1 }, startAt: new Date(T0 + 2 * HOUR).toISOString() });
    const epoch = await post({ type: 'later', input: { value: 1 }, startAt: T0 + 3 * HOUR });
    expect([delayed.status, iso.status, epoch.status]).toEqual([202, 202, 202]);
    expect((await o.store.get(delayed.body.id!))?.wakeAt).toBe(T0 + HOUR);
    expect((await o.store.get(iso.body.id!))?.wakeAt).toBe(T0 + 2 * HOUR);
    expect((await o.store.get(epoch.body.id!))?.wakeAt).toBe(T0 + 3 * HOUR);
    const both = await post({ type: 'later', input: { value: 1 }, delayMs: 1, startAt: T0 });
    expect(both).toMatchObject({ status: 422, body: { error: { code: 'VALIDATION' } } });
  });
});
