// Waits for a signal, driven by a fake clock, on every store. Invariants checked here:
// - delivery: every workflow that waits for a signal that was sent (before, during or after it reaches the wait,
//   duplicated or not) completes with exactly one delivery — the wait's output names one of the sent signals, and
//   the step after it ran once;
// - durability: a signal sent before the wait, or while no instance runs, is kept for it;
// - refusal: a payload that fails the schema, or a signal the workflow does not wait for, stores nothing;
// - timeout: a typed outcome — `continue` branches, `fail` fails the step with TIMEOUT and the saga compensates.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeApp, createSilentLogger, ErrorCode } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import { rejection, type FakeClock } from '@onex/testing';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, StepStatus, WorkflowStatus, workflowRoutes, type AnyWorkflowDefinition, type WorkflowStore } from '../src/index.js';
import { PostgresWorkflowStore } from '../src/postgres.js';
import { SqliteWorkflowStore } from '../src/sqlite.js';
import { Prng } from './faults/prng.js';
import { fakeClockPool, fakeTime } from './fake-time.js';
import { peers, ScriptedPeer, stepContract } from './scripted-peer.js';

// PostgreSQL round trips under fake time: generous per-test bounds for a busy machine (the waits inside have their own).
vi.setConfig({ testTimeout: 90_000 });


const HOUR = 3_600_000;
const LEASE_MS = 4 * HOUR;
const STEP_MS = LEASE_MS / 4;
const T0 = Date.UTC(2030, 0, 1);

const Input = z.object({ value: z.number() });
const Shipped = z.object({ trackingId: z.string().min(3), boxes: z.int().positive() });
const ref = (name: string) => peer(name, stepContract);

const dir = mkdtempSync(join(tmpdir(), 'onex-signals-'));
const url = postgresUrl();
const schemas: TestSchema[] = [];
// Timers due within 10 ms (a claim scheduled at once, a past-due look again) run at each look of `until`.
const time = fakeTime({ tickMs: 10, stepMs: STEP_MS });
const { until, advance } = time;
let clock: FakeClock | undefined;
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
function sqlitePath(): string {
  files += 1;
  return join(dir, `signals-${files}.db`);
}

/** prep (peer a) → shipped (wait, 24 h, fail) → act (peer b, given the payload's boxes). */
function shipWorkflow(type = 'ship', onTimeout: 'fail' | 'continue' = 'fail') {
  return defineWorkflow({ type, version: '1.0.0', input: Input, output: z.object({ tracking: z.string(), boxes: z.number() }) })
    .step('prep', { target: ref('a'), timeoutMs: 2 * HOUR, input: ({ input }) => ({ value: input.value }) })
    .waitFor('shipped', { dependsOn: ['prep'], schema: Shipped, timeoutMs: 24 * HOUR, onTimeout })
    .step('act', {
      target: ref('b'),
      dependsOn: ['shipped'],
      input: ({ steps }) => ({ value: steps.shipped.received ? steps.shipped.payload.boxes : -1 }),
    })
    .returns(({ steps }) => ({ tracking: steps.shipped.received ? steps.shipped.payload.trackingId : 'none', boxes: steps.act.value }));
}

async function orchestrator(store: WorkflowStore, workflows: AnyWorkflowDefinition[], nodes: ScriptedPeer[]): Promise<Orchestrator> {
  const o = time.track(new Orchestrator({ workflows }, { store, peers: await peers(...nodes), logger: createSilentLogger(), leaseMs: LEASE_MS, clock: time.clock }));
  await o.initialize();
  return o;
}


async function status(store: WorkflowStore, id: string): Promise<WorkflowStatus | undefined> {
  return (await store.get(id))?.status;
}

async function ended(store: WorkflowStore, id: string): Promise<void> {
  await until(async () => {
    const s = await status(store, id);
    return s !== undefined && s !== WorkflowStatus.Running && s !== WorkflowStatus.Pending && s !== WorkflowStatus.Compensating;
  }, `${id} ended`);
}

async function parked(o: Orchestrator, id: string): Promise<void> {
  // Parked, and released: the release follows the run's end, so a record read before it would still name the owner.
  await until(async () => {
    const record = await o.store.get(id);
    return record?.wakeAt !== undefined && record.leaseExpiresAt === 0 && !o.stats().running;
  }, `${id} is parked`);
}

const stores: { readonly name: string; readonly create: () => Promise<WorkflowStore> }[] = [
  { name: 'memory', create: async () => new MemoryWorkflowStore() },
  { name: 'SQLite', create: async () => new SqliteWorkflowStore({ path: sqlitePath(), purgeIntervalMs: 0 }) },
  {
    name: 'PostgreSQL',
    create: async () => {
      const schema = await freshSchema(url, 'signals');
      schemas.push(schema);
      return new PostgresWorkflowStore({ pool: fakeClockPool(url), schema: schema.name, purgeIntervalMs: 0 });
    },
  },
];

describe.each(stores)('signals on the $name store', ({ create }) => {
  it('keeps a signal sent before the workflow reaches the wait, and delivers it once, duplicates ignored', async () => {
    const store = await create();
    await store.init();
    clock = time.install(T0, 100_000);
    const a = new ScriptedPeer('a', { delayMs: HOUR });
    const b = new ScriptedPeer('b');
    const o = await orchestrator(store, [shipWorkflow()], [a, b]);
    const id = await o.start(shipWorkflow(), { value: 1 });
    await until(() => a.calls === 1, 'prep is in flight');

    const first = await o.signal(id, 'shipped', { trackingId: 'TRK-1', boxes: 3 }, { signalId: 'wh-1' });
    const again = await o.signal(id, 'shipped', { trackingId: 'TRK-1', boxes: 3 }, { signalId: 'wh-1' });
    expect(first).toEqual({ signalId: 'wh-1', duplicate: false });
    expect(again).toEqual({ signalId: 'wh-1', duplicate: true });
    expect((await store.get(id))?.steps['shipped']?.status ?? StepStatus.Pending).toBe(StepStatus.Pending);

    await advance(HOUR);
    await ended(store, id);
    const outcome = await o.result(id);
    expect(outcome).toEqual({ id, status: WorkflowStatus.Completed, output: { tracking: 'TRK-1', boxes: 4 } });
    expect((await store.get(id))?.steps['shipped']).toMatchObject({ status: StepStatus.Completed, output: { received: true, signalId: 'wh-1', payload: { trackingId: 'TRK-1', boxes: 3 } } });
    expect(b.calls).toBe(1);
    expect(await store.signals(id, 0)).toHaveLength(1);
    // A duplicate of a delivered signal is still a duplicate once the workflow is finished; a new one is refused.
    expect(await o.signal(id, 'shipped', { trackingId: 'TRK-1', boxes: 3 }, { signalId: 'wh-1' })).toEqual({ signalId: 'wh-1', duplicate: true });
    expect((await rejection(o.signal(id, 'shipped', { trackingId: 'TRK-2', boxes: 1 }))).code).toBe(ErrorCode.Conflict);
  });

  it('wakes a workflow parked at the wait as soon as the signal comes, long before its timeout', async () => {
    const store = await create();
    await store.init();
    clock = time.install(T0, 100_000);
    const b = new ScriptedPeer('b');
    const o = await orchestrator(store, [shipWorkflow()], [new ScriptedPeer('a'), b]);
    const id = await o.start(shipWorkflow(), { value: 1 });
    await parked(o, id);
    const waiting = await store.get(id);
    expect(waiting).toMatchObject({ status: WorkflowStatus.Running, wakeAt: T0 + 24 * HOUR });
    expect(waiting?.steps['shipped']).toMatchObject({ status: StepStatus.Running, input: { signal: 'shipped', timeoutAt: T0 + 24 * HOUR } });
    expect(o.stats()).toMatchObject({ running: 0, queued: 0 });

    await o.signal(id, 'shipped', { trackingId: 'TRK-9', boxes: 1 });
    await ended(store, id); // fake time stands still: only the signal woke it
    expect(await o.result(id)).toMatchObject({ status: WorkflowStatus.Completed, output: { tracking: 'TRK-9', boxes: 2 } });
    expect(b.calls).toBe(1);
  });

  it('delivers to a live run whose wait runs beside a step in flight, without parking', async () => {
    const store = await create();
    await store.init();
    clock = time.install(T0, 100_000);
    const a = new ScriptedPeer('a', { delayMs: HOUR });
    const side = defineWorkflow({ type: 'side', version: '1.0.0', input: Input, output: z.string() })
      .step('slow', { target: ref('a'), timeoutMs: 2 * HOUR, input: ({ input }) => ({ value: input.value }) })
      .waitFor('approve', { signal: 'approval', schema: z.object({ by: z.string() }) })
      .returns(({ steps }) => `${steps.approve.payload.by}:${steps.slow.value}`);
    const o = await orchestrator(store, [side], [a]);
    const id = await o.start(side, { value: 1 });
    await until(async () => a.calls === 1 && (await store.get(id))?.steps['approve']?.status === StepStatus.Running, 'both are running');

    await o.signal(id, 'approval', { by: 'ops' });
    await until(async () => (await store.get(id))?.steps['approve']?.status === StepStatus.Completed, 'the wait took the signal');
    expect(await status(store, id)).toBe(WorkflowStatus.Running);
    expect(o.stats().running).toBe(1);
    await advance(HOUR);
    await ended(store, id);
    expect(await o.result(id)).toMatchObject({ status: WorkflowStatus.Completed, output: 'ops:2' });
  });

  it("times out into a typed branch with onTimeout 'continue'; a signal after the end is refused", async () => {
    const store = await create();
    await store.init();
    clock = time.install(T0, 100_000);
    const flow = shipWorkflow('ship-or-not', 'continue');
    const b = new ScriptedPeer('b');
    const o = await orchestrator(store, [flow], [new ScriptedPeer('a'), b]);
    const id = await o.start(flow, { value: 1 });
    await parked(o, id);
    await advance(24 * HOUR - STEP_MS);
    expect(await status(store, id)).toBe(WorkflowStatus.Running);
    await advance(STEP_MS);
    await ended(store, id);
    expect(await o.result(id)).toMatchObject({ status: WorkflowStatus.Completed, output: { tracking: 'none', boxes: 0 } });
    expect((await store.get(id))?.steps['shipped']?.output).toEqual({ received: false, timedOutAt: expect.any(Number) as number });
    expect((await rejection(o.signal(id, 'shipped', { trackingId: 'TRK-3', boxes: 1 }))).code).toBe(ErrorCode.Conflict);
    expect(await store.signals(id, 0)).toEqual([]);
  });

  it("fails the wait with TIMEOUT under onTimeout 'fail', and the saga compensates what ran before it", async () => {
    const store = await create();
    await store.init();
    clock = time.install(T0, 100_000);
    const release = new ScriptedPeer('release');
    const reserve = defineWorkflow({ type: 'reserve', version: '1.0.0', input: Input, output: z.string() })
      .step('hold', { target: ref('a'), input: ({ input }) => ({ value: input.value }), compensate: { target: ref('release'), input: ({ output }) => ({ value: output?.value ?? 0 }) } })
      .waitFor('shipped', { dependsOn: ['hold'], schema: Shipped, timeoutMs: 2 * HOUR })
      .returns(({ steps }) => steps.shipped.payload.trackingId);
    const o = await orchestrator(store, [reserve], [new ScriptedPeer('a'), release]);
    const id = await o.start(reserve, { value: 5 });
    await parked(o, id);
    await advance(2 * HOUR);
    await ended(store, id);
    const outcome = await o.result(id);
    expect(outcome).toMatchObject({ status: WorkflowStatus.Compensated, error: { code: ErrorCode.Timeout, step: 'shipped' } });
    expect(release.calls).toBe(1);
  });

  it('refuses a payload that fails the schema, an unknown signal and an unknown workflow, storing nothing', async () => {
    const store = await create();
    await store.init();
    clock = time.install(T0, 100_000);
    const o = await orchestrator(store, [shipWorkflow()], [new ScriptedPeer('a'), new ScriptedPeer('b')]);
    const id = await o.start(shipWorkflow(), { value: 1 });
    await parked(o, id);
    const before = await store.get(id);

    const bad = await rejection(o.signal(id, 'shipped', { trackingId: 'x', boxes: 0 }));
    expect(bad.code).toBe(ErrorCode.Validation);
    expect(JSON.stringify(bad.details)).toContain('trackingId');
    expect((await rejection(o.signal(id, 'delivered', {}))).code).toBe(ErrorCode.Validation);
    expect((await rejection(o.signal('no-such-workflow', 'shipped', { trackingId: 'TRK-1', boxes: 1 }))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(o.signal(id, 'shipped', { trackingId: 'TRK-1', boxes: 1 }, { signalId: '' }))).code).toBe(ErrorCode.Validation);

    expect(await store.signals(id, 0)).toEqual([]);
    expect(await store.get(id)).toEqual(before);
  });

  it('a signal that lands between the run reading signals and its parking commit makes it due at once', async () => {
    const inner = await create();
    await inner.init();
    clock = time.install(T0, 100_000);
    let planted = 0;
    // The store as another instance's signal would meet it: stored after the run read (none), before it parks.
    const store = new Proxy(inner, {
      get(target, key, receiver) {
        if (key === 'commit') {
          return async (id: string, epoch: number, change: Parameters<WorkflowStore['commit']>[2]) => {
            if (planted === 0 && change.workflow?.seenSignalSeq !== undefined) {
              planted += 1;
              await target.sendSignal(id, { signalId: 'late', name: 'shipped', payload: { trackingId: 'TRK-L', boxes: 1 }, sentAt: clock!.now() });
            }
            return target.commit(id, epoch, change);
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const o = await orchestrator(store, [shipWorkflow()], [new ScriptedPeer('a'), new ScriptedPeer('b')]);
    const id = await o.start(shipWorkflow(), { value: 1 });
    await ended(store, id);
    expect(planted).toBe(1);
    expect(await o.result(id)).toMatchObject({ status: WorkflowStatus.Completed, output: { tracking: 'TRK-L' } });
    expect(clock.now()).toBeLessThan(T0 + HOUR);
  });

  it('races signals against the wait across seeds: each workflow ends with exactly one delivery', async () => {
    const store = await create();
    await store.init();
    clock = time.install(T0, 1_000_000);
    const a = new ScriptedPeer('a', { delayMs: HOUR });
    const b = new ScriptedPeer('b');
    const o = await orchestrator(store, [shipWorkflow()], [a, b]);
    const sent = new Map<string, Set<string>>();
    for (let seed = 1; seed <= 4; seed += 1) {
      const prng = new Prng(seed);
      const ids: string[] = [];
      for (let i = 0; i < 6; i += 1) ids.push(await o.start(shipWorkflow(), { value: i }));
      // Each workflow gets 1–3 signals (some with a repeated id) at a random phase: before (prep in flight), or after
      // it parks at the wait; the first phase ends when the clock passes prep's hour.
      const plan = ids.map((id) => ({ id, phase: prng.int(0, 1), copies: prng.int(1, 3), dupEvery: prng.int(1, 2) }));
      const send = async (entry: (typeof plan)[number]) => {
        const ids = sent.get(entry.id) ?? new Set<string>();
        sent.set(entry.id, ids);
        for (let c = 0; c < entry.copies; c += 1) {
          const signalId = `${entry.id}:${Math.floor(c / entry.dupEvery)}`;
          try {
            await o.signal(entry.id, 'shipped', { trackingId: `TRK-${c}`, boxes: 1 + c }, { signalId });
            ids.add(signalId);
          } catch (error) {
            // The first signal may have let the workflow finish already: a new one is then refused, never lost silently.
            expect(c).toBeGreaterThan(0);
            expect((error as { code?: string }).code).toBe(ErrorCode.Conflict);
          }
        }
      };
      await until(() => a.calls >= 6 * seed, 'every prep is in flight');
      await Promise.all(plan.filter((p) => p.phase === 0).map(send));
      await advance(HOUR);
      await Promise.all(plan.filter((p) => p.phase === 1).map(send));
      for (const id of ids) await ended(store, id);
      for (const id of ids) {
        const record = await store.get(id);
        expect(record?.status).toBe(WorkflowStatus.Completed);
        const output = record?.steps['shipped']?.output as { signalId: string };
        expect(sent.get(id)?.has(output.signalId)).toBe(true);
        expect(b.executions.get(`${id}:act`)).toBe(1);
        const stored = await store.signals(id, 0);
        expect(stored.map((s) => s.signalId)).toEqual([...new Set(stored.map((s) => s.signalId))]);
        expect(stored.length).toBe(sent.get(id)?.size);
      }
    }
  });
});

describe('signals across instances and restarts', () => {
  it('a signal sent through one instance reaches the live run another instance holds (PostgreSQL events)', async () => {
    const schema = await freshSchema(url, 'signals');
    schemas.push(schema);
    const storeOf = () => new PostgresWorkflowStore({ pool: fakeClockPool(url), schema: schema.name, purgeIntervalMs: 0 });
    clock = time.install(T0, 100_000);
    const a = new ScriptedPeer('a', { delayMs: HOUR });
    const side = defineWorkflow({ type: 'side', version: '1.0.0', input: Input, output: z.string() })
      .step('slow', { target: ref('a'), timeoutMs: 2 * HOUR, input: ({ input }) => ({ value: input.value }) })
      .waitFor('approve', { schema: z.object({ by: z.string() }) })
      .returns(({ steps }) => steps.approve.payload.by);
    const holder = await orchestrator(storeOf(), [side], [a]);
    const other = await orchestrator(storeOf(), [side], [new ScriptedPeer('a')]);
    const id = await holder.start(side, { value: 1 });
    await until(async () => a.calls === 1 && (await holder.store.get(id))?.steps['approve']?.status === StepStatus.Running, 'the holder runs both');
    await other.signal(id, 'approve', { by: 'remote' });
    await until(async () => (await holder.store.get(id))?.steps['approve']?.status === StepStatus.Completed, 'the holder took the signal');
    expect(holder.stats().running).toBe(1);
    await advance(HOUR);
    await ended(holder.store, id);
    expect(await holder.result(id)).toMatchObject({ status: WorkflowStatus.Completed, output: 'remote' });
  });

  it('a signal stored while no instance runs wakes the workflow when one starts on the same SQLite file', async () => {
    const path = sqlitePath();
    clock = time.install(T0, 100_000);
    const first = await orchestrator(new SqliteWorkflowStore({ path, purgeIntervalMs: 0 }), [shipWorkflow()], [new ScriptedPeer('a'), new ScriptedPeer('b')]);
    const id = await first.start(shipWorkflow(), { value: 1 });
    await parked(first, id);
    await time.stop(first);

    // Another process stores the signal (the store contract, as an instance would).
    const side = new SqliteWorkflowStore({ path, purgeIntervalMs: 0 });
    await side.init();
    expect(await side.sendSignal(id, { signalId: 's-1', name: 'shipped', payload: { trackingId: 'TRK-7', boxes: 2 }, sentAt: T0 + HOUR })).toEqual({ status: 'accepted', seq: 1, woke: true });
    await side.close();
    await advance(HOUR);

    const b = new ScriptedPeer('b');
    const second = await orchestrator(new SqliteWorkflowStore({ path, purgeIntervalMs: 0 }), [shipWorkflow()], [new ScriptedPeer('a'), b]);
    await ended(second.store, id);
    expect(await second.result(id)).toMatchObject({ status: WorkflowStatus.Completed, output: { tracking: 'TRK-7', boxes: 3 } });
    expect(b.calls).toBe(1);
  });
});

describe('POST /v1/workflows/:id/signals/:name', () => {
  it('answers 202 with the id, duplicates flagged; 400 with the schema message for a bad payload; 404; 409 once finished', async () => {
    clock = time.install(T0, 100_000);
    const o = await orchestrator(new MemoryWorkflowStore(), [shipWorkflow()], [new ScriptedPeer('a'), new ScriptedPeer('b')]);
    const app = createNodeApp(o, { configure: workflowRoutes(o) });
    const post = async (path: string, body: unknown) => {
      const response = await app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as { signalId?: string; duplicate?: boolean; error?: { code: string; message: string; details?: unknown[] } } };
    };
    const id = await o.start(shipWorkflow(), { value: 1 });
    await parked(o, id);
    const before = await o.store.get(id);

    const bad = await post(`/v1/workflows/${id}/signals/shipped`, { payload: { trackingId: 'x', boxes: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe('BAD_REQUEST');
    expect(JSON.stringify(bad.body.error)).toMatch(/trackingId/);
    expect((await post(`/v1/workflows/${id}/signals/shipped`, { payload: {}, extra: 1 })).status).toBe(400);
    expect((await post(`/v1/workflows/${id}/signals/nope`, { payload: {} })).status).toBe(400);
    expect(await o.store.get(id)).toEqual(before);

    const ok = await post(`/v1/workflows/${id}/signals/shipped`, { payload: { trackingId: 'TRK-1', boxes: 1 }, signalId: 'h-1' });
    expect(ok).toEqual({ status: 202, body: { signalId: 'h-1', duplicate: false } });
    const dup = await post(`/v1/workflows/${id}/signals/shipped`, { payload: { trackingId: 'TRK-1', boxes: 1 }, signalId: 'h-1' });
    expect(dup).toEqual({ status: 202, body: { signalId: 'h-1', duplicate: true } });
    expect((await post('/v1/workflows/unknown/signals/shipped', { payload: {} })).status).toBe(404);
    await ended(o.store, id);
    expect((await post(`/v1/workflows/${id}/signals/shipped`, { payload: { trackingId: 'TRK-2', boxes: 1 } })).status).toBe(409);
  });
});
