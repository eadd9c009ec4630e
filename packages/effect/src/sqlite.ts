/**
 * `@onex/effect/sqlite`: SQLite transactions and the durable SQLite {@link IdempotencyStore} (better-sqlite3). A
 * subpath of its own, so an effect node without SQLite never loads — or compiles — the native module; install
 * `better-sqlite3` and `@types/better-sqlite3` (optional peer dependencies: the options take a better-sqlite3
 * `Database`) to use it.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { SqliteIdempotencyStore, SqliteTransactionManager } from '@onex/effect/sqlite';
 * const db = new Database('payments.db');
 * const transactions = new SqliteTransactionManager({ database: db });
 * const idempotency = new SqliteIdempotencyStore({ transactions }); // completions commit with the operation
 * ```
 *
 * @packageDocumentation
 */
import type { IdempotencyStore } from './idempotency/idempotency-store.js';
import type { TransactionManager } from './transaction/transaction-manager.js';

export { SqliteIdempotencyStore, type SqliteIdempotencyStoreOptions } from './idempotency/sqlite-idempotency-store.js';
export {
  SqliteTransaction,
  SqliteTransactionManager,
  type SqliteTransactionManagerOptions,
  type SqliteTransactionStats,
} from './transaction/sqlite-transaction-manager.js';
export type { IdempotencyStore, TransactionManager };
