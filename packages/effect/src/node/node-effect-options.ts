import type { CircuitBreakerRegistry, EmptyConfig, NodeServiceOptions, Schema } from '@onex/core';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import type { TransactionManager } from '../transaction/transaction-manager.js';

/**
 * Options of a {@link NodeEffect}: what the node runs with, beside its definition — core's node options plus where
 * idempotency records and transactions live.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import type { NodeEffectOptions } from '@onex/effect';
 * import { SqliteIdempotencyStore, SqliteTransactionManager } from '@onex/effect/sqlite';
 * const transactions = new SqliteTransactionManager({ database: new Database(':memory:') });
 * const options: NodeEffectOptions = { idempotencyStore: new SqliteIdempotencyStore({ transactions }), transactions };
 * ```
 */
export interface NodeEffectOptions<TConfig extends Schema = EmptyConfig> extends NodeServiceOptions<TConfig> {
  /**
   * Where idempotency keys and their outcomes are kept. Default: a {@link MemoryIdempotencyStore} the node owns
   * (closed at shutdown). A store passed in is not closed by the node.
   */
  readonly idempotencyStore?: IdempotencyStore;
  /** Runs transactional operations. Required when an operation is `transactional`. Not closed by the node. */
  readonly transactions?: TransactionManager<unknown>;
  /** Registry the per-operation breakers come from (share one to see every breaker). Default: the node's own. */
  readonly breakers?: CircuitBreakerRegistry;
  /** How often expired idempotency records are purged, ms (also once at initialize). 0 disables. Default 1 h. */
  readonly purgeIntervalMs?: number;
}

/** Default of {@link NodeEffectOptions.purgeIntervalMs}: one hour. */
export const DEFAULT_PURGE_INTERVAL_MS = 60 * 60 * 1000;
