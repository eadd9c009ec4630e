import { ErrorCode, isOnexError } from '@onex/core';
import { TransitionKind, type AppendResult, type ReducerStore, type TransitionChange } from '@onex/reducer';
import { afterEach, describe, expect, it } from 'vitest';
import { rejectionCode } from './rejection-code.js';

// Self-contained on purpose (vitest, @onex/core and the store contract only), so that anyone writing a
// ReducerStore runs the same clauses the bundled stores pass.

/**
 * Options of {@link reducerStoreConformance}.
 *
 * @example
 * ```ts
 * import { MemoryReducerStore } from '@onex/reducer';
 * const options: ReducerStoreConformanceOptions = { name: 'MemoryReducerStore', create: () => new MemoryReducerStore() };
 * ```
 */
export interface ReducerStoreConformanceOptions {
  /** Names the suite: `<name>: ReducerStore conformance`. */
  readonly name: string;
  /** Called once per test: answers a new, empty store. The suite calls `init()` and `close()`. */
  readonly create: () => ReducerStore | Promise<ReducerStore>;
  /** The store implements {@link ReducerStore.withAggregate}: check its clauses too (and that it has it). Default false. */
  readonly withAggregate?: boolean;
}

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

/**
 * Registers a vitest suite checking that a {@link ReducerStore} keeps the store contract: atomic appends that keep
 * the snapshot and the history in step, dedup by (aggregate, event id) whatever version the caller expected, a stale
 * version refused with `CONFLICT` and nothing changed, one winner among concurrent appends at one version, snapshots
 * at every version, history pages, values through JSON (key order kept), restores recorded like events — and, with
 * `withAggregate: true`, the clauses of {@link ReducerStore.withAggregate}. `create` is called once per test and
 * must answer a new, empty store; the suite calls `init()` and `close()`. Call it at the top level of a vitest test
 * file.
 *
 * @example
 * ```ts compile-only
 * import { MemoryReducerStore } from '@onex/reducer';
 * import { reducerStoreConformance } from '@onex/testing/conformance';
 *
 * reducerStoreConformance({ name: 'MemoryReducerStore', create: () => new MemoryReducerStore() });
 * ```
 */
export function reducerStoreConformance(options: ReducerStoreConformanceOptions): void {
  const { name, create: makeStore } = options;
  describe(`${name}: ReducerStore conformance`, () => {
    const opened: ReducerStore[] = [];

    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    async function open(): Promise<ReducerStore> {
      const store = await makeStore();
      opened.push(store);
      await store.init();
      return store;
    }

    it('appends transitions, keeping the snapshot and history in step', async () => {
      const store = await open();
      expect(await store.load('a')).toBeUndefined();
      const first = await store.append('a', 0, change('e1', 'idle', 'busy', 1));
      expect(first).toMatchObject({ status: 'appended', snapshot: { state: 'busy', context: { n: 1 }, version: 1, updatedAt: 1_001 } });
      await store.append('a', 1, change('e2', 'busy', 'done', 2));
      expect(await store.load('a')).toEqual({ state: 'done', context: { n: 2 }, version: 2, updatedAt: 1_002 });
      expect(await store.loadAt('a', 1)).toEqual({ state: 'busy', context: { n: 1 }, version: 1, updatedAt: 1_001 });
      expect(await store.loadAt('a', 3)).toBeUndefined();
      const history = await store.history('a', { afterVersion: 0, limit: 10 });
      expect(history.map((r) => [r.version, r.eventId, r.from, r.to])).toEqual([
        [1, 'e1', 'idle', 'busy'],
        [2, 'e2', 'busy', 'done'],
      ]);
      expect(history[1]).toMatchObject({ aggregateId: 'a', kind: 'event', event: { type: 'STEP', payload: { n: 2 } }, intents: [{ type: 'even', payload: { n: 2 } }] });
      expect(await store.history('a', { afterVersion: 1, limit: 10 })).toHaveLength(1);
      expect(await store.history('a', { afterVersion: 0, limit: 1 })).toHaveLength(1);
      expect(await store.history('other', { afterVersion: 0, limit: 10 })).toEqual([]);
    });

    it('answers an append with the stored record and the new snapshot, as load and history give them', async () => {
      const store = await open();
      const result = await store.append('a', 0, change('e1', 'idle', 'busy', 2));
      if (result.status !== 'appended') throw new Error('expected appended');
      expect(result.record).toEqual({ ...change('e1', 'idle', 'busy', 2), aggregateId: 'a', version: 1 });
      expect(await store.load('a')).toEqual(result.snapshot);
      expect(await store.history('a', { afterVersion: 0, limit: 10 })).toEqual([result.record]);
      expect(await store.findEvent('a', 'e1')).toEqual(result.record);
    });

    it('deduplicates by (aggregate, event id): a replay returns the stored transition and changes nothing', async () => {
      const store = await open();
      await store.append('a', 0, change('e1', 'idle', 'busy', 1));
      const replay = await store.append('a', 1, change('e1', 'busy', 'done', 9));
      expect(replay).toMatchObject({ status: 'duplicate', record: { version: 1, to: 'busy', context: { n: 1 } } });
      expect((await store.load('a'))?.version).toBe(1);
      expect(await store.findEvent('a', 'e1')).toMatchObject({ version: 1 });
      // The same event id on another aggregate is another event.
      expect((await store.append('b', 0, change('e1', 'idle', 'busy', 1))).status).toBe('appended');
    });

    it('answers a replay as a duplicate whatever version the caller expected', async () => {
      const store = await open();
      await store.append('a', 0, change('e1', 'idle', 'busy', 1));
      await store.append('a', 1, change('e2', 'busy', 'done', 2));
      expect(await store.append('a', 0, change('e1', 'idle', 'busy', 1))).toMatchObject({ status: 'duplicate', record: { version: 1 } });
      expect(await store.append('a', 7, change('e2', 'busy', 'done', 2))).toMatchObject({ status: 'duplicate', record: { version: 2 } });
      expect((await store.load('a'))?.version).toBe(2);
    });

    it('refuses an append at a stale version with CONFLICT, changing nothing', async () => {
      const store = await open();
      await store.append('a', 0, change('e1', 'idle', 'busy', 1));
      await expect(store.append('a', 0, change('e2', 'idle', 'done', 2))).rejects.toMatchObject({ code: ErrorCode.Conflict, context: { version: 1, expectedVersion: 0 } });
      expect(await store.load('a')).toMatchObject({ version: 1, state: 'busy' });
      expect(await store.findEvent('a', 'e2')).toBeUndefined();
      expect((await store.health()).status).toBe('healthy');
    });

    it('refuses a first append at a version other than 0, and one ahead of the aggregate', async () => {
      const store = await open();
      await expect(store.append('new', 1, change('e1', 'idle', 'busy', 1))).rejects.toMatchObject({ code: ErrorCode.Conflict, context: { version: 0, expectedVersion: 1 } });
      expect(await store.load('new')).toBeUndefined();
      expect(await store.history('new', { afterVersion: 0, limit: 10 })).toEqual([]);
      await store.append('new', 0, change('e1', 'idle', 'busy', 1));
      expect(await rejectionCode(store.append('new', 5, change('e2', 'busy', 'done', 2)))).toBe(ErrorCode.Conflict);
    });

    it('of concurrent appends at one version, one is recorded; the others are refused with CONFLICT', async () => {
      const store = await open();
      await store.append('a', 0, change('e0', 'idle', 'busy', 0));
      const settled = await Promise.allSettled(Array.from({ length: 8 }, async (_, i) => store.append('a', 1, change(`e${String(i + 1)}`, 'busy', 'done', i + 1))));
      const appended = settled.filter((s): s is PromiseFulfilledResult<AppendResult> => s.status === 'fulfilled');
      expect(appended.map((s) => s.value.status)).toEqual(['appended']);
      for (const s of settled) if (s.status === 'rejected') expect(isOnexError(s.reason) && s.reason.code).toBe(ErrorCode.Conflict);
      const history = await store.history('a', { afterVersion: 0, limit: 10 });
      expect(history.map((r) => r.version)).toEqual([1, 2]);
      expect(await store.load('a')).toMatchObject({ version: 2, context: history[1]!.context });
    });

    it('keeps the snapshot after every version, and pages of history', async () => {
      const store = await open();
      for (let n = 1; n <= 6; n += 1) await store.append('a', n - 1, change(`e${String(n)}`, `s${String(n - 1)}`, `s${String(n)}`, n));
      for (let n = 1; n <= 6; n += 1) expect(await store.loadAt('a', n)).toEqual({ state: `s${String(n)}`, context: { n }, version: n, updatedAt: 1_000 + n });
      expect(await store.loadAt('a', 0)).toBeUndefined();
      expect((await store.history('a', { afterVersion: 2, limit: 3 })).map((r) => r.version)).toEqual([3, 4, 5]);
      expect((await store.history('a', { afterVersion: 5, limit: 3 })).map((r) => r.version)).toEqual([6]);
      expect(await store.history('a', { afterVersion: 6, limit: 3 })).toEqual([]);
      expect(await store.history('a', { afterVersion: 0, limit: 0 })).toEqual([]);
    });

    it('keeps aggregates apart', async () => {
      const store = await open();
      await store.append('a', 0, change('e1', 'idle', 'busy', 1));
      await store.append('b', 0, change('e2', 'idle', 'done', 2));
      expect(await store.load('a')).toMatchObject({ state: 'busy', version: 1 });
      expect(await store.load('b')).toMatchObject({ state: 'done', version: 1 });
      expect(await store.findEvent('a', 'e2')).toBeUndefined();
      expect(await store.loadAt('b', 1)).toMatchObject({ state: 'done' });
    });

    it('stores values through JSON: a Date comes back as its ISO string, key order and unicode kept', async () => {
      const store = await open();
      const context = { zeta: 1, alpha: { when: new Date(0), list: [1, 'two', null, { b: true, a: false }] }, text: 'ü 😀 "quoted"' };
      await store.append('a', 0, { ...change('e1', 's', 't', 1), context, event: { type: 'SET', payload: { z: 2, a: 1 } } });
      const expected = { zeta: 1, alpha: { when: '1970-01-01T00:00:00.000Z', list: [1, 'two', null, { b: true, a: false }] }, text: 'ü 😀 "quoted"' };
      const loaded = await store.load('a');
      expect(loaded?.context).toEqual(expected);
      expect(Object.keys(loaded?.context as object)).toEqual(['zeta', 'alpha', 'text']);
      const record = await store.findEvent('a', 'e1');
      expect(Object.keys(record?.event.payload as object)).toEqual(['z', 'a']);
      expect((await store.history('a', { afterVersion: 0, limit: 1 }))[0]?.context).toEqual(expected);
    });

    it('records a restore like any transition', async () => {
      const store = await open();
      await store.append('a', 0, change('e1', 'idle', 'busy', 1));
      const restore: TransitionChange = {
        eventId: '$restore:1',
        kind: TransitionKind.Restore,
        event: { type: '$restore', payload: { version: 0 } },
        from: 'busy',
        to: 'idle',
        context: { n: 0 },
        intents: [],
        at: 2_000,
      };
      expect(await store.append('a', 1, restore)).toMatchObject({ status: 'appended', snapshot: { state: 'idle', version: 2 } });
      expect(await store.findEvent('a', '$restore:1')).toMatchObject({ kind: 'restore', event: { type: '$restore' }, version: 2 });
      expect(await store.findEvent('a', 'e1')).toMatchObject({ version: 1 }); // still deduplicated after the restore
    });

    it('init is idempotent', async () => {
      const store = await open();
      await store.init();
      await store.append('a', 0, change('e1', 'idle', 'busy', 1));
      await store.init();
      expect(await store.load('a')).toMatchObject({ version: 1 });
    });

    if (options.withAggregate === true) {
      describe('withAggregate', () => {
        async function lockable(): Promise<ReducerStore & Required<Pick<ReducerStore, 'withAggregate'>>> {
          const store = await open();
          expect(typeof store.withAggregate).toBe('function');
          return store as ReducerStore & Required<Pick<ReducerStore, 'withAggregate'>>;
        }

        it('commits what the work appended when it resolves; the session sees its own appends', async () => {
          const store = await lockable();
          const value = await store.withAggregate('a', async (session) => {
            expect(await session.load()).toBeUndefined();
            await session.append(0, change('e1', 'idle', 'busy', 1));
            expect(await session.load()).toEqual({ state: 'busy', context: { n: 1 }, version: 1, updatedAt: 1_001 });
            expect(await session.findEvent('e1')).toMatchObject({ version: 1 });
            expect(await session.loadAt(1)).toMatchObject({ state: 'busy' });
            await session.append(1, change('e2', 'busy', 'done', 2));
            return 'done';
          });
          expect(value).toBe('done');
          expect((await store.history('a', { afterVersion: 0, limit: 10 })).map((r) => r.eventId)).toEqual(['e1', 'e2']);
          expect(await store.load('a')).toMatchObject({ version: 2, state: 'done' });
        });

        it('keeps nothing of a work that throws', async () => {
          const store = await lockable();
          await store.append('a', 0, change('e1', 'idle', 'busy', 1));
          await expect(
            store.withAggregate('a', async (session) => {
              await session.append(1, change('e2', 'busy', 'done', 2));
              throw new Error('changed my mind');
            }),
          ).rejects.toThrow('changed my mind');
          expect(await store.load('a')).toMatchObject({ version: 1, state: 'busy' });
          expect(await store.findEvent('a', 'e2')).toBeUndefined();
          await expect(store.withAggregate('new', async () => Promise.reject(new Error('nothing')))).rejects.toThrow('nothing');
          expect(await store.load('new')).toBeUndefined();
        });

        it('checks dedup and versions inside the session as append does', async () => {
          const store = await lockable();
          await store.append('a', 0, change('e1', 'idle', 'busy', 1));
          await store.withAggregate('a', async (session) => {
            expect(await session.append(0, change('e1', 'idle', 'busy', 1))).toMatchObject({ status: 'duplicate', record: { version: 1 } });
            expect(await rejectionCode(session.append(0, change('e2', 'idle', 'done', 2)))).toBe(ErrorCode.Conflict);
          });
          expect(await store.load('a')).toMatchObject({ version: 1 });
        });

        it('lets holders in one at a time: concurrent read-modify-writes of one aggregate lose no update', async () => {
          const store = await lockable();
          let inside = 0;
          let most = 0;
          const bump = (i: number): Promise<number> =>
            store.withAggregate('counter', async (session) => {
              inside += 1;
              most = Math.max(most, inside);
              const current = await session.load();
              const n = ((current?.context as { n?: number } | undefined)?.n ?? 0) + 1;
              await session.append(current?.version ?? 0, change(`bump-${String(i)}`, 'counting', 'counting', n));
              inside -= 1;
              return n;
            });
          const seen = await Promise.all(Array.from({ length: 12 }, (_, i) => bump(i)));
          expect(most).toBe(1);
          expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
          expect(await store.load('counter')).toMatchObject({ version: 12, context: { n: 12 } });
        });

        it('a session that ended refuses to be used', async () => {
          const store = await lockable();
          let kept: Parameters<Parameters<typeof store.withAggregate>[1]>[0] | undefined;
          await store.withAggregate('a', async (session) => {
            kept = session;
          });
          expect(await rejectionCode(kept!.append(0, change('e1', 'idle', 'busy', 1)))).toBe(ErrorCode.Lifecycle);
          expect(await store.load('a')).toBeUndefined();
        });
      });
    }
  });
}
