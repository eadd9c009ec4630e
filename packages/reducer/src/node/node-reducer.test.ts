import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSilentLogger, ErrorCode } from '@onex/core';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { orderMachine } from '../../test/order-machine.js';
import { defineStateMachine } from '../machine/state-machine.js';
import { MemoryReducerStore } from '../store/memory-store.js';
import type { ReducerStore } from '../store/reducer-store.js';
import { SqliteReducerStore } from '../store/sqlite-store.js';
import { defineReducerNode } from './define-reducer-node.js';

const dir = mkdtempSync(join(tmpdir(), 'onex-reducer-node-src-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const logger = createSilentLogger();

async function orders(store: ReducerStore = new MemoryReducerStore()) {
  const node = defineReducerNode({ machine: orderMachine, version: '1.0.0', store, logger });
  await node.initialize();
  return node;
}

function value<T>(r: { ok: true; value: T } | { ok: false; error: Error }): T {
  if (!r.ok) throw r.error;
  return r.value;
}

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
    const node = defineReducerNode({ machine: tagged, version: '1.0.0', store: new SqliteReducerStore({ path: join(dir, 'tagged.db') }), logger });
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
    expect(node.figures()).toMatchObject({ applied: 3, duplicates: 1 });
    await node.shutdown();
  });
});
