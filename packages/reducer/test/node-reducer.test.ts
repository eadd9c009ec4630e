import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInProcessClient, createSilentLogger, ErrorCode, type AnyNodeService } from '@onex/core';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineReducerNode,
  defineStateMachine,
  MemoryReducerStore,
  NodeReducer,
  type AppliedEvent,
  type ReducerStore,
} from '../src/index.js';
import { SqliteReducerStore } from '../src/sqlite.js';
import { orderMachine, type OrderMachine } from './order-machine.js';

const dir = mkdtempSync(join(tmpdir(), 'onex-reducer-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const logger = createSilentLogger();

const ordersDefinition = defineReducerNode({ machine: orderMachine, version: '1.0.0' });

async function orders(store: ReducerStore = new MemoryReducerStore()) {
  const node = new NodeReducer(ordersDefinition, { store, logger });
  await node.initialize();
  return node;
}

function value<T>(r: { ok: true; value: T } | { ok: false; error: Error }): T {
  if (!r.ok) throw r.error;
  return r.value;
}

describe('NodeReducer', () => {
  it('applies events per aggregate and returns state, version and keyed intents', async () => {
    const node = await orders();
    const priced = value(await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } }));
    expect(priced).toEqual({
      aggregateId: 'o-1',
      eventId: 'e1',
      state: 'priced',
      previousState: 'created',
      context: { total: 30, paid: 0, reservation: null, failures: 0 },
      version: 1,
      intents: [],
      duplicate: false,
    });
    const reserved = value(await node.apply('o-1', { id: 'e2', type: 'RESERVE', payload: { reservationId: 'r-1' } }));
    expect(reserved.intents).toEqual([{ type: 'charge', payload: { amount: 30 }, key: 'order:o-1:e2:0' }]);
    expect(await node.get('o-1')).toMatchObject({ state: 'reserved', version: 2 });
    expect(await node.get('o-2')).toBeUndefined();
    await node.shutdown();
  });

  it('rejects an illegal transition without changing the stored state', async () => {
    const node = await orders();
    await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } });
    const before = await node.get('o-1');
    const r = await node.apply('o-1', { id: 'e2', type: 'FULFIL', payload: {} });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatchObject({
      code: ErrorCode.Conflict,
      context: { reason: 'ILLEGAL_TRANSITION', state: 'priced', trigger: 'FULFIL', aggregateId: 'o-1', eventId: 'e2' },
    });
    expect(await node.get('o-1')).toEqual(before);
    expect(await node.history('o-1')).toHaveLength(1);
    // The rejected id was not recorded: once legal, the same id applies.
    await node.apply('o-1', { id: 'e3', type: 'RESERVE', payload: { reservationId: 'r' } });
    await node.apply('o-1', { id: 'e4', type: 'PAY', payload: { amount: 30 } });
    expect(value(await node.apply('o-1', { id: 'e2', type: 'FULFIL', payload: {} })).state).toBe('fulfilled');
    expect(node.stats().rejected).toBe(1);
    await node.shutdown();
  });

  it('treats a replayed event id as a no-op that returns the first answer', async () => {
    const node = await orders();
    await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } });
    const first = value(await node.apply('o-1', { id: 'e2', type: 'RESERVE', payload: { reservationId: 'r-1' } }));
    await node.apply('o-1', { id: 'e3', type: 'CANCEL', payload: {} });
    // Replayed after the order moved on (RESERVE would now be illegal): still the original answer, nothing applied.
    const replay = value(await node.apply('o-1', { id: 'e2', type: 'RESERVE', payload: { reservationId: 'r-1' } }));
    expect(replay).toEqual({ ...first, duplicate: true });
    expect(await node.get('o-1')).toMatchObject({ state: 'cancelled', version: 3 });
    expect(node.metrics().extra).toMatchObject({ applied: 3, duplicates: 1, rejected: 0 });
    await node.shutdown();
  });

  it('applies concurrent events for one aggregate one at a time, in arrival order', async () => {
    const counter = defineStateMachine({
      name: 'counter',
      states: ['counting'],
      initial: 'counting',
      context: z.object({ seen: z.array(z.number()).default([]) }),
      events: { TICK: z.object({ n: z.number().int() }) },
      transitions: [
        // Only the next number is legal: an out-of-order apply would be rejected.
        { from: 'counting', on: 'TICK', to: 'counting', guard: (ctx, p) => p.n === ctx.seen.length, update: (ctx, p) => ({ seen: [...ctx.seen, p.n] }) },
      ],
    });
    // A store that yields between reading and writing, so interleaving would show.
    class SlowStore extends MemoryReducerStore {
      override async load(aggregateId: string) {
        const snapshot = await super.load(aggregateId);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
        return snapshot;
      }
    }
    const node = new NodeReducer(defineReducerNode({ machine: counter, version: '1.0.0' }), { store: new SlowStore(), logger });
    await node.initialize();
    const client = createInProcessClient(node);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        n % 2 === 0
          ? node.apply('c-1', { id: `t${n}`, type: 'TICK', payload: { n } })
          : client.call({ aggregateId: 'c-1', event: { id: `t${n}`, type: 'TICK', payload: { n } } }),
      ),
    );
    expect(results.map((r) => r.ok && r.value.version)).toEqual(Array.from({ length: 20 }, (_, n) => n + 1));
    expect((await node.get('c-1'))?.context).toEqual({ seen: Array.from({ length: 20 }, (_, n) => n) });
    expect(node.stats().busyAggregates).toBe(0);
    await node.shutdown();
  });

  it('runs different aggregates concurrently', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    class SlowStore extends MemoryReducerStore {
      override async load(aggregateId: string) {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight -= 1;
        return super.load(aggregateId);
      }
    }
    const node = await orders(new SlowStore());
    await Promise.all(Array.from({ length: 5 }, (_, i) => node.apply(`o-${i}`, { id: 'e1', type: 'PRICE', payload: { total: 1 } })));
    expect(maxInFlight).toBe(5);
    await node.shutdown();
  });

  it('keeps a history, reads past versions, and restores by version or snapshot', async () => {
    const node = await orders();
    await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } });
    await node.apply('o-1', { id: 'e2', type: 'RESERVE', payload: { reservationId: 'r-1' } });
    await node.apply('o-1', { id: 'e3', type: 'PAY', payload: { amount: 30 } });
    const history = await node.history('o-1');
    expect(history.map((r) => `${r.version}:${r.from}->${r.to}`)).toEqual(['1:created->priced', '2:priced->reserved', '3:reserved->paid']);
    expect(history[1]?.intents).toEqual([{ type: 'charge', payload: { amount: 30 } }]);
    expect(await node.history('o-1', { afterVersion: 2 })).toHaveLength(1);
    expect(await node.get('o-1', { version: 1 })).toMatchObject({ state: 'priced', version: 1 });
    expect(await node.get('o-1', { version: 0 })).toMatchObject({ state: 'created', version: 0 });

    const restored = await node.restore('o-1', { version: 1 }, { reason: 'payment reversed by the bank' });
    expect(restored).toMatchObject({ state: 'priced', context: { total: 30, reservation: null }, version: 4 });
    const last = (await node.history('o-1', { afterVersion: 3 }))[0];
    expect(last).toMatchObject({ kind: 'restore', from: 'paid', to: 'priced', event: { type: '$restore', payload: { version: 1, reason: 'payment reversed by the bank' } } });
    // The aggregate goes on from the restored state; ids applied before stay deduplicated.
    expect(value(await node.apply('o-1', { id: 'e4', type: 'RESERVE', payload: { reservationId: 'r-2' } })).version).toBe(5);
    expect(value(await node.apply('o-1', { id: 'e2', type: 'RESERVE', payload: { reservationId: 'r-1' } })).duplicate).toBe(true);

    const explicit = await node.restore('o-2', { state: 'priced', context: { total: 12 } });
    expect(explicit).toMatchObject({ state: 'priced', context: { total: 12, paid: 0 }, version: 1 });
    await expect(node.restore('o-1', { version: 99 })).rejects.toMatchObject({ code: ErrorCode.NotFound });
    await expect(node.restore('o-1', { state: 'nope' as 'paid', context: {} })).rejects.toMatchObject({ code: ErrorCode.Validation });
    await expect(node.restore('o-1', { state: 'paid', context: { total: -1 } })).rejects.toMatchObject({ code: ErrorCode.Validation });
    expect(node.metrics().extra).toMatchObject({ restores: 2 });
    await node.shutdown();
  });

  it('keeps state across a process restart with the SQLite store', async () => {
    const path = join(dir, 'orders.db');
    const first = await orders(new SqliteReducerStore({ path }));
    await first.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } });
    await first.apply('o-1', { id: 'e2', type: 'RESERVE', payload: { reservationId: 'r-1' } });
    await first.shutdown(); // closes the database

    const second = await orders(new SqliteReducerStore({ path }));
    expect(await second.get('o-1')).toMatchObject({ state: 'reserved', version: 2, context: { total: 30, reservation: 'r-1' } });
    expect(value(await second.apply('o-1', { id: 'e2', type: 'RESERVE', payload: { reservationId: 'r-1' } }))).toMatchObject({
      duplicate: true,
      intents: [{ type: 'charge', key: 'order:o-1:e2:0' }],
    });
    expect(value(await second.apply('o-1', { id: 'e3', type: 'PAY', payload: { amount: 30 } }))).toMatchObject({ state: 'paid', version: 3 });
    const illegal = await second.apply('o-1', { id: 'e4', type: 'PRICE', payload: { total: 1 } });
    expect(!illegal.ok && illegal.error.code).toBe(ErrorCode.Conflict);
    expect(await second.get('o-1')).toMatchObject({ state: 'paid', version: 3 });
    expect((await second.health()).components['store']).toMatchObject({ status: 'healthy', data: { kind: 'sqlite', aggregates: 1 } });
    await second.shutdown();
  });

  it('re-reduces when another writer moved the aggregate between load and append', async () => {
    const path = join(dir, 'two-writers.db');
    const other = new SqliteReducerStore({ path });
    await other.init();
    let raced = false;
    // The first load of o-1 is followed by a write from "another process".
    class RacingStore extends SqliteReducerStore {
      override async load(aggregateId: string) {
        const snapshot = await super.load(aggregateId);
        if (!raced) {
          raced = true;
          await other.append(aggregateId, 0, {
            eventId: 'x1',
            kind: 'event',
            event: { type: 'PRICE', payload: { total: 5 } },
            from: 'created',
            to: 'priced',
            context: { total: 5, paid: 0, reservation: null, failures: 0 },
            intents: [],
            at: 1,
          });
        }
        return snapshot;
      }
    }
    const node = await orders(new RacingStore({ path }));
    // Reduced from 'created' first (PRICE legal), then re-reduced from 'priced' after the conflict: CANCEL is legal in both.
    expect(value(await node.apply('o-1', { id: 'e1', type: 'CANCEL', payload: {} }))).toMatchObject({ previousState: 'priced', version: 2 });
    expect(node.metrics().extra).toMatchObject({ conflicts: 1, applied: 1 });
    await node.shutdown();
    await other.close();
  });

  it('refuses malformed ids and payloads, and calls before initialize', async () => {
    const idle = new NodeReducer(ordersDefinition, { logger });
    const early = await idle.apply('o-1', { id: 'e1', type: 'CANCEL', payload: {} });
    expect(!early.ok && early.error.code).toBe(ErrorCode.Lifecycle);

    const node = await orders();
    const badId = await node.apply('has space', { id: 'e1', type: 'CANCEL', payload: {} });
    expect(!badId.ok && badId.error.code).toBe(ErrorCode.Validation);
    const reserved = await node.apply('o-1', { id: '$restore:x', type: 'CANCEL', payload: {} });
    expect(!reserved.ok && reserved.error.code).toBe(ErrorCode.Validation);
    const badPayload = await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 'ten' as unknown as number } });
    expect(!badPayload.ok && badPayload.error).toMatchObject({ code: ErrorCode.Validation, context: { reason: 'INVALID_PAYLOAD', aggregateId: 'o-1' } });
    expect(await node.get('o-1')).toBeUndefined();
    await node.shutdown();
  });

  it('does not apply an event whose caller gave up before its turn', async () => {
    const node = await orders();
    const controller = new AbortController();
    controller.abort();
    const r = await node.apply('o-1', { id: 'e1', type: 'CANCEL', payload: {} }, { signal: controller.signal });
    expect(!r.ok && r.error.code).toBe(ErrorCode.Cancelled);
    expect(await node.get('o-1')).toBeUndefined();
    await node.shutdown();
  });

  it('is a base class: subclasses observe committed transitions through onTransition', async () => {
    const audited = defineReducerNode({ machine: orderMachine, name: 'audited-orders', version: '2.0.0' });
    class AuditedOrders extends NodeReducer<typeof audited> {
      readonly seen: string[] = [];
      constructor() {
        super(audited, { logger });
      }
      protected override onTransition(applied: AppliedEvent<OrderMachine>): void {
        if (applied.state === 'cancelled') throw new Error('audit sink down'); // logged; the transition stands
        this.seen.push(`${applied.aggregateId}:${applied.previousState}->${applied.state}`);
      }
    }
    const node = new AuditedOrders();
    const served: AnyNodeService = node; // servable
    expect(served.contract).toMatchObject({ name: 'audited-orders', kind: 'reducer', version: '2.0.0' });
    await node.initialize();
    await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 3 } });
    await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 3 } }); // replay: no hook
    expect(value(await node.apply('o-2', { id: 'e1', type: 'CANCEL', payload: {} })).state).toBe('cancelled');
    expect(node.seen).toEqual(['o-1:created->priced']);
    expect(node.metrics().extra).toMatchObject({ applied: 2, enteredStates: { priced: 1, cancelled: 1 } });
    await node.shutdown();
  });
});

describe('NodeReducer shutdown', () => {
  it('lets queued in-process applies finish before closing the store', async () => {
    const store = new SqliteReducerStore({ path: join(dir, 'shutdown.db') });
    const node = await orders(store);
    const pending = Array.from({ length: 5 }, (_, i) => node.apply(`o-${i % 2}`, { id: `e${i}`, type: 'CANCEL', payload: {} }));
    await node.shutdown();
    const results = await Promise.all(pending);
    expect(results.filter((r) => r.ok)).toHaveLength(2); // one CANCEL per order; the rest are illegal in 'cancelled'
    expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.error.code)).toEqual([ErrorCode.Conflict, ErrorCode.Conflict, ErrorCode.Conflict]);
  });
});

describe('NodeReducer.restore', () => {
  it('queues a restore in call order: an event applied right after it is not wiped', async () => {
    const node = await orders();
    value(await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } }));
    // Not awaited in between: the restore was called first, so it goes first.
    const restoring = node.restore('o-1', { version: 0 });
    const applying = node.apply('o-1', { id: 'e2', type: 'CANCEL', payload: { reason: 'changed my mind' } });
    expect(await restoring).toMatchObject({ state: 'created', version: 2 });
    expect(value(await applying)).toMatchObject({ previousState: 'created', state: 'cancelled', version: 3, duplicate: false });
    const history = await node.history('o-1');
    expect(history.map((r) => (r.kind === 'restore' ? r.event.type : r.eventId))).toEqual(['e1', '$restore', 'e2']);
    expect(await node.get('o-1')).toMatchObject({ state: 'cancelled', version: 3 });
    await node.shutdown();
  });
});

describe('NodeReducer initial context', () => {
  const tagged = defineStateMachine({
    name: 'tagged',
    states: ['open'],
    initial: 'open',
    context: z.object({ tags: z.array(z.string()).default([]) }),
    events: { MUTATE: z.object({ tag: z.string() }), ADD: z.object({ tag: z.string() }) },
    transitions: [
      // Breaks the purity rule on purpose: mutates the context it is given.
      {
        from: 'open',
        on: 'MUTATE',
        to: 'open',
        update: (ctx, p) => {
          ctx.tags.push(p.tag);
          return ctx;
        },
      },
      { from: 'open', on: 'ADD', to: 'open', update: (ctx, p) => ({ tags: [...ctx.tags, p.tag] }) },
    ],
  });

  it('is shared frozen: an update mutating it fails its event and does not leak into the next aggregate (SQLite)', async () => {
    const node = new NodeReducer(defineReducerNode({ machine: tagged, version: '1.0.0' }), { store: new SqliteReducerStore({ path: join(dir, 'tagged.db') }), logger });
    await node.initialize();
    const mutated = await node.apply('a', { id: 'e1', type: 'MUTATE', payload: { tag: 'from-a' } });
    expect(!mutated.ok && mutated.error.code).toBe(ErrorCode.Internal);
    expect(await node.get('a')).toBeUndefined();
    expect(await node.history('a')).toEqual([]);
    expect(tagged.initialContext).toEqual({ tags: [] });
    expect(Object.isFrozen(tagged.initialSnapshot().context.tags)).toBe(true);
    // B starts from the untouched initial context.
    expect(value(await node.apply('b', { id: 'e1', type: 'ADD', payload: { tag: 'from-b' } })).context).toEqual({ tags: ['from-b'] });
    expect((await node.get('b'))?.context).toEqual({ tags: ['from-b'] });
    await node.shutdown();
  });
});

describe('NodeReducer event ids', () => {
  // The append-time duplicate branch: a store whose lookup misses (as when another writer appended the id between
  // the lookup and the append) still finds the id in append().
  class LateDuplicateStore extends MemoryReducerStore {
    override async findEvent(): Promise<undefined> {
      return undefined;
    }
  }
  const stores: [string, () => ReducerStore][] = [
    ['sqlite', () => new SqliteReducerStore({ path: join(dir, `ids-${String(Date.now())}-${String(Math.random())}.db`) })],
    ['memory, duplicate found at append', () => new LateDuplicateStore()],
  ];

  it.each(stores)('refuses an id reused for a different event with CONFLICT EVENT_ID_REUSED; an identical replay is a no-op (%s)', async (_name, make) => {
    const node = await orders(make());
    value(await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } }));
    value(await node.apply('o-1', { id: 'e2', type: 'RESERVE', payload: { reservationId: 'r-1' } }));
    // A partial payment: reserved -> reserved, so every event below is legal and reaches the dedup.
    const first = value(await node.apply('o-1', { id: 'e3', type: 'PAY', payload: { amount: 5 } }));

    const replay = value(await node.apply('o-1', { id: 'e3', type: 'PAY', payload: { amount: 5 } }));
    expect(replay).toEqual({ ...first, duplicate: true });

    const reused = { code: ErrorCode.Conflict, context: { aggregateId: 'o-1', eventId: 'e3', reason: 'EVENT_ID_REUSED' } };
    const otherPayload = await node.apply('o-1', { id: 'e3', type: 'PAY', payload: { amount: 6 } });
    expect(!otherPayload.ok && otherPayload.error).toMatchObject(reused);
    const otherType = await node.apply('o-1', { id: 'e3', type: 'CANCEL', payload: {} });
    expect(!otherType.ok && otherType.error).toMatchObject(reused);

    expect(await node.get('o-1')).toMatchObject({ state: 'reserved', version: 3, context: { paid: 5 } });
    expect(await node.history('o-1')).toHaveLength(3);
    expect(node.stats()).toMatchObject({ applied: 3, duplicates: 1 });
    await node.shutdown();
  });
});
