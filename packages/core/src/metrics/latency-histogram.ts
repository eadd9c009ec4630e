/** A snapshot of a latency distribution, in milliseconds. */
export interface LatencyStats {
  readonly count: number;
  readonly meanMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
}

// Log-scale buckets: each bucket is GROWTH times wider than the one before, from MIN_MS up to MAX_MS.
// 1 µs .. ~17 min with 5% relative error in ~430 buckets: fixed memory whatever the number of calls.
const MIN_MS = 0.001;
const MAX_MS = 1_000_000;
const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GROWTH) + 2;

function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  if (ms >= MAX_MS) return BUCKETS - 1;
  return 1 + Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH);
}

function bucketMidpoint(index: number): number {
  if (index === 0) return MIN_MS;
  // Geometric midpoint of [MIN * G^(i-1), MIN * G^i).
  return MIN_MS * GROWTH ** (index - 0.5);
}

/**
 * A bounded latency histogram: log-scale buckets with ≤ 2.5% relative error on percentiles, constant memory
 * and O(1) recording, however many values are recorded.
 *
 * @example
 * ```ts
 * const h = new LatencyHistogram();
 * h.record(1.2); h.record(3.4);
 * h.stats().p50Ms; // ≈ 1.2
 * ```
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  /** Records one duration in milliseconds (negative or non-finite values are ignored). */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#counts[bucketOf(ms)]! += 1;
    this.#count += 1;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** Number of values recorded. */
  get count(): number {
    return this.#count;
  }

  /** The value below which `q` (0..1) of the recorded values fall. */
  percentile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i += 1) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#max, Math.max(this.#min, bucketMidpoint(i)));
    }
    return this.#max;
  }

  /** Adds every value of `other` into this histogram. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i += 1) this.#counts[i]! += other.#counts[i]!;
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
  }

  /** Forgets every recorded value. */
  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = 0;
  }

  /** Count, mean, min, max and the usual percentiles. */
  stats(): LatencyStats {
    const empty = this.#count === 0;
    return {
      count: this.#count,
      meanMs: empty ? 0 : this.#sum / this.#count,
      minMs: empty ? 0 : this.#min,
      maxMs: this.#max,
      p50Ms: this.percentile(0.5),
      p90Ms: this.percentile(0.9),
      p95Ms: this.percentile(0.95),
      p99Ms: this.percentile(0.99),
    };
  }
}
