import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';

/**
 * Upper bounds, in seconds, of the duration histograms ONEX exposes to Prometheus unless told otherwise: 100 µs to
 * 30 s, so that in-process calls (µs), HTTP hops (sub-ms to ms) and slow peers (seconds) all land in a bucket of
 * their own.
 *
 * @example
 * ```ts
 * import { BucketHistogram, DEFAULT_DURATION_BUCKETS } from '@onex/core';
 * const h = new BucketHistogram([...DEFAULT_DURATION_BUCKETS, 60]);
 * ```
 */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

/**
 * What a {@link BucketHistogram} holds, as Prometheus reads a histogram: cumulative counts per upper bound.
 *
 * @example
 * ```ts
 * import { BucketHistogram, type BucketStats } from '@onex/core';
 * const stats: BucketStats = new BucketHistogram().stats();
 * ```
 */
export interface BucketStats {
  /** The upper bounds, seconds, ascending (`+Inf` is implicit: its count is {@link BucketStats.count}). */
  readonly bounds: readonly number[];
  /** Values at or below each bound (cumulative), one per bound. */
  readonly cumulative: readonly number[];
  /** Values recorded. */
  readonly count: number;
  /** Sum of the values recorded, seconds. */
  readonly sumSeconds: number;
}

/** Checks histogram upper bounds: finite, positive, strictly ascending, at least one. */
function checkBuckets(bounds: readonly number[]): void {
  const valid = bounds.length > 0 && bounds.every((b, i) => Number.isFinite(b) && b > 0 && (i === 0 || b > bounds[i - 1]!));
  if (!valid) throw new OnexError(ErrorCode.Validation, `Histogram buckets must be finite, positive and strictly ascending (got [${bounds.join(', ')}])`);
}

/**
 * A duration histogram with fixed Prometheus buckets: O(buckets) memory, a few comparisons per value, and no
 * allocation. Nodes record into these on the call path and Prometheus reads them at scrape time, so a scrape costs
 * the calls nothing (prom-client's own `observe` costs ~0.8 µs with labels, measured on Node 20).
 *
 * @example
 * ```ts
 * import { BucketHistogram } from '@onex/core';
 * const h = new BucketHistogram([0.001, 0.01, 0.1]);
 * h.record(4); // ms
 * h.stats().cumulative; // [0, 1, 1]
 * ```
 */
export class BucketHistogram {
  /** The upper bounds, seconds. */
  readonly bounds: readonly number[];
  readonly #boundsMs: Float64Array;
  /** Per bucket, not cumulative; the last one is `+Inf`. */
  readonly #counts: Float64Array;
  #count = 0;
  #sumMs = 0;

  /** @throws OnexError `VALIDATION` for bounds that are not finite, positive and strictly ascending. */
  constructor(bounds: readonly number[] = DEFAULT_DURATION_BUCKETS) {
    checkBuckets(bounds);
    this.bounds = Object.freeze([...bounds]);
    this.#boundsMs = Float64Array.from(bounds, (b) => b * 1_000);
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /** Records one duration in milliseconds (negative or non-finite values are ignored). */
  record(ms: number): void {
    if (!(ms >= 0) || ms === Number.POSITIVE_INFINITY) return;
    const bounds = this.#boundsMs;
    let i = 0;
    while (i < bounds.length && ms > bounds[i]!) i += 1;
    this.#counts[i]! += 1;
    this.#count += 1;
    this.#sumMs += ms;
  }

  /** Values recorded. */
  get count(): number {
    return this.#count;
  }

  /** The cumulative counts, total and sum, as Prometheus exposes them. */
  stats(): BucketStats {
    const cumulative: number[] = [];
    let seen = 0;
    for (let i = 0; i < this.bounds.length; i += 1) {
      seen += this.#counts[i]!;
      cumulative.push(seen);
    }
    return { bounds: this.bounds, cumulative, count: this.#count, sumSeconds: this.#sumMs / 1_000 };
  }
}
