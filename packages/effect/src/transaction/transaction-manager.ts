import type { ComponentHealth } from '@onex/core';

/**
 * Per-run settings of {@link TransactionManager.run}.
 *
 * @example
 * ```ts
 * const options: TransactionRunOptions = { signal: ctx.signal, timeoutMs: 2_000 };
 * ```
 */
export interface TransactionRunOptions {
  /** Aborting rolls the transaction back (and stops waiting for the connection). */
  readonly signal?: AbortSignal;
  /** The transaction is rolled back when it runs longer than this, ms. Default: the manager's. */
  readonly timeoutMs?: number;
}

/**
 * Runs work inside a database transaction: begins, hands the transaction handle `TTx` to `fn`, commits when `fn`
 * resolves, rolls back when it throws, times out or is aborted. The handle is only valid until `run` settles.
 *
 * The shape fits SQLite ({@link SqliteTransactionManager}, handle {@link SqliteTransaction}) and PostgreSQL (a
 * pool client: `BEGIN`, `SET LOCAL statement_timeout`, `COMMIT`/`ROLLBACK`, the client as the handle).
 *
 * @example
 * ```ts
 * const total = await transactions.run(async (tx, signal) => {
 *   tx.run('UPDATE accounts SET balance = balance - ? WHERE id = ?', 10, 'a');
 *   tx.run('UPDATE accounts SET balance = balance + ? WHERE id = ?', 10, 'b');
 *   return 10;
 * }, { timeoutMs: 1_000 });
 * ```
 */
export interface TransactionManager<TTx> {
  /** Runs `fn` in a transaction. Rejects with `TIMEOUT`/`CANCELLED` after a rollback caused by the deadline or signal. */
  run<T>(fn: (tx: TTx, signal: AbortSignal) => Promise<T>, options?: TransactionRunOptions): Promise<T>;
  /** The manager's health (connection open, transactions queued). */
  health?(): ComponentHealth;
}
