import { BucketHistogram } from './bucket-histogram.js';

/** How a call ended, as the `outcome` label of `onex_node_calls_total` says it. */
export const CallOutcome = { Success: 'success', Failure: 'failure', Rejected: 'rejected' } as const;
/** One of the {@link CallOutcome} values. */
export type CallOutcome = (typeof CallOutcome)[keyof typeof CallOutcome];

/**
 * The Prometheus figures of one operation of a node: calls by outcome, errors by code, a duration histogram.
 * Bounded: codes come from the closed `ErrorCode` set.
 */
export class CallSeries {
  readonly duration: BucketHistogram;
  readonly errorsByCode = new Map<string, number>();
  successes = 0;
  failures = 0;
  rejected = 0;

  constructor(buckets: readonly number[]) {
    this.duration = new BucketHistogram(buckets);
  }

  succeed(durationMs: number): void {
    this.successes += 1;
    this.duration.record(durationMs);
  }

  fail(durationMs: number, code: string): void {
    this.failures += 1;
    this.duration.record(durationMs);
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
  }

  /** A call refused before it ran (lifecycle, concurrency limit): counted, not timed. */
  reject(code: string): void {
    this.rejected += 1;
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
  }
}

/**
 * The {@link CallSeries} of a node, one per operation it names, plus the unlabelled one (operation `""`, which
 * Prometheus reads as no label) for calls that name none: refused or invalid before their operation was known, a
 * name outside the set, or a node whose kind does not label its calls.
 */
export class OperationSeries {
  readonly unlabeled: CallSeries;
  readonly #buckets: readonly number[];
  #byName = new Map<string, CallSeries>();

  constructor(buckets: readonly number[]) {
    this.unlabeled = new CallSeries(buckets);
    this.#buckets = this.unlabeled.duration.bounds;
  }

  /** Sets the bounded set of operation names (the names in the kind's definition). */
  label(operations: readonly string[]): void {
    this.#byName = new Map(operations.map((name) => [name, new CallSeries(this.#buckets)]));
  }

  /** The series of `operation`, or the unlabelled one for a name outside the set. */
  of(operation: string | undefined): CallSeries {
    return operation === undefined ? this.unlabeled : (this.#byName.get(operation) ?? this.unlabeled);
  }

  /** Every series, by operation name (`""` for the unlabelled one). */
  *entries(): IterableIterator<readonly [string, CallSeries]> {
    yield ['', this.unlabeled];
    yield* this.#byName;
  }
}
