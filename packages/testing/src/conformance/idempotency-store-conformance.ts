import { ErrorCode } from '@onex/core';
import type { IdempotencyBegin, IdempotencyStore } from '@onex/effect';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// Self-contained on purpose (vitest, @onex/core and the store contract only), so that anyone writing an
// IdempotencyStore (Redis, DynamoDB, …) runs the same clauses the bundled stores pass.

/**
 * What {@link idempotencyStoreConformance} hands the factory of each store: the clock to read, and the windows the
 * clauses count with.
 *
 * @example
 * ```ts
 * import { MemoryIdempotencyStore } from '@onex/effect';
 * const create = (settings: IdempotencyStoreSettings) => new MemoryIdempotencyStore(settings);
 * ```
 */
export interface IdempotencyStoreSettings {
  /** The store's clock, epoch ms: the suite moves it; the store must read every time from it. */
  readonly now: () => number;
  /** 10 000 ms. */
  readonly retentionMs: number;
  /** 1 000 ms. */
  readonly leaseMs: number;
}

const RETENTION_MS = 10_000;
const LEASE_MS = 1_000;

/**
 * Options of {@link idempotencyStoreConformance}.
 *
 * @example
 * ```ts
 * import { MemoryIdempotencyStore } from '@onex/effect';
 * const options: IdempotencyStoreConformanceOptions = {
 *   name: 'MemoryIdempotencyStore',
 *   create: (settings) => new MemoryIdempotencyStore(settings),
 * };
 * ```
 */
export interface IdempotencyStoreConformanceOptions {
  /** Names the suite: `<name>: IdempotencyStore conformance`. */
  readonly name: string;
  /**
   * Called once per test with the suite's clock and windows: answers a new, empty store that reads its time from
   * `settings.now`. The suite closes it.
   */
  readonly create: (settings: IdempotencyStoreSettings) => IdempotencyStore | Promise<IdempotencyStore>;
}

/**
 * Registers a vitest suite checking that an {@link IdempotencyStore} keeps the store contract: claims, `in_progress`
 * to other claimants, mismatched inputs, stored results and errors (replayed as given), release, leases (renewal, a
 * takeover once a lease ran out, `renew` telling a holder it lost the key), retention and `purgeExpired`, and one
 * winner among concurrent claims. `create` is called once per test with the suite's clock and windows and must
 * answer a new, empty store; the suite closes it. Nothing depends on the wall clock: the suite moves its own clock.
 * Call it at the top level of a vitest test file.
 *
 * @example
 * ```ts compile-only
 * import { MemoryIdempotencyStore } from '@onex/effect';
 * import { idempotencyStoreConformance } from '@onex/testing/conformance';
 *
 * idempotencyStoreConformance({ name: 'MemoryIdempotencyStore', create: (settings) => new MemoryIdempotencyStore(settings) });
 * ```
 */
export function idempotencyStoreConformance(options: IdempotencyStoreConformanceOptions): void {
  const { name, create: makeStore } = options;
  describe(`${name}: IdempotencyStore conformance`, () => {
    const clock = { now: 1_000_000 };
    const opened: IdempotencyStore[] = [];

    beforeEach(() => {
      clock.now = 1_000_000;
    });

    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    async function open(): Promise<IdempotencyStore> {
      const store = await makeStore({ now: () => clock.now, retentionMs: RETENTION_MS, leaseMs: LEASE_MS });
      opened.push(store);
      return store;
    }

    async function started(store: IdempotencyStore, key: string, fingerprint = 'fp'): Promise<string> {
      const begun = await store.begin(key, fingerprint);
      if (begun.kind !== 'started') throw new Error(`expected ${key} to start, got ${begun.kind}`);
      return begun.token;
    }

    it('exposes the windows it was made with', async () => {
      const store = await open();
      expect(store.retentionMs).toBe(RETENTION_MS);
      expect(store.leaseMs).toBe(LEASE_MS);
    });

    it('claims a new key, answers in_progress to a second claimant, then the stored outcome', async () => {
      const store = await open();
      const begun = await store.begin('k', 'fp');
      expect(begun.kind).toBe('started');
      expect(await store.begin('k', 'fp')).toEqual({ kind: 'in_progress', retryAfterMs: 1_000 });
      expect(await store.begin('k', 'other')).toEqual({ kind: 'mismatch' });
      if (begun.kind !== 'started') throw new Error('unreachable');
      expect(await store.complete('k', begun.token, { ok: true, resultJson: '{"v":1}' })).toBe(true);
      expect(await store.begin('k', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson: '{"v":1}' } });
      expect(await store.begin('k', 'other')).toEqual({ kind: 'mismatch' });
    });

    it('answers in_progress with the lease time left', async () => {
      const store = await open();
      await started(store, 'k');
      clock.now += 400;
      expect(await store.begin('k', 'fp')).toEqual({ kind: 'in_progress', retryAfterMs: 600 });
    });

    it('stores a wire error', async () => {
      const store = await open();
      const token = await started(store, 'e');
      const error = { error: { code: ErrorCode.NotFound, message: 'gone', retryable: false } };
      await store.complete('e', token, { ok: false, error });
      expect(await store.begin('e', 'fp')).toEqual({ kind: 'completed', outcome: { ok: false, error } });
    });

    it('replays a result as the JSON text it was given, and a full wire error', async () => {
      const store = await open();
      const resultJson = '{"z":1,"a":[true,null,"\\u0000 ü 😀"],"n":1.5e+300}';
      await store.complete('text', await started(store, 'text'), { ok: true, resultJson });
      expect(await store.begin('text', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson } });
      const error = {
        error: {
          code: ErrorCode.Conflict,
          message: 'seat taken',
          retryable: true,
          retryAfterMs: 250,
          details: [{ path: 'seat', message: 'taken' }],
          context: { seat: '12A', tries: 2 },
        },
      };
      await store.complete('full', await started(store, 'full'), { ok: false, error });
      expect(await store.begin('full', 'fp')).toEqual({ kind: 'completed', outcome: { ok: false, error } });
    });

    it('release lets the key run again; a stale token cannot complete or release', async () => {
      const store = await open();
      const first = await started(store, 'r');
      await store.release('r', first);
      const second = await store.begin('r', 'fp');
      expect(second.kind).toBe('started');
      expect(await store.complete('r', first, { ok: true, resultJson: '1' })).toBe(false);
      await store.release('r', first);
      expect((await store.begin('r', 'fp')).kind).toBe('in_progress');
    });

    it('a released key may run with another input', async () => {
      const store = await open();
      await store.release('r', await started(store, 'r'));
      expect((await store.begin('r', 'another input')).kind).toBe('started');
    });

    it('completes once: a second complete or a release after it changes nothing', async () => {
      const store = await open();
      const token = await started(store, 'c');
      expect(await store.complete('c', token, { ok: true, resultJson: '"first"' })).toBe(true);
      expect(await store.complete('c', token, { ok: true, resultJson: '"second"' })).toBe(false);
      await store.release('c', token);
      expect(await store.begin('c', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson: '"first"' } });
    });

    it('a holder whose lease ran out may still complete while nobody took the key', async () => {
      const store = await open();
      const token = await started(store, 'late');
      clock.now += 5_000;
      expect(await store.complete('late', token, { ok: true, resultJson: '"late"' })).toBe(true);
      expect(await store.begin('late', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson: '"late"' } });
    });

    it('lets another holder take over a key whose lease expired, unless renewed', async () => {
      const store = await open();
      const first = await started(store, 'l');
      clock.now += 800;
      await store.renew('l', first);
      clock.now += 800; // 1600 after the claim, 800 after the renewal: still held
      expect((await store.begin('l', 'fp')).kind).toBe('in_progress');
      clock.now += 500; // lease expired: a crashed holder's key is taken over
      const second = await store.begin('l', 'fp');
      expect(second.kind).toBe('started');
      expect(await store.complete('l', first, { ok: true, resultJson: '"late"' })).toBe(false);
    });

    it('an abandoned key is still refused to another input (mismatch) until its retention ends', async () => {
      const store = await open();
      await started(store, 'a');
      clock.now += 5_000; // lease long gone, retention not
      expect(await store.begin('a', 'other')).toEqual({ kind: 'mismatch' });
      expect((await store.begin('a', 'fp')).kind).toBe('started');
    });

    it('issue 9 #9: renew says whether the holder still holds the key', async () => {
      const store = await open();
      const first = await started(store, 'h');
      expect(await store.renew('h', first)).toBe(true);
      clock.now += 1_500; // the lease ran out, but nobody took the key: still the holder's
      expect(await store.renew('h', first)).toBe(true);
      clock.now += 1_500;
      const second = await store.begin('h', 'fp'); // taken over after the lease expired
      if (second.kind !== 'started') throw new Error('expected a takeover');
      expect(await store.renew('h', first)).toBe(false);
      expect(await store.renew('h', second.token)).toBe(true);
      expect(await store.complete('h', second.token, { ok: true, resultJson: '1' })).toBe(true);
      expect(await store.renew('h', second.token)).toBe(false); // completed: nothing left to hold
      const third = await started(store, 'gone');
      await store.release('gone', third);
      expect(await store.renew('gone', third)).toBe(false);
      expect(await store.renew('never-claimed', 'no-token')).toBe(false);
    });

    it('keeps keys apart', async () => {
      const store = await open();
      const a = await started(store, 'a');
      const b = await started(store, 'b');
      expect(await store.complete('a', b, { ok: true, resultJson: '"b on a"' })).toBe(false);
      expect(await store.complete('a', a, { ok: true, resultJson: '"a"' })).toBe(true);
      expect((await store.begin('b', 'fp')).kind).toBe('in_progress');
      await store.release('b', b);
      expect(await store.begin('a', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson: '"a"' } });
    });

    it('one of many concurrent claims of a key starts; the others are told it is in progress', async () => {
      const store = await open();
      const answers: IdempotencyBegin[] = await Promise.all(Array.from({ length: 20 }, async () => store.begin('race', 'fp')));
      expect(answers.filter((a) => a.kind === 'started')).toHaveLength(1);
      expect(answers.filter((a) => a.kind === 'in_progress')).toHaveLength(19);
      clock.now += 2_000; // the winner's lease ran out: again exactly one takes the key over
      const takeovers: IdempotencyBegin[] = await Promise.all(Array.from({ length: 20 }, async () => store.begin('race', 'fp')));
      expect(takeovers.filter((a) => a.kind === 'started')).toHaveLength(1);
    });

    it('remembers a completed key for retentionMs from its completion', async () => {
      const store = await open();
      const token = await started(store, 'slow');
      clock.now += 9_000; // a long run, its lease renewed
      await store.renew('slow', token);
      await store.complete('slow', token, { ok: true, resultJson: '1' });
      clock.now += 9_000; // 18 s after the claim, 9 s after the completion
      expect((await store.begin('slow', 'fp')).kind).toBe('completed');
      clock.now += 1_000;
      expect((await store.begin('slow', 'fp')).kind).toBe('started');
    });

    it('forgets completed keys after the retention window and purges them', async () => {
      const store = await open();
      for (const key of ['p1', 'p2']) {
        const b = await store.begin(key, 'fp');
        if (b.kind === 'started') await store.complete(key, b.token, { ok: true, resultJson: '1' });
      }
      clock.now += 5_000;
      const b3 = await store.begin('p3', 'fp');
      if (b3.kind === 'started') await store.complete('p3', b3.token, { ok: true, resultJson: '3' });
      clock.now += 6_000; // p1, p2 expired; p3 not yet
      expect(await store.purgeExpired()).toBe(2);
      expect(await store.purgeExpired()).toBe(0);
      expect((await store.begin('p1', 'another input')).kind).toBe('started');
      expect((await store.begin('p3', 'fp')).kind).toBe('completed');
      expect((await store.health()).status).toBe('healthy');
    });

    it('an expired key not yet purged counts as absent', async () => {
      const store = await open();
      await store.complete('x', await started(store, 'x'), { ok: true, resultJson: '1' });
      clock.now += RETENTION_MS;
      expect((await store.begin('x', 'another input')).kind).toBe('started');
    });
  });
}
