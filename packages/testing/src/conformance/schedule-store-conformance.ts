import { MAX_SCHEDULES, type ScheduleRecord, type ScheduleStore } from '@onex/orchestrator';
import { afterEach, describe, expect, it } from 'vitest';

// Self-contained on purpose (vitest and the store contract only), so that anyone writing a ScheduleStore runs the
// same clauses the bundled stores pass.

/**
 * Options of {@link scheduleStoreConformance}.
 *
 * @example
 * ```ts
 * import { MemoryWorkflowStore } from '@onex/orchestrator';
 * import type { ScheduleStoreConformanceOptions } from '@onex/testing/conformance';
 * const options: ScheduleStoreConformanceOptions = {
 *   name: 'MemoryWorkflowStore',
 *   create: async () => {
 *     const store = new MemoryWorkflowStore();
 *     await store.init();
 *     return { store, close: () => store.close() };
 *   },
 * };
 * ```
 */
export interface ScheduleStoreConformanceOptions {
  /** Names the suite: `<name>: ScheduleStore conformance`. */
  readonly name: string;
  /** Called once per test: answers a new, empty, ready store, and how to close it. */
  readonly create: () => Promise<{ readonly store: ScheduleStore; readonly close: () => Promise<void> }>;
}

/**
 * Registers the ScheduleStore conformance suite (vitest `describe`/`it`): reads, creates that refuse a taken id,
 * writes fenced by revision, deletes, and listing by id. Call it at the top level of a vitest test file.
 *
 * @example
 * ```ts compile-only
 * import { MemoryWorkflowStore } from '@onex/orchestrator';
 * import { scheduleStoreConformance } from '@onex/testing/conformance';
 * scheduleStoreConformance({
 *   name: 'MemoryWorkflowStore',
 *   create: async () => {
 *     const store = new MemoryWorkflowStore();
 *     await store.init();
 *     return { store, close: () => store.close() };
 *   },
 * });
 * ```
 */
export function scheduleStoreConformance(options: ScheduleStoreConformanceOptions): void {
  describe(`${options.name}: ScheduleStore conformance`, () => {
    const opened: (() => Promise<void>)[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((close) => close()));
    });
    async function open(): Promise<ScheduleStore> {
      const { store, close } = await options.create();
      opened.push(close);
      return store;
    }
    const record = (id: string, extra: Partial<ScheduleRecord> = {}): ScheduleRecord => ({
      id,
      cron: '*/5 * * * *',
      timezone: 'Europe/Stockholm',
      workflow: 'reconcile',
      input: { deep: [1, { two: 'x' }] },
      overlap: 'skip',
      catchUp: 'latest',
      paused: false,
      createdAt: 1_000,
      updatedAt: 1_000,
      lastTickAt: 1_000,
      revision: 1,
      ...extra,
    });

    it('putSchedule with null creates once; getSchedule answers the whole record; an unknown id is undefined', async () => {
      const store = await open();
      expect(MAX_SCHEDULES).toBeGreaterThan(0);
      expect(await store.putSchedule(record('a'), null)).toBe(true);
      expect(await store.getSchedule('a')).toEqual(record('a'));
      expect(await store.putSchedule(record('a', { cron: '* * * * *' }), null)).toBe(false);
      expect((await store.getSchedule('a'))?.cron).toBe('*/5 * * * *');
      expect(await store.getSchedule('missing')).toBeUndefined();
    });

    it('a write carrying the stored revision wins once; a stale one changes nothing', async () => {
      const store = await open();
      await store.putSchedule(record('a'), null);
      const next = record('a', { lastTickAt: 2_000, lastWorkflowId: 'w-1', bufferedTickAt: 3_000, revision: 2 });
      expect(await store.putSchedule(next, 1)).toBe(true);
      expect(await store.putSchedule(record('a', { lastTickAt: 9_000, revision: 2 }), 1)).toBe(false);
      expect(await store.getSchedule('a')).toEqual(next);
      expect(await store.putSchedule(record('missing', { revision: 2 }), 1)).toBe(false);
      expect(await store.getSchedule('missing')).toBeUndefined();
    });

    it('lists every schedule by id and deletes one (false when there was none)', async () => {
      const store = await open();
      for (const id of ['c', 'a', 'b']) await store.putSchedule(record(id), null);
      expect((await store.listSchedules()).map((s) => s.id)).toEqual(['a', 'b', 'c']);
      expect(await store.deleteSchedule('b')).toBe(true);
      expect(await store.deleteSchedule('b')).toBe(false);
      expect((await store.listSchedules()).map((s) => s.id)).toEqual(['a', 'c']);
      expect(await store.putSchedule(record('b'), null)).toBe(true);
    });
  });
}
