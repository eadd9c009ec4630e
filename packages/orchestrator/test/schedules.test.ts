// Cron schedules, driven by a fake clock. Invariants checked here:
// - one start per tick: however many instances run a schedule (and restart meanwhile), each tick starts exactly one
//   workflow, keyed `schedule:<id>:<tick>`, and no tick is skipped while some instance runs;
// - catch-up: ticks missed while no instance ran follow `catchUp` (none, latest, all);
// - overlap: `skip` never starts a tick while the last run is unfinished, `buffer-one` keeps one such tick for
//   later, `allow` starts them all.
import { createNodeApp, createSilentLogger, ErrorCode, OnexError } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import { rejection, type FakeClock } from '@onex/testing';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, WorkflowStatus, workflowRoutes, type WorkflowStore } from '../src/index.js';
import { tickKey } from '../src/engine/scheduler.js';
import { PostgresWorkflowStore } from '../src/postgres.js';
import { fakeClockPool, fakeTime, pause } from './fake-time.js';
import { peers, ScriptedPeer, stepContract } from './scripted-peer.js';

// PostgreSQL round trips under fake time: generous per-test bounds for a busy machine (the waits inside have their own).
vi.setConfig({ testTimeout: 90_000 });

const HOUR = 3_600_000;
const LEASE_MS = 4 * HOUR;
const T0 = Date.UTC(2030, 0, 1);

const Input = z.object({ value: z.number() });
const job = defineWorkflow({ type: 'job', version: '1.0.0', input: Input, output: z.number() })
  .step('work', { target: peer('a', stepContract), timeoutMs: HOUR, input: ({ input }) => input })
  .returns(({ steps }) => steps.work.value);

const url = postgresUrl();
const schemas: TestSchema[] = [];
// Timers due now (a look armed while I/O ran) run at each look of `until`; fake time does not move.
const time = fakeTime({ tickMs: 0, stepMs: HOUR });
const { until } = time;
let clock: FakeClock | undefined;
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

async function orchestrator(store: WorkflowStore, a = new ScriptedPeer('a'), instanceId?: string): Promise<Orchestrator> {
  const o = new Orchestrator(
    { workflows: [job] },
    { store, peers: await peers(a), logger: createSilentLogger(), leaseMs: LEASE_MS, schedulePollMs: 1_000, ...(instanceId === undefined ? {} : { instanceId }), clock: time.clock },
  );
  time.track(o);
  await o.initialize();
  return o;
}

const stop = (o: Orchestrator): Promise<void> => time.stop(o);

/** The keys of the workflows the schedule started, oldest first. */
async function started(store: WorkflowStore): Promise<string[]> {
  const list = await store.list({ type: 'job', limit: 1000 });
  return list.map((w) => w.idempotencyKey ?? '(none)').reverse();
}

const shared: { readonly name: string; readonly create: () => Promise<() => WorkflowStore> }[] = [
  {
    name: 'memory',
    create: async () => {
      const store = new MemoryWorkflowStore();
      // One store shared by the instances, as a database would be; closing one instance's handle closes nothing.
      return () =>
        new Proxy(store, {
          get: (target, key) => {
            if (key === 'close') return async () => undefined;
            const value: unknown = Reflect.get(target, key);
            return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
          },
        });
    },
  },
  {
    name: 'PostgreSQL',
    create: async () => {
      const schema = await freshSchema(url, 'schedules');
      schemas.push(schema);
      return () => new PostgresWorkflowStore({ pool: fakeClockPool(url), schema: schema.name, purgeIntervalMs: 0 });
    },
  },
];

describe.each(shared)('schedules on the $name store', ({ create }) => {
  it('a schedule every second on 3 instances for 60 ticks starts 60 workflows, one per tick, restarts included', async () => {
    const storeOf = await create();
    clock = time.install(T0 + 500, 1_000_000);
    const instances = [await orchestrator(storeOf(), undefined, 'i-1'), await orchestrator(storeOf(), undefined, 'i-2'), await orchestrator(storeOf(), undefined, 'i-3')];
    const schedule = await instances[0]!.schedules.create({ id: 'every-second', cron: '* * * * * *', workflow: 'job', input: { value: 1 }, overlap: 'allow' });
    expect(schedule).toMatchObject({ id: 'every-second', paused: false, overlap: 'allow', catchUp: 'none', nextTickAt: T0 + 1_000 });
    const reader = instances[2]!.store; // the instance that never restarts
    for (let tick = 1; tick <= 60; tick += 1) {
      // Restarts: instance 2 goes down at tick 15 and comes back at 25; instance 1 restarts at tick 40.
      if (tick === 15) await stop(instances[1]!);
      if (tick === 25) instances[1] = await orchestrator(storeOf(), undefined, 'i-2');
      if (tick === 40) {
        await stop(instances[0]!);
        instances[0] = await orchestrator(storeOf(), undefined, 'i-1');
      }
      await clock.advance(1_000);
      await until(async () => (await started(reader)).length >= tick, `tick ${tick} started`);
    }
    await pause(20);
    const keys = await started(instances[2]!.store);
    expect(keys).toHaveLength(60);
    expect(keys).toEqual(Array.from({ length: 60 }, (_, i) => tickKey('every-second', T0 + (i + 1) * 1_000)));
    for (const o of instances) await until(() => o.stats().running === 0, 'the runs finished');
  });

  it('follows catchUp for the ticks missed while no instance ran: none, latest, all', async () => {
    const storeOf = await create();
    clock = time.install(T0 + 5 * 60_000, 1_000_000);
    const first = await orchestrator(storeOf());
    for (const catchUp of ['none', 'latest', 'all'] as const) {
      await first.schedules.create({ id: `hourly-${catchUp}`, cron: '0 * * * *', workflow: 'job', input: { value: 1 }, overlap: 'allow', catchUp });
    }
    await stop(first);
    await clock.advance(5 * HOUR); // ticks at 1:00 … 5:00 pass with no instance; it is 5:05 when one starts
    const second = await orchestrator(storeOf());
    const byKey = async () => {
      const keys = await started(second.store);
      return (id: string) => keys.filter((k) => k.startsWith(`schedule:${id}:`));
    };
    await until(async () => (await byKey())('hourly-all').length === 5 && (await byKey())('hourly-latest').length === 1, 'catch-up started');
    await until(async () => (await second.schedules.get('hourly-none')).lastTickAt === T0 + 5 * HOUR, 'none handled its ticks');
    const keysOf = await byKey();
    expect(keysOf('hourly-none')).toEqual([]);
    expect(keysOf('hourly-latest')).toEqual([tickKey('hourly-latest', T0 + 5 * HOUR)]);
    expect(keysOf('hourly-all')).toEqual([1, 2, 3, 4, 5].map((h) => tickKey('hourly-all', T0 + h * HOUR)));
    // From then on every policy starts each tick on time (the clock stops at 6:00, so the look is not late).
    await clock.advance(HOUR - 5 * 60_000);
    await until(async () => (await byKey())('hourly-none').length === 1, 'the next tick');
    const after = await byKey();
    expect([after('hourly-none').length, after('hourly-latest').length, after('hourly-all').length]).toEqual([1, 2, 6]);
  });
});

describe('schedule overlap (memory store)', () => {
  it('skip starts nothing while the last run is unfinished, buffer-one keeps one tick for later, allow starts all', async () => {
    clock = time.install(T0 + 500, 1_000_000);
    const results: Record<string, string[]> = {};
    for (const overlap of ['skip', 'buffer-one', 'allow'] as const) {
      const store = new MemoryWorkflowStore();
      const o = await orchestrator(store, new ScriptedPeer('a', { delayMs: 2_500 }));
      const start = clock.now();
      await o.schedules.create({ id: overlap, cron: '* * * * * *', workflow: 'job', input: { value: 1 }, overlap });
      for (let s = 0; s < 6; s += 1) {
        await clock.advance(1_000);
        await pause(5);
      }
      results[overlap] = (await started(store)).map((k) => String((Date.parse(k.slice(`schedule:${overlap}:`.length)) - start + 500) / 1_000));
      await o.schedules.delete(overlap);
      await stop(o);
    }
    // Runs take 2.5 s; ticks every second from 1 s to 6 s.
    expect(results['allow']).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(results['skip']).toEqual(['1', '4']);
    // buffer-one: tick 2 is kept while tick 1 runs and starts when it ends; tick 3 is skipped.
    expect(results['buffer-one']?.slice(0, 2)).toEqual(['1', '2']);
    expect(results['buffer-one']).not.toContain('3');
  });
});

describe('a schedule look that fails (memory store)', () => {
  it('is tried again within the tick\'s on-time minute, not a poll later, so catchUp none keeps the tick', async () => {
    clock = time.install(T0 + 500, 1_000_000);
    const inner = new MemoryWorkflowStore();
    let down = false;
    let refused = 0;
    // The store's schedule reads fail while `down`, as a database outage would make them.
    const store = new Proxy(inner, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key);
        if (typeof value !== 'function') return value;
        const bound = (value as (...args: unknown[]) => unknown).bind(target);
        if (key !== 'listSchedules') return bound;
        return async () => {
          if (down) {
            refused += 1;
            throw new OnexError(ErrorCode.Unavailable, 'store unavailable');
          }
          return bound();
        };
      },
    });
    // The default poll of a store with events: ten minutes.
    const o = new Orchestrator({ workflows: [job] }, { store, peers: await peers(new ScriptedPeer('a')), logger: createSilentLogger(), leaseMs: LEASE_MS, schedulePollMs: 600_000, clock: time.clock });
    time.track(o);
    await o.initialize();
    await o.schedules.create({ id: 'minutely', cron: '* * * * *', workflow: 'job', input: { value: 1 }, overlap: 'allow', catchUp: 'none' });
    await pause(20);
    down = true;
    // The tick at 1:00 comes while the store is down; it stays down for 5 s, then answers again.
    for (let s = 0; s < 65; s += 1) {
      await clock.advance(1_000);
      await pause(3);
    }
    down = false;
    for (let s = 0; s < 30; s += 1) {
      await clock.advance(1_000);
      await pause(3);
    }
    await until(async () => (await started(store)).length === 1, 'the tick started late, within its minute');
    expect(refused).toBeGreaterThanOrEqual(2);
    expect(await started(store)).toEqual([tickKey('minutely', T0 + 60_000)]);
  });
});

describe('schedules API', () => {
  it('validates, updates by id, pauses (no ticks), resumes from now, lists and deletes; also over HTTP', async () => {
    clock = time.install(T0 + 500, 1_000_000);
    const store = new MemoryWorkflowStore();
    const o = await orchestrator(store);
    expect((await rejection(o.schedules.create({ id: 'bad', cron: 'not a cron', workflow: 'job', input: { value: 1 } }))).code).toBe(ErrorCode.Validation);
    expect((await rejection(o.schedules.create({ id: 'bad', cron: '* * * * *', timezone: 'Mars/Olympus', workflow: 'job', input: { value: 1 } }))).code).toBe(ErrorCode.Validation);
    expect((await rejection(o.schedules.create({ id: 'bad', cron: '* * * * *', workflow: 'nope', input: {} }))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(o.schedules.create({ id: 'bad', cron: '* * * * *', workflow: 'job', input: { value: 'x' } }))).code).toBe(ErrorCode.Validation);
    expect((await rejection(o.schedules.create({ id: 'has space', cron: '* * * * *', workflow: 'job', input: { value: 1 } }))).code).toBe(ErrorCode.Validation);
    expect(await o.schedules.list()).toEqual([]);

    await o.schedules.create({ id: 's', cron: '* * * * * *', workflow: 'job', input: { value: 1 }, overlap: 'allow' });
    const updated = await o.schedules.create({ id: 's', cron: '*/2 * * * * *', timezone: 'Europe/Stockholm', workflow: 'job', input: { value: 2 }, overlap: 'allow' });
    expect(updated).toMatchObject({ cron: '*/2 * * * * *', timezone: 'Europe/Stockholm', input: { value: 2 }, revision: 2 });
    await clock.advance(2_000);
    await until(async () => (await started(store)).length === 1, 'one tick');
    expect((await o.schedules.pause('s')).paused).toBe(true);
    await clock.advance(10_000);
    await pause(20);
    expect(await started(store)).toHaveLength(1);
    const resumed = await o.schedules.resume('s');
    expect(resumed).toMatchObject({ paused: false, lastTickAt: clock.now() });
    await clock.advance(2_000);
    await until(async () => (await started(store)).length === 2, 'ticks again after resume');

    const app = createNodeApp(o, { configure: workflowRoutes(o) });
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await app.request(path, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect(await call('POST', '/v1/schedules', { id: 'h', cron: '0 2 * * *', workflow: 'job', input: { value: 3 }, catchUp: 'latest' })).toMatchObject({ status: 201, body: { id: 'h', catchUp: 'latest', overlap: 'skip' } });
    expect((await call('POST', '/v1/schedules', { id: 'h', cron: '0 2 * * *', workflow: 'job', input: { value: 3 }, extra: 1 })).status).toBe(422);
    expect((await call('POST', '/v1/schedules', { id: 'h2', cron: '61 * * * *', workflow: 'job', input: { value: 3 } })).status).toBe(422);
    expect(((await call('GET', '/v1/schedules')).body['schedules'] as { id: string }[]).map((s) => s.id)).toEqual(['h', 's']);
    expect(await call('POST', '/v1/schedules/h/pause')).toMatchObject({ status: 200, body: { paused: true } });
    expect(await call('POST', '/v1/schedules/h/resume')).toMatchObject({ status: 200, body: { paused: false } });
    expect(await call('GET', '/v1/schedules/h')).toMatchObject({ status: 200, body: { id: 'h', nextTickAt: expect.any(Number) as number } });
    expect(await call('DELETE', '/v1/schedules/h')).toEqual({ status: 200, body: { deleted: true } });
    expect((await call('GET', '/v1/schedules/h')).status).toBe(404);
    expect((await call('DELETE', '/v1/schedules/h')).status).toBe(404);
    expect((await o.result((await store.list({ type: 'job' }))[0]!.id)).status).toBe(WorkflowStatus.Completed);
  });
});
