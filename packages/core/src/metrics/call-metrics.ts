import { LatencyHistogram, type LatencyStats } from './latency-histogram.js';

/** Outcome counts and latency of a node's calls, overall and over the recent window. */
export interface CallStats {
  readonly calls: number;
  readonly successes: number;
  readonly failures: number;
  /** successes / calls, 1 when there were no calls. */
  readonly successRate: number;
  /** Calls currently running. */
  readonly inFlight: number;
  /** Failures by error code. */
  readonly failuresByCode: Readonly<Record<string, number>>;
  /** Calls refused before they ran (not ready, at the concurrency limit): not in `calls`. */
  readonly rejected: number;
  /** Refused calls by error code (`LIFECYCLE`, `OVERLOADED`). */
  readonly rejectedByCode: Readonly<Record<string, number>>;
  /** Latency of every call since start. */
  readonly latency: LatencyStats;
  /** The last one to two windows (see {@link CallMetricsOptions.windowMs}). */
  readonly recent: {
    readonly windowMs: number;
    readonly calls: number;
    readonly failures: number;
    readonly successRate: number;
    readonly latency: LatencyStats;
  };
}

/** Options for {@link CallMetrics}. */
export interface CallMetricsOptions {
  /** Length of one recent window in ms (default 60 000); "recent" covers the current and the previous one. */
  readonly windowMs?: number;
  /** Clock, injectable for tests. */
  readonly now?: () => number;
}

class Window {
  readonly histogram = new LatencyHistogram();
  calls = 0;
  failures = 0;
  reset(): void {
    this.histogram.reset();
    this.calls = 0;
    this.failures = 0;
  }
}

/**
 * Bounded call metrics: counters, failures by code and latency histograms. Memory does not grow with the number
 * of calls: the recent view rotates two fixed windows instead of keeping samples.
 *
 * @example
 * ```ts
 * const m = new CallMetrics();
 * const startedAt = m.begin();
 * m.end(startedAt); // success; m.end(startedAt, 'TIMEOUT') for a failure
 * m.stats().calls; // 1
 * ```
 */
export class CallMetrics {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #all = new LatencyHistogram();
  readonly #byCode = new Map<string, number>();
  readonly #rejectedByCode = new Map<string, number>();
  #current = new Window();
  #previous = new Window();
  #windowStart: number;
  #calls = 0;
  #failures = 0;
  #inFlight = 0;
  #rejected = 0;

  constructor(options: CallMetricsOptions = {}) {
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#windowStart = this.#now();
  }

  /** Marks a call as started and returns its start time; pass that to {@link CallMetrics.end}. */
  begin(): number {
    this.#inFlight += 1;
    return performance.now();
  }

  /**
   * Marks a call started with {@link CallMetrics.begin} as finished; `failureCode` set means it failed. Answers
   * the call's duration in ms.
   */
  end(startedAt: number, failureCode?: string): number {
    this.#inFlight -= 1;
    const durationMs = performance.now() - startedAt;
    this.record(durationMs, failureCode);
    return durationMs;
  }

  /** Counts a call refused before it ran (it never began): `code` says why. */
  reject(code: string): void {
    this.#rejected += 1;
    // Codes come from a closed set (ErrorCode), so this map stays small.
    this.#rejectedByCode.set(code, (this.#rejectedByCode.get(code) ?? 0) + 1);
  }

  /** Records one finished call of `durationMs`; `failureCode` set means it failed. */
  record(durationMs: number, failureCode?: string): void {
    this.#rotate();
    this.#calls += 1;
    this.#current.calls += 1;
    this.#all.record(durationMs);
    this.#current.histogram.record(durationMs);
    if (failureCode !== undefined) {
      this.#failures += 1;
      this.#current.failures += 1;
      // Codes come from a closed set (ErrorCode), so this map stays small.
      this.#byCode.set(failureCode, (this.#byCode.get(failureCode) ?? 0) + 1);
    }
  }

  /** Calls currently running. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** A consistent copy of every figure. */
  stats(): CallStats {
    this.#rotate();
    const recentHistogram = new LatencyHistogram();
    recentHistogram.merge(this.#previous.histogram);
    recentHistogram.merge(this.#current.histogram);
    const recentCalls = this.#previous.calls + this.#current.calls;
    const recentFailures = this.#previous.failures + this.#current.failures;
    return {
      calls: this.#calls,
      successes: this.#calls - this.#failures,
      failures: this.#failures,
      successRate: this.#calls === 0 ? 1 : (this.#calls - this.#failures) / this.#calls,
      inFlight: this.#inFlight,
      failuresByCode: Object.fromEntries(this.#byCode),
      rejected: this.#rejected,
      rejectedByCode: Object.fromEntries(this.#rejectedByCode),
      latency: this.#all.stats(),
      recent: {
        windowMs: this.#windowMs,
        calls: recentCalls,
        failures: recentFailures,
        successRate: recentCalls === 0 ? 1 : (recentCalls - recentFailures) / recentCalls,
        latency: recentHistogram.stats(),
      },
    };
  }

  #rotate(): void {
    const now = this.#now();
    const elapsed = now - this.#windowStart;
    if (elapsed < this.#windowMs) return;
    if (elapsed >= 2 * this.#windowMs) {
      this.#previous.reset();
      this.#current.reset();
    } else {
      const old = this.#previous;
      old.reset();
      this.#previous = this.#current;
      this.#current = old;
    }
    this.#windowStart = now - (elapsed % this.#windowMs);
  }
}
