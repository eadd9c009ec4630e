import { Cron } from 'croner';
import { ErrorCode, OnexError, RetryPolicy, type Clock, type Logger } from '@onex/core';
import { MAX_CATCH_UP_TICKS, type ScheduleCatchUp, type ScheduleOverlap, type ScheduleRecord, type ScheduleStore } from '../store/schedule-store.js';

/** Node fires timers past 2^31-1 ms at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** How late a tick may be handled and still be on time (not missed): a minute, or one period when shorter. */
const ON_TIME_MS = 60_000;

/**
 * After a look that failed (the store did not answer, or a tick's start failed), the next look comes after this
 * backoff (full jitter under a ceiling doubling from 250 ms to 15 s, at least 100 ms, never later than the poll), not a whole poll later: a
 * transient outage at a tick's time must not delay it past its on-time minute, where `catchUp: 'none'` would drop it.
 */
const FAILED_LOOK_RETRY = { initialDelayMs: 250, maxDelayMs: 15_000 } as const;

/**
 * What `orchestrator.schedules.create` takes: a cron expression (5 fields, or 6 with seconds first) read in
 * `timezone` (IANA, default UTC), the workflow it starts with its input, and what to do with overlapping runs and
 * missed ticks.
 *
 * @example
 * ```ts
 * import type { ScheduleSpec } from '@onex/orchestrator';
 * const nightly: ScheduleSpec = {
 *   id: 'reconcile-nightly', cron: '0 2 * * *', timezone: 'Europe/Stockholm',
 *   workflow: 'reconcile', input: {}, overlap: 'skip', catchUp: 'latest',
 * };
 * ```
 */
export interface ScheduleSpec {
  /** Its id (letters, digits, `_`, `.`, `:`, `-`; up to 128). Creating an id again updates that schedule. */
  readonly id: string;
  readonly cron: string;
  /** IANA time zone the cron is read in. Default: UTC. */
  readonly timezone?: string;
  /** The workflow type to start (registered here), and its version (default: the highest registered). */
  readonly workflow: string;
  readonly version?: string;
  /** Each start's input, checked against the workflow's input schema when the schedule is created. */
  readonly input: unknown;
  /** Default `skip`. */
  readonly overlap?: ScheduleOverlap;
  /** Default `none`. */
  readonly catchUp?: ScheduleCatchUp;
}

/**
 * A schedule as the orchestrator answers it: its stored record, and when its next tick is (epoch ms; absent when
 * paused or when the cron has no more times).
 */
export type Schedule = ScheduleRecord & { readonly nextTickAt?: number };

/** What the scheduler needs from its orchestrator. */
export interface SchedulerOptions {
  readonly store: ScheduleStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Starts a tick's workflow (idempotently: the key is the tick's) and answers its id. */
  readonly start: (schedule: ScheduleRecord, tickAt: number) => Promise<string>;
  /** True when the workflow is finished (or unknown). */
  readonly finished: (id: string) => Promise<boolean>;
  /** True when this instance may start the schedule's workflow (its type is registered here). */
  readonly runs: (schedule: ScheduleRecord) => boolean;
  /** How often it looks for schedules other instances created, ms. */
  readonly pollMs: number;
}

/** The cron of a schedule, compiled once per pattern and zone. */
const COMPILED = new Map<string, Cron>();
const MAX_COMPILED = 10_000;

/**
 * The compiled cron of a schedule.
 *
 * @throws OnexError `VALIDATION` for a pattern or time zone croner refuses.
 */
export function compileCron(cron: string, timezone: string | undefined): Cron {
  const key = `${timezone ?? ''}\u0000${cron}`;
  let compiled = COMPILED.get(key);
  if (compiled !== undefined) return compiled;
  try {
    compiled = new Cron(cron, { timezone: timezone ?? 'UTC', paused: true });
    // A zone is only read when a time is computed: compute one now, so a bad zone fails the create.
    compiled.nextRun(new Date(0));
  } catch (error) {
    throw new OnexError(ErrorCode.Validation, `Invalid schedule: ${error instanceof Error ? error.message : String(error)}`, {
      context: { cron, ...(timezone === undefined ? {} : { timezone }) },
    });
  }
  if (COMPILED.size >= MAX_COMPILED) COMPILED.delete(COMPILED.keys().next().value!);
  COMPILED.set(key, compiled);
  return compiled;
}

/** The cron's first time after `after`, epoch ms, or undefined when it has none. */
export function nextTick(cron: Cron, after: number): number | undefined {
  return cron.nextRun(new Date(after))?.getTime();
}

/**
 * The ticks due at `now` that a schedule starts (or skips, or buffers), oldest first, and the last tick handled:
 * every time of the cron after `lastTickAt` up to `now`, filtered by `catchUp` — a tick less than a minute late (or
 * one period, when shorter) is on time and always counts; `none` drops the missed ones, `latest` keeps the most recent, `all` keeps every one
 * (at most {@link MAX_CATCH_UP_TICKS}; the rest at the next look).
 */
export function dueTicks(cron: Cron, lastTickAt: number, catchUp: ScheduleCatchUp, now: number): { readonly ticks: readonly number[]; readonly handledUpTo: number } {
  const first = nextTick(cron, lastTickAt);
  if (first === undefined || first > now) return { ticks: [], handledUpTo: lastTickAt };
  if (catchUp === 'all') {
    const ticks: number[] = [];
    for (let t: number | undefined = first; t !== undefined && t <= now && ticks.length < MAX_CATCH_UP_TICKS; t = nextTick(cron, t)) ticks.push(t);
    return { ticks, handledUpTo: ticks[ticks.length - 1]! };
  }
  // The most recent time at or before now: croner's previous runs are before the reference, so one ms past now.
  const latest = cron.previousRuns(1, new Date(now + 1))[0]?.getTime() ?? first;
  const after = nextTick(cron, latest);
  const onTime = now - latest < Math.min(ON_TIME_MS, (after ?? Number.POSITIVE_INFINITY) - latest);
  if (catchUp === 'latest' || onTime) return { ticks: [latest], handledUpTo: latest };
  return { ticks: [], handledUpTo: latest };
}

/** The idempotency key of a tick's start: one start per tick, however many instances handle it. */
export function tickKey(scheduleId: string, tickAt: number): string {
  return `schedule:${scheduleId}:${new Date(tickAt).toISOString()}`;
}

/**
 * Runs the schedules of a store on one instance: one timer, armed for the earliest next tick of every schedule (and
 * at least every `pollMs`, to see schedules created elsewhere). Any number of instances may run it on one store:
 * each tick's workflow is started under the tick's idempotency key, and a schedule's progress is written with the
 * revision it was read at, so each tick starts once.
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #running: Promise<void> | undefined;
  #again = false;
  #immediate = false;
  #open = false;
  /** Looks in a row that failed (whole or for some schedule): the backoff of the next. */
  #failedLooks = 0;
  readonly #retry: RetryPolicy;
  /** Passes run, ticks started, skipped (overlap or catch-up) and buffered: for stats and tests. */
  readonly figures = { passes: 0, started: 0, skipped: 0, buffered: 0, failures: 0 };

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#retry = new RetryPolicy({ ...FAILED_LOOK_RETRY, maxDelayMs: Math.min(FAILED_LOOK_RETRY.maxDelayMs, options.pollMs) });
  }

  open(): void {
    this.#open = true;
    this.poke();
  }

  /** Stops the timer and waits for a pass in progress. */
  async close(): Promise<void> {
    this.#open = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Looks at the schedules now (a schedule was created, resumed or changed). */
  poke(): void {
    this.#arm(0);
  }

  #arm(delayMs: number): void {
    if (!this.#open) return;
    if (delayMs <= 0) {
      // Due now (a change, or time passed during the last look): at once, not on a timer.
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      if (!this.#immediate) {
        this.#immediate = true;
        setImmediate(() => {
          this.#immediate = false;
          if (this.#open) this.#pass();
        });
      }
      return;
    }
    const at = this.#options.clock.now() + delayMs;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#pass();
    }, Math.min(delayMs, MAX_TIMER_MS));
    this.#timer.unref();
  }

  #pass(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    const failuresBefore = this.figures.failures;
    this.#running = this.#look()
      .catch((error: unknown) => {
        this.figures.failures += 1;
        this.#options.logger.warn({ err: error }, 'schedules could not be read: looking again soon');
        return Number.POSITIVE_INFINITY;
      })
      .then((lookDelay) => {
        this.#running = undefined;
        let delay = lookDelay;
        if (this.figures.failures === failuresBefore) this.#failedLooks = 0;
        else {
          this.#failedLooks += 1;
          // Full jitter spreads the instances of one database apart; at least 100 ms (a poll, when shorter) between looks.
          const backoff = Math.max(this.#retry.delayFor(Math.min(this.#failedLooks, 32)), Math.min(100, this.#options.pollMs));
          delay = Math.min(delay, backoff);
        }
        if (this.#again) {
          this.#again = false;
          this.#arm(0);
        } else this.#arm(delay);
      });
  }

  /** One look at every schedule; answers the delay until the next. */
  async #look(): Promise<number> {
    this.figures.passes += 1;
    const { store, clock, pollMs } = this.#options;
    let next = clock.now() + pollMs;
    for (const schedule of await store.listSchedules()) {
      if (!this.#open) break;
      if (schedule.paused || !this.#options.runs(schedule)) continue;
      let due: number | undefined;
      try {
        due = await this.#advance(schedule);
      } catch (error) {
        this.figures.failures += 1;
        this.#options.logger.warn({ err: error, schedule: schedule.id }, 'schedule tick failed: trying again soon');
        // The next look comes after the failed-look backoff (see #pass), sooner than this poll.
        due = clock.now() + pollMs;
      }
      if (due !== undefined && due < next) next = due;
    }
    return Math.max(0, next - clock.now());
  }

  /** Handles a schedule's due ticks; answers when it is next due (a tick, or a look at its buffered tick). */
  async #advance(schedule: ScheduleRecord): Promise<number | undefined> {
    const { clock, pollMs } = this.#options;
    const cron = compileCron(schedule.cron, schedule.timezone);
    const now = clock.now();
    let record = schedule;
    let changed = false;
    if (record.bufferedTickAt !== undefined && (record.lastWorkflowId === undefined || (await this.#options.finished(record.lastWorkflowId)))) {
      const id = await this.#options.start(record, record.bufferedTickAt);
      this.figures.started += 1;
      const { bufferedTickAt: _started, ...rest } = record;
      record = { ...rest, lastWorkflowId: id };
      changed = true;
    }
    const { ticks, handledUpTo } = dueTicks(cron, record.lastTickAt, record.catchUp, now);
    if (handledUpTo !== record.lastTickAt) changed = true;
    const missed = ticks.length === 0 && handledUpTo !== record.lastTickAt;
    if (missed) this.figures.skipped += 1;
    for (const tick of ticks) record = await this.#tick(record, tick);
    if (changed || ticks.length > 0) {
      const written = { ...record, lastTickAt: handledUpTo, updatedAt: now, revision: schedule.revision + 1 };
      // Another instance wrote it first: it handled these ticks (the starts here were the same, by their keys).
      await this.#options.store.putSchedule(written, schedule.revision);
      record = written;
    }
    const upcoming = nextTick(cron, record.lastTickAt);
    if (record.bufferedTickAt !== undefined) return Math.min(upcoming ?? Number.POSITIVE_INFINITY, now + Math.min(pollMs, 1_000));
    return upcoming;
  }

  /** One tick, by the overlap policy. */
  async #tick(record: ScheduleRecord, tick: number): Promise<ScheduleRecord> {
    if (record.overlap !== 'allow' && record.lastWorkflowId !== undefined && !(await this.#options.finished(record.lastWorkflowId))) {
      if (record.overlap === 'buffer-one' && record.bufferedTickAt === undefined) {
        this.figures.buffered += 1;
        return { ...record, bufferedTickAt: tick };
      }
      this.figures.skipped += 1;
      return record;
    }
    const id = await this.#options.start(record, tick);
    this.figures.started += 1;
    return { ...record, lastWorkflowId: id };
  }
}
