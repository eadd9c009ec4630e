import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { OnexError } from '@onex/core';

/** Rows one purge batch deletes at most; between batches a run yields to the event loop. */
export const PURGE_BATCH = 500;

/** How long after `start()` the first background run comes (or the interval, when shorter). */
const FIRST_RUN_DELAY_MS = 1000;

/** What a store's retention purge reports in `health()` data, under `purge`. */
export interface PurgeFigures {
  runs: number;
  deleted: number;
  failures: number;
  lastError?: string;
}

/** How a store deletes its finished workflows, and how often. */
export interface RetentionPurgeOptions {
  /** Finished workflows last updated longer ago than this are deleted; 0 keeps them forever (nothing runs). */
  readonly retentionMs: number;
  /** How often the background run comes, ms; 0 runs none (a caller may still call `run()`). */
  readonly intervalMs: number;
  /** Deletes at most `limit` finished workflows (and their steps) last updated before `cutoff`; answers how many. */
  readonly deleteBatch: (cutoff: number, limit: number) => Promise<number> | number;
  /** The error a failed background run reports, made from whatever the batch threw. */
  readonly toError: (error: unknown) => OnexError;
  /** Told when a background run fails; a throwing callback stops nothing. */
  readonly onError?: ((error: OnexError) => void) | undefined;
}

/**
 * The retention purge the durable workflow stores share: a run deletes in batches of {@link PURGE_BATCH} until a
 * batch comes back short, yielding to the event loop between batches; a run asked for while one is in flight joins
 * it; the background timer (unref'd) never rejects, reports a failure to `onError`, counts it, and comes again
 * after the interval whatever happened. Internal to the package.
 */
export class RetentionPurge {
  readonly #options: RetentionPurgeOptions;
  readonly #figures: PurgeFigures = { runs: 0, deleted: 0, failures: 0 };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(options: RetentionPurgeOptions) {
    this.#options = options;
  }

  /** Schedules the first background run (none when retention or the interval is 0). */
  start(): void {
    this.#schedule(Math.min(FIRST_RUN_DELAY_MS, this.#options.intervalMs));
  }

  /** Deletes now; joins a run in flight. Resolves with the number deleted (0 when retention is 0). */
  run(): Promise<number> {
    if (this.#options.retentionMs <= 0) return Promise.resolve(0);
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** A copy of the figures, for `health()`. */
  figures(): PurgeFigures {
    return { ...this.#figures };
  }

  /**
   * Stops the timer at once; a run in flight stops before its next batch. Resolves when that run has ended (never
   * rejects), so the store may then close its connection.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  async #run(): Promise<number> {
    const { retentionMs, deleteBatch } = this.#options;
    const cutoff = Date.now() - retentionMs;
    let deleted = 0;
    try {
      while (!this.#stopped) {
        const changes = await deleteBatch(cutoff, PURGE_BATCH);
        deleted += changes;
        if (changes < PURGE_BATCH) break;
        await yieldToEventLoop();
      }
    } catch (error) {
      this.#figures.failures += 1;
      this.#figures.lastError = error instanceof Error ? error.message : String(error);
      throw error;
    } finally {
      this.#figures.runs += 1;
      this.#figures.deleted += deleted;
    }
    return deleted;
  }

  #schedule(delayMs: number): void {
    if (this.#options.retentionMs <= 0 || this.#options.intervalMs <= 0 || this.#stopped) return;
    this.#timer = setTimeout(() => void this.#background(), delayMs);
    this.#timer.unref();
  }

  /** The timer's run: never rejects, whatever fails (a throwing timer callback would take the process down). */
  async #background(): Promise<void> {
    try {
      await this.run();
    } catch (error) {
      try {
        this.#options.onError?.(this.#options.toError(error));
      } catch {
        // A failing error callback must not stop the schedule; the failure is counted in the figures already.
      }
    } finally {
      this.#schedule(this.#options.intervalMs);
    }
  }
}
