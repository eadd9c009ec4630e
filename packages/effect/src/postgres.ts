/**
 * `@onex/effect/postgres`: the PostgreSQL {@link IdempotencyStore} and {@link TransactionManager} (node-postgres). A
 * subpath of its own, so an application on the memory or SQLite store never loads `pg`; install `pg` (an optional
 * peer dependency) to use it. Store and manager on one pool make transactional operations exactly-once across
 * replicas.
 *
 * @example
 * ```ts
 * import { PostgresIdempotencyStore, PostgresTransactionManager } from '@onex/effect/postgres';
 * const transactions = new PostgresTransactionManager({ connectionString: process.env.DATABASE_URL });
 * const idempotencyStore = new PostgresIdempotencyStore({ transactions });
 * ```
 *
 * @packageDocumentation
 */
import type { IdempotencyStore } from './idempotency/idempotency-store.js';
import type { TransactionManager } from './transaction/transaction-manager.js';

export {
  POSTGRES_IDEMPOTENCY_SCHEMA_VERSION,
  PostgresIdempotencyStore,
  type PostgresIdempotencyStoreOptions,
} from './idempotency/postgres-idempotency-store.js';
export {
  PostgresIsolationLevel,
  PostgresTransactionManager,
  type PostgresTransactionManagerOptions,
  type PostgresTransactionStats,
} from './transaction/postgres-transaction-manager.js';
export type { IdempotencyStore, TransactionManager };
