/**
 * Counters of one operation of an effect node, in `node.stats().operations` (and `metrics().extra.operations`).
 *
 * @example
 * ```ts
 * const charge: OperationStats | undefined = node.stats().operations['charge']; // { calls, successes, failures, retries, … }
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
 * An effect node's statistics, from `node.stats()` (also in `metrics().extra`): counters per operation and the
 * idempotency keys in flight.
 *
 * @example
 * ```ts
 * const { operations, idempotency }: EffectStats = node.stats();
 * operations['charge']?.retries; // attempts after the first
 * idempotency.keysInFlight; // keyed runs not settled yet
 * ```
 */
export interface EffectStats {
  /** Counters of each operation, by name. */
  readonly operations: Readonly<Record<string, OperationStats>>;
  readonly idempotency: {
    /** Keyed runs that have not settled yet. */
    readonly keysInFlight: number;
    /** Operations whose completion commits with their transaction (see `NodeEffect.exactlyOnceOperations`). */
    readonly exactlyOnce: readonly string[];
  };
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
