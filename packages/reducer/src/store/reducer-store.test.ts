import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@onex/core';
import { reducerStoreConformance } from '@onex/testing/conformance';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryReducerStore } from './memory-store.js';
import { TransitionKind, type TransitionChange } from './reducer-store.js';
import { SqliteReducerStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'onex-reducer-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
// The contract, on the bundled stores but PostgreSQL (postgres-store.test.ts runs it there).
reducerStoreConformance({ name: 'MemoryReducerStore', create: () => new MemoryReducerStore() });
reducerStoreConformance({ name: 'SqliteReducerStore (file)', create: () => new SqliteReducerStore({ path: join(dir, `store-${String((files += 1))}.db`) }) });
reducerStoreConformance({ name: 'SqliteReducerStore (:memory:)', create: () => new SqliteReducerStore({ path: ':memory:' }) });

function change(eventId: string, from: string, to: string, n: number): TransitionChange {
  return {
    eventId,
    kind: TransitionKind.Event,
    event: { type: 'STEP', payload: { n } },
    from,
    to,
    context: { n },
    intents: n % 2 === 0 ? [{ type: 'even', payload: { n } }] : [],
    at: 1_000 + n,
  };
}

describe('MemoryReducerStore', () => {
  it('keeps at most maxHistory transitions per aggregate, and dedups within them', async () => {
    const store = new MemoryReducerStore({ maxHistory: 3 });
    for (let n = 1; n <= 5; n += 1) await store.append('a', n - 1, change(`e${n}`, 's', 's', n));
    expect((await store.history('a', { afterVersion: 0, limit: 10 })).map((r) => r.version)).toEqual([3, 4, 5]);
    expect(await store.loadAt('a', 2)).toBeUndefined();
    expect(await store.loadAt('a', 4)).toMatchObject({ version: 4 });
    expect(await store.findEvent('a', 'e1')).toBeUndefined();
    expect(await store.findEvent('a', 'e5')).toBeDefined();
  });

  it('stores JSON copies, frozen: callers cannot change what is stored', async () => {
    const store = new MemoryReducerStore();
    const context = { n: 1, at: new Date(0) };
    await store.append('a', 0, { ...change('e1', 's', 't', 1), context });
    context.n = 2;
    const loaded = await store.load('a');
    expect(loaded?.context).toEqual({ n: 1, at: '1970-01-01T00:00:00.000Z' });
    expect(Object.isFrozen(loaded?.context)).toBe(true);
  });
});

describe('SqliteReducerStore', () => {
  it('survives closing and reopening the database file', async () => {
    const path = join(dir, 'reopen.db');
    const first = new SqliteReducerStore({ path });
    await first.init();
    await first.append('a', 0, change('e1', 'idle', 'busy', 1));
    await first.close();
    await expect(first.load('a')).rejects.toMatchObject({ code: ErrorCode.Lifecycle });

    const second = new SqliteReducerStore({ path });
    await second.init();
    expect(await second.load('a')).toMatchObject({ state: 'busy', version: 1 });
    expect((await second.append('a', 1, change('e1', 'busy', 'x', 5))).status).toBe('duplicate');
    await second.close();
  });

  it('keeps namespaces apart in one file', async () => {
    const path = join(dir, 'namespaces.db');
    const orders = new SqliteReducerStore({ path, namespace: 'orders' });
    const carts = new SqliteReducerStore({ path, namespace: 'carts' });
    await orders.init();
    await carts.init();
    await orders.append('a', 0, change('e1', 'idle', 'busy', 1));
    expect(await carts.load('a')).toBeUndefined();
    expect((await carts.append('a', 0, change('e1', 'idle', 'busy', 1))).status).toBe('appended');
    expect((await orders.health()).data).toMatchObject({ kind: 'sqlite', namespace: 'orders', aggregates: 1 });
    await orders.close();
    await carts.close();
  });

  it('refuses values JSON cannot hold', async () => {
    const store = new SqliteReducerStore({ path: ':memory:' });
    await store.init();
    await expect(store.append('a', 0, { ...change('e1', 's', 't', 1), context: undefined })).rejects.toMatchObject({ code: ErrorCode.Validation });
    await store.close();
  });
});
