/**
 * Counters of one operation of an effect node, as reported in `metrics().extra.operations`.
 *
 * @example
 * ```ts
 * const { operations } = node.metrics().extra as { readonly operations: Readonly<Record<string, OperationStats>> };
 * const charge: OperationStats | undefined = operations['charge']; // { calls, successes, failures, retries, … }
 * ```
 */
export interface OperationStats {
  /** Calls of the operation (each counted once, however many attempts it took). */
  readonly calls: number;
  readonly successes: number;
  readonly failures: number;
  /** Attempts after the first (retries made by the operation's retry policy). */
  readonly retries: number;
  /** Calls answered without running: replayed from the idempotency store or joined to a concurrent duplicate. */
  readonly dedupHits: number;
  /** Calls that failed with `TIMEOUT`. */
  readonly timeouts: number;
  /** Calls refused because their key was reused with another input or is being run elsewhere. */
  readonly conflicts: number;
  /** The state of the operation's breaker, or `null` when it has none. */
  readonly breaker: string | null;
}

/**
 * Mutable counters behind {@link OperationStats}.
 *
 * @internal Used by {@link NodeEffect}.
 */
export class OperationCounters {
  calls = 0;
  successes = 0;
  failures = 0;
  retries = 0;
  dedupHits = 0;
  timeouts = 0;
  conflicts = 0;

  stats(breaker: string | null): OperationStats {
    return {
      calls: this.calls,
      successes: this.successes,
      failures: this.failures,
      retries: this.retries,
      dedupHits: this.dedupHits,
      timeouts: this.timeouts,
      conflicts: this.conflicts,
      breaker,
    };
  }
}
