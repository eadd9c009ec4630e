import { ErrorCode } from '@onex/core';
import {
  StepStatus,
  WorkflowStatus,
  type ClaimOptions,
  type RecordedError,
  type RunnableType,
  type StepRecord,
  type WorkflowRecord,
  type WorkflowStore,
} from '@onex/orchestrator';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejectionCode } from './rejection-code.js';

// Self-contained on purpose (vitest, @onex/core and the store contract only), so that anyone writing a
// WorkflowStore (PostgreSQL, DynamoDB, …) runs the same clauses the bundled stores pass.

const TYPE = 'conformance.order';
const VERSION = '1.0.0';
const RUNNABLE: readonly RunnableType[] = [{ type: TYPE, version: VERSION }];
const LEASE_MS = 10_000;

function step(name: string, extra: Partial<StepRecord> = {}): StepRecord {
  return { name, status: StepStatus.Pending, attempts: 0, attemptErrors: [], ...extra };
}

/**
 * Options of {@link workflowStoreConformance}.
 *
 * @example
 * ```ts
 * import { MemoryWorkflowStore } from '@onex/orchestrator';
 * const options: WorkflowStoreConformanceOptions = { name: 'MemoryWorkflowStore', create: () => new MemoryWorkflowStore() };
 * ```
 */
export interface WorkflowStoreConformanceOptions {
  /** Names the suite: `<name>: WorkflowStore conformance`. */
  readonly name: string;
  /** Called once per test: answers a new, empty store. The suite calls `init()` and `close()`. */
  readonly create: () => WorkflowStore | Promise<WorkflowStore>;
}

/**
 * Registers a vitest suite checking that a {@link WorkflowStore} keeps the store contract: create and idempotency,
 * reads and listings, atomic fenced commits, claims (runnable, due, free, oldest first, limit), renewals, release,
 * cancel requests and wake-up times. `create` is called once per test and must answer a new, empty store; the
 * suite calls `init()` and `close()`. Times are epoch ms near `Date.now()` (a store that purges old finished
 * workflows keeps them), and every clause passes its `now` explicitly, so nothing depends on the wall clock moving.
 * Call it at the top level of a vitest test file.
 *
 * @example
 * ```ts compile-only
 * import { MemoryWorkflowStore } from '@onex/orchestrator';
 * import { workflowStoreConformance } from '@onex/testing/conformance';
 *
 * workflowStoreConformance({ name: 'MemoryWorkflowStore', create: () => new MemoryWorkflowStore() });
 * ```
 */
export function workflowStoreConformance(options: WorkflowStoreConformanceOptions): void {
  const { name, create: makeStore } = options;
  describe(`${name}: WorkflowStore conformance`, () => {
    const opened: WorkflowStore[] = [];
    let t0 = 0;

    beforeEach(() => {
      t0 = Date.now();
    });

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    async function open(): Promise<WorkflowStore> {
      const store = await makeStore();
      opened.push(store);
      await store.init();
      return store;
    }

    /** A pending workflow held by `a` with a live lease, created at `t0`. */
    function workflow(id: string, overrides: Partial<WorkflowRecord> = {}): WorkflowRecord {
      return {
        id,
        type: TYPE,
        version: VERSION,
        status: WorkflowStatus.Pending,
        input: { id },
        correlationId: `corr-${id}`,
        createdAt: t0,
        updatedAt: t0,
        owner: 'a',
        leaseExpiresAt: t0 + LEASE_MS,
        epoch: 1,
        steps: {},
        ...overrides,
      };
    }

    /** `record` without owner and lease: free for any instance. */
    function unowned(record: WorkflowRecord): WorkflowRecord {
      const { owner: _owner, leaseExpiresAt: _leaseExpiresAt, ...free } = record;
      return free;
    }

    /** Creates the records in order, each one ms younger than the previous (creation order = `createdAt` order). */
    async function seed(store: WorkflowStore, records: readonly WorkflowRecord[]): Promise<void> {
      let order = 0;
      for (const record of records) {
        await store.create({ ...record, createdAt: t0 + order });
        order += 1;
      }
    }

    function claimBy(owner: string, extra: Partial<ClaimOptions> = {}): ClaimOptions {
      return { owner, leaseMs: LEASE_MS, now: t0, limit: 100, runnable: RUNNABLE, ...extra };
    }

    describe('create and read', () => {
      it('create stores the whole record and get returns it', async () => {
        const store = await open();
        const record = workflow('w1', {
          idempotencyKey: 'key-1',
          parentId: 'parent',
          deadlineAt: t0 + 60_000,
          input: { amount: 42, items: ['a', 'b'] },
          steps: {
            charge: step('charge', { status: StepStatus.Running, attempts: 1, startedAt: t0, input: { amount: 42 }, compensationWaits: 2 }),
          },
        });
        const result = await store.create(record);
        expect(result.created).toBe(true);
        expect(result.record).toEqual(record);
        const got = await store.get('w1');
        expect(got).toEqual(record);
        expect(got?.wakeAt).toBeUndefined();
        expect(got?.cancelRequested ?? false).toBe(false);
      });

      it('hands out copies: changing a returned record changes nothing stored', async () => {
        const store = await open();
        await store.create(workflow('w1', { steps: { s: step('s') } }));
        const got = (await store.get('w1'))!;
        (got.steps as Record<string, StepRecord>)['intruder'] = step('intruder');
        expect(Object.keys((await store.get('w1'))!.steps)).toEqual(['s']);
      });

      it('create with a used idempotency key inserts nothing and returns the existing workflow', async () => {
        const store = await open();
        await store.create(workflow('w1', { idempotencyKey: 'k', input: { first: true } }));
        const again = await store.create(workflow('w2', { idempotencyKey: 'k', input: { first: false } }));
        expect(again.created).toBe(false);
        expect(again.record).toMatchObject({ id: 'w1', input: { first: true }, idempotencyKey: 'k' });
        expect(await store.get('w2')).toBeUndefined();
        expect((await store.create(workflow('w3', { idempotencyKey: 'other' }))).created).toBe(true);
      });

      it('create refuses a second workflow with the same id (CONFLICT)', async () => {
        const store = await open();
        await store.create(workflow('w1'));
        expect(await rejectionCode(store.create(workflow('w1', { input: { changed: true } })))).toBe(ErrorCode.Conflict);
        expect((await store.get('w1'))?.input).toEqual({ id: 'w1' });
      });

      it('get answers undefined for an unknown id', async () => {
        const store = await open();
        expect(await store.get('nope')).toBeUndefined();
      });

      it('list answers summaries newest first, without steps, input or output', async () => {
        const store = await open();
        await seed(store, [
          workflow('old', { status: WorkflowStatus.Completed, output: { ok: true }, steps: { s: step('s') } }),
          workflow('mid'),
          workflow('new', { type: 'other' }),
        ]);
        const all = await store.list({});
        expect(all.map((w) => w.id)).toEqual(['new', 'mid', 'old']);
        for (const summary of all) {
          expect(summary).not.toHaveProperty('steps');
          expect(summary).not.toHaveProperty('input');
          expect(summary).not.toHaveProperty('output');
        }
        expect(all[2]).toMatchObject({ id: 'old', status: 'completed', type: TYPE, version: VERSION, epoch: 1, correlationId: 'corr-old' });
      });

      it('list filters by one status, several statuses and type, and stops at limit', async () => {
        const store = await open();
        await seed(store, [
          workflow('done', { status: WorkflowStatus.Completed }),
          workflow('failed', { status: WorkflowStatus.Failed }),
          workflow('running', { status: WorkflowStatus.Running }),
          workflow('other', { type: 'other' }),
          workflow('pending'),
        ]);
        expect((await store.list({ status: WorkflowStatus.Completed })).map((w) => w.id)).toEqual(['done']);
        expect((await store.list({ status: [WorkflowStatus.Completed, WorkflowStatus.Running] })).map((w) => w.id)).toEqual(['running', 'done']);
        expect((await store.list({ type: 'other' })).map((w) => w.id)).toEqual(['other']);
        expect((await store.list({ type: TYPE, status: WorkflowStatus.Pending })).map((w) => w.id)).toEqual(['pending']);
        expect((await store.list({ type: TYPE, limit: 2 })).map((w) => w.id)).toEqual(['pending', 'running']);
      });

      it('health reports healthy', async () => {
        const store = await open();
        expect((await store.health()).status).toBe('healthy');
      });
    });

    describe('commit', () => {
      it('commit applies workflow fields and whole step records together', async () => {
        const store = await open();
        await store.create(workflow('w1', { steps: { a: step('a', { status: StepStatus.Running, attempts: 1, output: 'partial' }) } }));
        await store.commit('w1', 1, {
          workflow: { status: WorkflowStatus.Running, updatedAt: t0 + 5, deadlineAt: t0 + 99 },
          steps: [step('a', { status: StepStatus.Failed, attempts: 2 }), step('b', { status: StepStatus.Completed, output: 7, completionSeq: 1 })],
        });
        const got = (await store.get('w1'))!;
        expect(got).toMatchObject({ status: 'running', updatedAt: t0 + 5, deadlineAt: t0 + 99, epoch: 1 });
        // A step is replaced whole: the output of the first record of `a` is gone.
        expect(got.steps).toEqual({ a: step('a', { status: StepStatus.Failed, attempts: 2 }), b: step('b', { status: StepStatus.Completed, output: 7, completionSeq: 1 }) });
        const error: RecordedError = { code: ErrorCode.Internal, message: 'boom', retryable: false };
        await store.commit('w1', 1, { workflow: { output: { total: 3 }, error } });
        expect(await store.get('w1')).toMatchObject({ status: 'running', output: { total: 3 }, error, updatedAt: t0 + 5 });
      });

      it('commit keeps the optional step fields input and compensationWaits', async () => {
        const store = await open();
        await store.create(workflow('w1'));
        const dispatched = step('pay', { status: StepStatus.Running, attempts: 1, input: { amount: 10, nested: [1, { x: null }] }, compensationWaits: 3 });
        await store.commit('w1', 1, { steps: [dispatched] });
        expect((await store.get('w1'))?.steps['pay']).toEqual(dispatched);
      });

      it('commit sets wakeAt with a number, clears it with null and leaves it when absent', async () => {
        const store = await open();
        await store.create(workflow('w1'));
        await store.commit('w1', 1, { workflow: { wakeAt: t0 + 500 } });
        expect((await store.get('w1'))?.wakeAt).toBe(t0 + 500);
        await store.commit('w1', 1, { workflow: { status: WorkflowStatus.Running }, steps: [step('s')] });
        expect((await store.get('w1'))?.wakeAt).toBe(t0 + 500);
        await store.commit('w1', 1, { workflow: { wakeAt: t0 + 800 } });
        expect((await store.get('w1'))?.wakeAt).toBe(t0 + 800);
        await store.commit('w1', 1, { workflow: { wakeAt: null } });
        expect((await store.get('w1'))?.wakeAt).toBeUndefined();
      });

      it('commit with a stale epoch is refused with CONFLICT and writes nothing', async () => {
        const store = await open();
        await store.create(workflow('w1', { leaseExpiresAt: t0 - 1 }));
        const [claimed] = await store.claim(claimBy('b'));
        expect(claimed?.epoch).toBe(2);
        const code = await rejectionCode(store.commit('w1', 1, { workflow: { status: WorkflowStatus.Running, wakeAt: t0 }, steps: [step('s')] }));
        expect(code).toBe(ErrorCode.Conflict);
        const got = (await store.get('w1'))!;
        expect(got.status).toBe('pending');
        expect(got.wakeAt).toBeUndefined();
        expect(got.steps).toEqual({});
        await store.commit('w1', 2, { workflow: { status: WorkflowStatus.Running } });
        expect((await store.get('w1'))?.status).toBe('running');
      });

      it('commit on a finished workflow is refused with CONFLICT, even at its epoch', async () => {
        const store = await open();
        await store.create(workflow('w1'));
        await store.commit('w1', 1, { workflow: { status: WorkflowStatus.Completed, output: 1 }, steps: [step('s', { status: StepStatus.Completed })] });
        expect(await rejectionCode(store.commit('w1', 1, { workflow: { status: WorkflowStatus.Running } }))).toBe(ErrorCode.Conflict);
        expect(await rejectionCode(store.commit('w1', 1, { steps: [step('late')] }))).toBe(ErrorCode.Conflict);
        expect(await rejectionCode(store.commit('w1', 1, {}))).toBe(ErrorCode.Conflict);
        const got = (await store.get('w1'))!;
        expect(got).toMatchObject({ status: 'completed', output: 1 });
        expect(Object.keys(got.steps)).toEqual(['s']);
        await store.create(workflow('born-finished', { status: WorkflowStatus.Cancelled }));
        expect(await rejectionCode(store.commit('born-finished', 1, { workflow: { status: WorkflowStatus.Running } }))).toBe(ErrorCode.Conflict);
      });

      it('commit on an unknown workflow is NOT_FOUND', async () => {
        const store = await open();
        expect(await rejectionCode(store.commit('missing', 1, {}))).toBe(ErrorCode.NotFound);
      });
    });

    describe('claim', () => {
      it('claim takes unfinished workflows that are free: no owner, an expired lease or none', async () => {
        const store = await open();
        await seed(store, [
          unowned(workflow('no-owner')),
          workflow('expired', { owner: 'b', leaseExpiresAt: t0 - 1 }),
          workflow('expires-now', { owner: 'b', leaseExpiresAt: t0 }),
          { ...unowned(workflow('no-lease')), owner: 'b' },
          workflow('live', { owner: 'b', leaseExpiresAt: t0 + 1 }),
          workflow('finished', { owner: 'b', leaseExpiresAt: t0 - 1, status: WorkflowStatus.Failed }),
          workflow('compensating', { owner: 'b', leaseExpiresAt: t0 - 1, status: WorkflowStatus.Compensating }),
        ]);
        const claimed = await store.claim(claimBy('c'));
        expect(claimed.map((r) => r.id)).toEqual(['no-owner', 'expired', 'expires-now', 'no-lease', 'compensating']);
        expect(await store.get('live')).toMatchObject({ owner: 'b', epoch: 1 });
        expect(await store.get('finished')).toMatchObject({ owner: 'b', epoch: 1 });
      });

      it('claim bumps the epoch, sets owner and lease, and returns the whole record', async () => {
        const store = await open();
        await store.create(workflow('w1', { leaseExpiresAt: t0 - 1, epoch: 4, steps: { s: step('s', { status: StepStatus.Completed, output: 'x' }) } }));
        const [claimed] = await store.claim(claimBy('c', { leaseMs: 1234 }));
        expect(claimed).toEqual(workflow('w1', { owner: 'c', leaseExpiresAt: t0 + 1234, epoch: 5, steps: { s: step('s', { status: StepStatus.Completed, output: 'x' }) } }));
        expect(await store.get('w1')).toEqual(claimed);
        // Held now: nobody else takes it before the new lease ends.
        expect(await store.claim(claimBy('d', { now: t0 + 1233 }))).toEqual([]);
        expect((await store.claim(claimBy('d', { now: t0 + 1234 }))).map((r) => r.epoch)).toEqual([6]);
      });

      it('claim leaves the claimer\'s own live leases unless includeOwn is true', async () => {
        const store = await open();
        await seed(store, [
          workflow('own-live', { owner: 'a', leaseExpiresAt: t0 + 5000 }),
          workflow('own-expired', { owner: 'a', leaseExpiresAt: t0 - 1 }),
          workflow('own-parked', { owner: 'a', leaseExpiresAt: t0 + 5000, wakeAt: t0 + 1 }),
          workflow('other-live', { owner: 'b', leaseExpiresAt: t0 + 5000 }),
        ]);
        expect((await store.claim(claimBy('a'))).map((r) => r.id)).toEqual(['own-expired']);
        expect((await store.claim(claimBy('a', { includeOwn: false }))).map((r) => r.id)).toEqual([]);
        const restarted = await store.claim(claimBy('a', { includeOwn: true }));
        expect(restarted.map((r) => [r.id, r.epoch])).toEqual([
          ['own-live', 2],
          ['own-expired', 3],
        ]);
        expect(await store.get('other-live')).toMatchObject({ owner: 'b', epoch: 1 });
        expect(await store.get('own-parked')).toMatchObject({ epoch: 1 });
      });

      it('claim keeps a concurrency key within its limit across owners; children, cancels and other keys go on', async () => {
        const store = await open();
        const t1 = { concurrencyKey: 't1', concurrencyLimit: 2 };
        const t2 = { concurrencyKey: 't2', concurrencyLimit: 2 };
        await seed(store, [
          workflow('t1-held', { owner: 'b', admission: t1 }),
          unowned(workflow('t1-a', { admission: t1 })),
          unowned(workflow('t1-b', { admission: t1 })),
          unowned(workflow('t2-a', { admission: t2 })),
          unowned(workflow('t2-b', { admission: t2 })),
          unowned(workflow('t2-c', { admission: t2 })),
          unowned(workflow('t1-child', { admission: t1, parentId: 'p' })),
          unowned(workflow('t1-cancel', { admission: t1, cancelRequested: true })),
          workflow('t1-parked', { owner: 'b', wakeAt: t0 + 5_000, admission: t1 }),
          unowned(workflow('plain')),
        ]);
        // t1 holds one slot (b's live lease; a parked workflow holds none): one more; t2 two; the exempt and plain all.
        expect((await store.claim(claimBy('c'))).map((r) => r.id)).toEqual(['t1-a', 't2-a', 't2-b', 't1-child', 't1-cancel', 'plain']);
        // Another owner finds both keys full.
        expect(await store.claim(claimBy('d'))).toEqual([]);
        // A finished workflow frees its slot: the next of its key goes.
        await store.commit('t2-a', 2, { workflow: { status: WorkflowStatus.Completed, output: null } });
        expect((await store.claim(claimBy('d'))).map((r) => r.id)).toEqual(['t2-c']);
        // So does an expired lease (b crashed): at t0 + LEASE_MS every lease above has run out.
        const later = (await store.claim(claimBy('e', { now: t0 + LEASE_MS }))).map((r) => r.id);
        expect(later.filter((id) => id.startsWith('t1-') && id !== 't1-child' && id !== 't1-cancel')).toEqual(['t1-held', 't1-a']);
        expect(later.filter((id) => id.startsWith('t2-'))).toEqual(['t2-b', 't2-c']);
      });

      it('claim takes only runnable types and versions; an empty runnable list claims nothing', async () => {
        const store = await open();
        const expired = { leaseExpiresAt: t0 - 1 };
        await seed(store, [
          workflow('t-v1', expired),
          workflow('t-v2', { ...expired, version: '2.0.0' }),
          workflow('u-v1', { ...expired, type: 'other' }),
          workflow('x-v1', { ...expired, type: 'unknown' }),
        ]);
        expect(await store.claim(claimBy('c', { runnable: [] }))).toEqual([]);
        expect((await store.get('t-v1'))?.epoch).toBe(1);
        const claimed = await store.claim(claimBy('c', { runnable: [{ type: 'other', version: VERSION }, { type: TYPE, version: VERSION }] }));
        expect(claimed.map((r) => r.id)).toEqual(['t-v1', 'u-v1']);
        // The pair matters, not the type and the version each on its own.
        expect(await store.claim(claimBy('d', { runnable: [{ type: 'other', version: '2.0.0' }] }))).toEqual([]);
        expect((await store.claim(claimBy('d', { runnable: [{ type: TYPE, version: '2.0.0' }] }))).map((r) => r.id)).toEqual(['t-v2']);
      });

      it('claim takes a parked workflow only once due', async () => {
        const store = await open();
        await seed(store, [workflow('parked', { leaseExpiresAt: t0 - 1, wakeAt: t0 + 500 }), workflow('ready', { leaseExpiresAt: t0 - 1 })]);
        expect((await store.claim(claimBy('c'))).map((r) => r.id)).toEqual(['ready']);
        expect(await store.claim(claimBy('d', { now: t0 + 499 }))).toEqual([]);
        const due = await store.claim(claimBy('d', { now: t0 + 500 }));
        expect(due.map((r) => [r.id, r.owner, r.wakeAt])).toEqual([['parked', 'd', t0 + 500]]);
      });

      it('claim returns the oldest first, at most limit, and drains a larger backlog over several calls', async () => {
        const store = await open();
        const ids = Array.from({ length: 25 }, (_, i) => `w${String(i).padStart(2, '0')}`);
        await seed(store, ids.map((id) => workflow(id, { owner: 'gone', leaseExpiresAt: t0 - 1 })));
        const batches: string[][] = [];
        for (let call = 0; call < 5; call += 1) batches.push((await store.claim(claimBy('c', { limit: 10 }))).map((r) => r.id));
        expect(batches.map((b) => b.length)).toEqual([10, 10, 5, 0, 0]);
        expect(batches.flat()).toEqual(ids);
      });

      it('claimed records carry wakeAt and cancelRequested', async () => {
        const store = await open();
        await seed(store, [workflow('woke', { leaseExpiresAt: t0 - 1, wakeAt: t0 - 10 }), workflow('cancel-me', { leaseExpiresAt: t0 - 1 }), workflow('plain', { leaseExpiresAt: t0 - 1 })]);
        await store.requestCancel('cancel-me');
        const claimed = await store.claim(claimBy('c'));
        expect(claimed.map((r) => [r.id, r.wakeAt, r.cancelRequested ?? false])).toEqual([
          ['woke', t0 - 10, false],
          ['cancel-me', undefined, true],
          ['plain', undefined, false],
        ]);
      });

      it('a limit of 0 claims nothing', async () => {
        const store = await open();
        await store.create(workflow('w1', { leaseExpiresAt: t0 - 1 }));
        expect(await store.claim(claimBy('c', { limit: 0 }))).toEqual([]);
        expect((await store.get('w1'))?.epoch).toBe(1);
      });
    });

    describe('fencing', () => {
      it('after a second claim the old epoch is refused by commit, renew and release', async () => {
        const store = await open();
        await store.create(unowned(workflow('w1')));
        const [byA] = await store.claim(claimBy('a'));
        expect(byA?.epoch).toBe(2);
        // a pauses; its lease runs out; b takes over.
        const later = t0 + LEASE_MS;
        const [byB] = await store.claim(claimBy('b', { now: later }));
        expect(byB).toMatchObject({ owner: 'b', epoch: 3, leaseExpiresAt: later + LEASE_MS });

        expect(await rejectionCode(store.commit('w1', 2, { workflow: { status: WorkflowStatus.Failed } }))).toBe(ErrorCode.Conflict);
        expect(await store.renew('a', [{ id: 'w1', epoch: 2 }], later + 99_999)).toEqual({ lost: ['w1'], cancelRequested: [] });
        await store.release('a', { id: 'w1', epoch: 2 });
        // Neither the right epoch with the wrong owner nor the right owner with the wrong epoch holds it.
        expect(await store.renew('a', [{ id: 'w1', epoch: 3 }], later + 99_999)).toEqual({ lost: ['w1'], cancelRequested: [] });
        await store.release('a', { id: 'w1', epoch: 3 });
        expect(await store.get('w1')).toMatchObject({ status: 'pending', owner: 'b', epoch: 3, leaseExpiresAt: later + LEASE_MS });
        expect(await store.claim(claimBy('a', { now: later + 1 }))).toEqual([]);

        await store.commit('w1', 3, { workflow: { status: WorkflowStatus.Running } });
        expect(await store.renew('b', [{ id: 'w1', epoch: 3 }], later + 2 * LEASE_MS)).toEqual({ lost: [], cancelRequested: [] });
      });
    });

    describe('renew', () => {
      it('renew does not take back a released lease: a renewal read before the run ended reports it lost', async () => {
        const store = await open();
        await store.create(workflow('parked', { status: WorkflowStatus.Running }));
        await store.commit('parked', 1, { workflow: { wakeAt: t0 + 5 } });
        await store.release('a', { id: 'parked', epoch: 1 });
        const result = await store.renew('a', [{ id: 'parked', epoch: 1 }], t0 + LEASE_MS);
        expect(result.lost).toEqual(['parked']);
        expect((await store.get('parked'))?.leaseExpiresAt).toBe(0);
        // So it is claimable once due, by anyone (its owner too).
        expect((await store.claim(claimBy('b', { now: t0 + 5 }))).map((r) => r.id)).toEqual(['parked']);
      });

      it('renew extends the lease of runs still held and reports the others lost', async () => {
        const store = await open();
        await seed(store, [
          workflow('held'),
          workflow('held-too', { epoch: 7 }),
          workflow('stale'),
          workflow('theirs', { owner: 'b' }),
          workflow('finished', { status: WorkflowStatus.Completed }),
        ]);
        await store.claim(claimBy('a', { includeOwn: true }));
        // Every unfinished row of a's moved to epoch + 1; 'stale' is renewed below at its old epoch.
        const result = await store.renew(
          'a',
          [
            { id: 'held', epoch: 2 },
            { id: 'held-too', epoch: 8 },
            { id: 'stale', epoch: 1 },
            { id: 'theirs', epoch: 1 },
            { id: 'finished', epoch: 1 },
            { id: 'unknown', epoch: 1 },
          ],
          t0 + 77_777,
        );
        expect(result.lost).toEqual(['stale', 'theirs', 'finished', 'unknown']);
        expect(result.cancelRequested).toEqual([]);
        expect((await store.get('held'))?.leaseExpiresAt).toBe(t0 + 77_777);
        expect((await store.get('held-too'))?.leaseExpiresAt).toBe(t0 + 77_777);
        expect((await store.get('stale'))?.leaseExpiresAt).toBe(t0 + LEASE_MS);
        expect((await store.get('theirs'))?.leaseExpiresAt).toBe(t0 + LEASE_MS);
        expect((await store.get('finished'))?.leaseExpiresAt).toBe(t0 + LEASE_MS);
        expect(await store.get('unknown')).toBeUndefined();
      });

      it('renew reports the cancel requests of renewed runs only', async () => {
        const store = await open();
        await seed(store, [workflow('asked'), workflow('quiet'), workflow('asked-lost', { owner: 'b' })]);
        await store.requestCancel('asked');
        await store.requestCancel('asked-lost');
        const held = [
          { id: 'asked', epoch: 1 },
          { id: 'quiet', epoch: 1 },
          { id: 'asked-lost', epoch: 1 },
        ];
        expect(await store.renew('a', held, t0 + 20_000)).toEqual({ lost: ['asked-lost'], cancelRequested: ['asked'] });
        // The request stays until the run acts on it: every renewal reports it again.
        expect(await store.renew('a', held, t0 + 30_000)).toEqual({ lost: ['asked-lost'], cancelRequested: ['asked'] });
        expect((await store.get('asked'))?.leaseExpiresAt).toBe(t0 + 30_000);
      });

      it('renew with nothing held answers empty lists', async () => {
        const store = await open();
        await store.create(workflow('w1'));
        expect(await store.renew('a', [], t0 + 1)).toEqual({ lost: [], cancelRequested: [] });
        expect((await store.get('w1'))?.leaseExpiresAt).toBe(t0 + LEASE_MS);
      });
    });

    describe('release', () => {
      it('release expires the lease now and keeps the owner, so any instance may claim it', async () => {
        const store = await open();
        await store.create(workflow('w1'));
        expect(await store.claim(claimBy('b'))).toEqual([]);
        await store.release('a', { id: 'w1', epoch: 1 });
        const released = (await store.get('w1'))!;
        expect(released).toMatchObject({ owner: 'a', epoch: 1 });
        expect(released.leaseExpiresAt).toBeLessThanOrEqual(t0);
        const [claimed] = await store.claim(claimBy('b'));
        expect(claimed).toMatchObject({ id: 'w1', owner: 'b', epoch: 2 });
      });

      it('release changes nothing for a stale epoch, another owner, a finished or an unknown workflow', async () => {
        const store = await open();
        await seed(store, [workflow('theirs', { owner: 'b' }), workflow('newer', { epoch: 3 }), workflow('finished', { status: WorkflowStatus.Compensated })]);
        await store.release('a', { id: 'theirs', epoch: 1 });
        await store.release('a', { id: 'newer', epoch: 2 });
        await store.release('a', { id: 'finished', epoch: 1 });
        await store.release('a', { id: 'unknown', epoch: 1 });
        for (const id of ['theirs', 'newer', 'finished']) expect((await store.get(id))?.leaseExpiresAt).toBe(t0 + LEASE_MS);
        expect(await store.claim(claimBy('c'))).toEqual([]);
      });
    });

    describe('requestCancel', () => {
      it('requestCancel flags an unfinished workflow and clears its wakeAt, so a parked one is claimable at once', async () => {
        const store = await open();
        await store.create(workflow('parked', { leaseExpiresAt: t0 - 1, wakeAt: t0 + 3_600_000, epoch: 4 }));
        expect(await store.claim(claimBy('c'))).toEqual([]);
        const after = await store.requestCancel('parked');
        expect(after).toMatchObject({ id: 'parked', cancelRequested: true, epoch: 4, owner: 'a', status: 'pending' });
        expect(after?.wakeAt).toBeUndefined();
        expect(await store.get('parked')).toEqual(after);
        const [claimed] = await store.claim(claimBy('c'));
        expect(claimed).toMatchObject({ id: 'parked', cancelRequested: true, epoch: 5 });
        expect(claimed?.wakeAt).toBeUndefined();
        // Asking twice is harmless.
        expect(await store.requestCancel('parked')).toMatchObject({ cancelRequested: true, epoch: 5 });
      });

      it('requestCancel leaves a finished workflow unchanged and answers undefined for an unknown one', async () => {
        const store = await open();
        await store.create(workflow('done', { status: WorkflowStatus.Completed, output: 'ok', wakeAt: t0 + 10 }));
        const before = await store.get('done');
        const after = await store.requestCancel('done');
        expect(after).toEqual(before);
        expect(after?.cancelRequested ?? false).toBe(false);
        expect(await store.get('done')).toEqual(before);
        expect(await store.requestCancel('unknown')).toBeUndefined();
      });
    });

    describe('nextWakeAt', () => {
      it('nextWakeAt answers the earliest wakeAt of unfinished workflows of runnable types', async () => {
        const store = await open();
        await seed(store, [
          workflow('late', { wakeAt: t0 + 300 }),
          workflow('other-type', { type: 'other', wakeAt: t0 + 100 }),
          workflow('soon', { wakeAt: t0 + 200 }),
          workflow('finished', { status: WorkflowStatus.TimedOut, wakeAt: t0 + 50 }),
          workflow('awake'),
        ]);
        const both: RunnableType[] = [...RUNNABLE, { type: 'other', version: VERSION }];
        expect(await store.nextWakeAt(RUNNABLE)).toBe(t0 + 200);
        expect(await store.nextWakeAt(both)).toBe(t0 + 100);
        expect(await store.nextWakeAt([])).toBeUndefined();
        expect(await store.nextWakeAt([{ type: TYPE, version: '9.9.9' }])).toBeUndefined();
        await store.commit('soon', 1, { workflow: { wakeAt: null } });
        expect(await store.nextWakeAt(RUNNABLE)).toBe(t0 + 300);
        await store.commit('late', 1, { workflow: { status: WorkflowStatus.Failed } });
        expect(await store.nextWakeAt(RUNNABLE)).toBeUndefined();
        await store.requestCancel('other-type');
        expect(await store.nextWakeAt(both)).toBeUndefined();
        await store.commit('awake', 1, { workflow: { wakeAt: t0 + 1000 } });
        expect(await store.nextWakeAt(both)).toBe(t0 + 1000);
      });
    });

    describe('signals', () => {
      const signal = (signalId: string, sentAt: number, payload: unknown = { n: signalId }) => ({ signalId, name: 'shipped', payload, sentAt });

      it('sendSignal numbers signals in arrival order, bumps signalSeq, and dedups by signal id', async () => {
        const store = await open();
        await store.create(workflow('w1', { status: WorkflowStatus.Running }));
        expect(await store.sendSignal('w1', signal('a', t0 + 1))).toEqual({ status: 'accepted', seq: 1, woke: false });
        expect(await store.sendSignal('w1', signal('b', t0 + 2, [1, { deep: true }]))).toEqual({ status: 'accepted', seq: 2, woke: false });
        expect(await store.sendSignal('w1', signal('a', t0 + 3))).toEqual({ status: 'duplicate' });
        expect((await store.get('w1'))?.signalSeq).toBe(2);
        expect(await store.signals('w1', 0)).toEqual([
          { signalId: 'a', name: 'shipped', payload: { n: 'a' }, sentAt: t0 + 1, seq: 1 },
          { signalId: 'b', name: 'shipped', payload: [1, { deep: true }], sentAt: t0 + 2, seq: 2 },
        ]);
        expect((await store.signals('w1', 1)).map((s) => s.signalId)).toEqual(['b']);
        expect(await store.signals('w1', 2)).toEqual([]);
        expect(await store.signals('unknown', 0)).toEqual([]);
        // The same id on another workflow is another signal.
        await store.create(workflow('w2', { status: WorkflowStatus.Running }));
        expect(await store.sendSignal('w2', signal('a', t0 + 4))).toEqual({ status: 'accepted', seq: 1, woke: false });
      });

      it('sendSignal makes a parked running workflow due at once, but not a delayed start', async () => {
        const store = await open();
        await store.create(unowned(workflow('asleep', { status: WorkflowStatus.Running, wakeAt: t0 + 3_600_000 })));
        await store.create(unowned(workflow('later', { status: WorkflowStatus.Pending, wakeAt: t0 + 3_600_000 })));
        expect(await store.sendSignal('asleep', signal('s', t0 + 5))).toEqual({ status: 'accepted', seq: 1, woke: true });
        expect(await store.sendSignal('later', signal('s', t0 + 5))).toEqual({ status: 'accepted', seq: 1, woke: false });
        expect((await store.get('asleep'))?.wakeAt).toBe(t0 + 5);
        expect((await store.get('later'))?.wakeAt).toBe(t0 + 3_600_000);
        expect((await store.claim(claimBy('c', { now: t0 + 5 }))).map((r) => r.id)).toEqual(['asleep']);
      });

      it('sendSignal answers finished, not_found, and duplicate for a known id once finished', async () => {
        const store = await open();
        await store.create(workflow('w1', { status: WorkflowStatus.Running }));
        await store.sendSignal('w1', signal('a', t0));
        await store.commit('w1', 1, { workflow: { status: WorkflowStatus.Completed, output: 1 } });
        expect(await store.sendSignal('w1', signal('a', t0 + 1))).toEqual({ status: 'duplicate' });
        expect(await store.sendSignal('w1', signal('b', t0 + 1))).toEqual({ status: 'finished' });
        expect(await store.sendSignal('missing', signal('a', t0))).toEqual({ status: 'not_found' });
        expect((await store.signals('w1', 0)).map((s) => s.signalId)).toEqual(['a']);
      });

      it('a parking commit whose seenSignalSeq is behind the stored signalSeq parks the workflow due at once', async () => {
        const store = await open();
        await store.create(workflow('w1', { status: WorkflowStatus.Running }));
        await store.commit('w1', 1, { workflow: { updatedAt: t0 + 10, wakeAt: t0 + 3_600_000, seenSignalSeq: 0 } });
        expect((await store.get('w1'))?.wakeAt).toBe(t0 + 3_600_000);
        await store.commit('w1', 1, { workflow: { wakeAt: null } });
        await store.sendSignal('w1', signal('a', t0 + 20));
        await store.commit('w1', 1, { workflow: { updatedAt: t0 + 30, wakeAt: t0 + 3_600_000, seenSignalSeq: 0 } });
        expect((await store.get('w1'))?.wakeAt).toBe(t0 + 30);
        await store.commit('w1', 1, { workflow: { updatedAt: t0 + 40, wakeAt: t0 + 3_600_000, seenSignalSeq: 1 } });
        expect((await store.get('w1'))?.wakeAt).toBe(t0 + 3_600_000);
      });

      it('renew reports the signalSeq of held runs that have signals', async () => {
        const store = await open();
        await seed(store, [workflow('quiet', { status: WorkflowStatus.Running }), workflow('told', { status: WorkflowStatus.Running })]);
        await store.sendSignal('told', signal('a', t0));
        await store.sendSignal('told', signal('b', t0));
        const renewed = await store.renew('a', [{ id: 'quiet', epoch: 1 }, { id: 'told', epoch: 1 }], t0 + LEASE_MS);
        expect(renewed.lost).toEqual([]);
        expect(renewed.signals).toEqual({ told: 2 });
      });
    });
  });
}
