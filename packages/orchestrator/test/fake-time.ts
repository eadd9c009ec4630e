// Shared by the fake-clock tests of the engine (signals, schedules, admission): the fake clock and the orchestrators
// of each test, torn down after it, and the two ways such a test moves on — waiting in real time for I/O while fake
// time barely moves, and advancing fake time in steps that let each step's I/O finish.
import { installFakeClock, type FakeClock } from '@onex/testing';
import pg from 'pg';
import { afterEach } from 'vitest';
import type { Orchestrator } from '../src/index.js';

// Real timers, captured before any fake clock is installed: a test's own waits for I/O.
const realSetTimeout = globalThis.setTimeout;
/** Waits `ms` of real time (fake time stands still). */
export const pause = (ms: number): Promise<void> => new Promise((resolve) => realSetTimeout(resolve, ms));

const pools: pg.Pool[] = [];

/**
 * A node-postgres pool for a PostgreSQL store under a fake clock: it arms no timer of its own. The pool a store
 * makes from a connection string reaps idle connections after 10 s and gives a connect 10 s; under a fake clock
 * those are fake timers, so a jump of fake time closes the idle connections and then fails the next real connect
 * in flight ("PostgreSQL unavailable") — a failure no real clock would cause, which leaves the engine waiting on a
 * retry timer that a stopped fake clock never fires. Ended by {@link endFakeClockPools} (and after each test of
 * {@link fakeTime}), once the stores on it are closed.
 */
export function fakeClockPool(url: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, idleTimeoutMillis: 0, connectionTimeoutMillis: 0 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

/** Ends the pools {@link fakeClockPool} made (waiting at most 5 s of real time for each). */
export async function endFakeClockPools(): Promise<void> {
  await Promise.all(pools.splice(0).map((pool) => Promise.race([pool.end().catch(() => undefined), pause(5_000)])));
}

/** Options of {@link fakeTime}. */
export interface FakeTimeOptions {
  /** Fake time each real-time look of `until` moves on at first (0: only timers due now run, always). */
  readonly tickMs: number;
  /** The step `advance` moves fake time by, letting the I/O of each step finish. */
  readonly stepMs: number;
  /** How long `until` waits in real time before it fails. Default 60 s (a busy machine; tests get 90 s). */
  readonly untilMs?: number;
}

/** The fake clock and orchestrators of the current test: {@link fakeTime}. */
export interface FakeTime {
  /** Installs the fake clock for this test (uninstalled after it). */
  install(now: number, loopLimit?: number): FakeClock;
  /** The current test's clock. */
  readonly clock: FakeClock;
  /** Shuts `orchestrator` down after the test. */
  track<T extends Orchestrator>(orchestrator: T): T;
  /** Shuts `orchestrator` down now (it is not shut down again after the test). */
  stop(orchestrator: Orchestrator): Promise<void>;
  /** Waits in real time until `condition` holds, running the timers `tickMs` brings due at each look. */
  until(condition: () => boolean | Promise<boolean>, what: string): Promise<void>;
  /** Moves fake time forward by `ms`, in steps of `stepMs`, with a real pause after each. */
  advance(ms: number): Promise<void>;
}

/** Registers the teardown (an `afterEach`) and answers the helpers of a fake-clock test file. */
export function fakeTime(options: FakeTimeOptions): FakeTime {
  let clock: FakeClock | undefined;
  const open: Orchestrator[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.shutdown().catch(() => undefined);
    clock?.uninstall();
    clock = undefined;
    await endFakeClockPools();
  });
  const current = (): FakeClock => {
    if (clock === undefined) throw new Error('no fake clock installed in this test');
    return clock;
  };
  return {
    install(now, loopLimit = 100_000) {
      clock = installFakeClock({ now, loopLimit });
      return clock;
    },
    get clock() {
      return current();
    },
    track(orchestrator) {
      open.push(orchestrator);
      return orchestrator;
    },
    async stop(orchestrator) {
      const at = open.indexOf(orchestrator);
      if (at !== -1) open.splice(at, 1);
      await orchestrator.shutdown();
    },
    async until(condition, what) {
      const deadline = performance.now() + (options.untilMs ?? 60_000);
      // The engine backs off when it looks too early (a past-due wake-up whose lease is not released yet doubles its
      // delay, up to a quarter of a lease): on a slow machine such a delay outgrows a fixed small tick, so a long wait
      // doubles its tick every 50 looks, up to 10 s of fake time per look.
      let tick = options.tickMs;
      for (let looks = 1; !(await condition()); looks += 1) {
        if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await pause(2);
        await clock?.advance(tick);
        if (tick > 0 && looks % 50 === 0) tick = Math.min(tick * 2, 10_000);
      }
    },
    async advance(ms) {
      for (let left = ms; left > 0; left -= options.stepMs) {
        await current().advance(Math.min(options.stepMs, left));
        await pause(3);
      }
    },
  };
}
