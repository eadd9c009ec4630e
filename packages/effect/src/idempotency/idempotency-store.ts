import type { ComponentHealth, WireError } from '@onex/core';
import type { TransactionManager } from '../transaction/transaction-manager.js';

/**
 * A value that may or may not be a promise: synchronous stores (memory, better-sqlite3) answer without allocating
 * one, asynchronous ones (PostgreSQL) return a promise.
 *
 * @example
 * ```ts
 * const store = new MemoryIdempotencyStore();
 * const begun: Awaitable<IdempotencyBegin> = store.begin('payments:charge:order-42', fingerprint({ amount: 10 }));
 * const result = await begun; // { kind: 'started', token }: a synchronous store answers without a promise
 * ```
 */
export type Awaitable<T> = T | Promise<T>;

/**
 * The stored outcome of an operation that ran under an idempotency key: its JSON result, or the wire form of the
 * typed error it failed with.
 *
 * @example
 * ```ts
 * const stored: IdempotencyOutcome = { ok: true, resultJson: JSON.stringify({ chargeId: 'ch_1' }) };
 * ```
 */
export type IdempotencyOutcome = { readonly ok: true; readonly resultJson: string } | { readonly ok: false; readonly error: WireError };

/**
 * What {@link IdempotencyStore.begin} answers:
 *
 * - `started`: the caller holds the key (a lease, identified by `token`) and must run the operation, then
 *   `complete` or `release` it;
 * - `completed`: the operation already ran; `outcome` is what it produced;
 * - `in_progress`: another holder (another process) runs it now; try again after `retryAfterMs`;
 * - `mismatch`: the key was used with a different input (its fingerprint differs).
 *
 * @example
 * ```ts
 * const store = new MemoryIdempotencyStore();
 * const key = 'payments:charge:order-42';
 * const first: IdempotencyBegin = await store.begin(key, fingerprint({ amount: 10 })); // started: run it
 * if (first.kind === 'started') await store.complete(key, first.token, { ok: true, resultJson: JSON.stringify({ chargeId: 'ch_1' }) });
 *
 * const again = await store.begin(key, fingerprint({ amount: 10 }));
 * if (again.kind === 'completed') console.log(again.outcome); // { ok: true, resultJson: '{"chargeId":"ch_1"}' }: replay it
 * const other = await store.begin(key, fingerprint({ amount: 99 })); // { kind: 'mismatch' }: the key was used with another input
 * ```
 */
export type IdempotencyBegin =
  | { readonly kind: 'started'; readonly token: string }
  | { readonly kind: 'completed'; readonly outcome: IdempotencyOutcome }
  | { readonly kind: 'in_progress'; readonly retryAfterMs: number }
  | { readonly kind: 'mismatch' };

/**
 * Writes an operation's completion inside a transaction of a {@link TransactionManager}, so that the effect and
 * its idempotency record commit together (exactly-once). Obtained from
 * {@link IdempotencyStore.transactionalCompletion}. Synchronous on SQLite, a promise on PostgreSQL (await it before
 * the transaction commits); it throws — and so rolls the transaction back — when the holder lost the key.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * const transactions = new SqliteTransactionManager({ database: new Database(':memory:') });
 * const store = new SqliteIdempotencyStore({ transactions });
 * transactions.database.exec('CREATE TABLE charges (id TEXT PRIMARY KEY, amount INTEGER)');
 *
 * const key = 'payments:charge:order-42';
 * const begun = await store.begin(key, fingerprint({ amount: 10 }));
 * const write = store.transactionalCompletion(transactions); // undefined for a manager the store is not on
 * if (begun.kind === 'started' && write !== undefined) {
 *   const outcome: IdempotencyOutcome = { ok: true, resultJson: JSON.stringify({ chargeId: 'ch_1' }) };
 *   await transactions.run(async (tx) => {
 *     tx.run('INSERT INTO charges (id, amount) VALUES (?, ?)', 'ch_1', 10); // the effect…
 *     await write(tx, key, begun.token, outcome); // …and its record, in one commit
 *   });
 * }
 * ```
 */
export type TransactionalCompletion = (tx: unknown, key: string, token: string, outcome: IdempotencyOutcome) => Awaitable<void>;

/**
 * Remembers which idempotency keys ran and what they produced, for a retention window.
 *
 * A key is `in_progress` while a holder runs it: the holder's lease (`leaseMs`) is renewed while it runs — until the
 * operation has settled, even after its caller was answered (timeout, cancel) — so a holder that crashed loses the
 * key when its lease expires and another process may take it over; `renew` tells a live holder that this happened. Completed keys
 * are kept for `retentionMs` and answered from the store; expired ones count as absent and are deleted by
 * `purgeExpired`. Keys passed in are already scoped (`<node>:<operation>:<key>`).
 *
 * Implementations: {@link MemoryIdempotencyStore} (one process, bounded), `SqliteIdempotencyStore`
 * (`@onex/effect/sqlite`: durable, shared by processes on one host) and `PostgresIdempotencyStore` (`@onex/effect/postgres`: durable,
 * shared by replicas on any host). `idempotencyStoreConformance` (`@onex/testing/conformance`) is the contract they all pass.
 *
 * @example
 * ```ts
 * const store: IdempotencyStore = new MemoryIdempotencyStore();
 * const key = 'payments:charge:order-42';
 * const run = async () => ({ chargeId: 'ch_1' }); // the operation
 *
 * const begun = await store.begin(key, fingerprint({ amount: 10 }));
 * if (begun.kind === 'started') {
 *   try { await store.complete(key, begun.token, { ok: true, resultJson: JSON.stringify(await run()) }); }
 *   catch (error) { await store.release(key, begun.token); throw error; }
 * }
 * ```
 */
export interface IdempotencyStore {
  /** How long a completed key is remembered, ms. */
  readonly retentionMs: number;
  /** How long a holder keeps a key without renewing it, ms. */
  readonly leaseMs: number;
  /** Claims `key` for a run with input `fingerprint`, or tells why the caller must not run. */
  begin(key: string, fingerprint: string): Awaitable<IdempotencyBegin>;
  /** Records the outcome of the holder's run; false when the holder had lost the key (its lease expired). */
  complete(key: string, token: string, outcome: IdempotencyOutcome): Awaitable<boolean>;
  /** Gives the key up without recording anything, so that a retry may run again. */
  release(key: string, token: string): Awaitable<void>;
  /**
   * Extends the holder's lease by `leaseMs` from now, and says whether the holder still holds the key: true when
   * the lease was extended (also a lease that ran out without anyone taking the key), false when the lease is lost
   * — another holder took the key after it expired, or the record is gone (released, completed, purged). A holder
   * answered false must stop its run (abort the operation) and must not record a completion.
   */
  renew(key: string, token: string): Awaitable<boolean>;
  /** Deletes expired records; returns how many. */
  purgeExpired(): Awaitable<number>;
  /** The store's health, for the node's `health()`. */
  health(): Awaitable<ComponentHealth>;
  /** Releases the store's resources (closes a database it opened). */
  close(): Awaitable<void>;
  /**
   * A writer that records a completion inside a transaction of `manager`, when the store and the manager share a
   * database connection; undefined otherwise.
   */
  transactionalCompletion?(manager: TransactionManager<unknown>): TransactionalCompletion | undefined;
}

/** Default retention of completed keys: 24 hours. */
export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Default lease of an in-progress key: 30 seconds (renewed every 10 s while the operation runs). */
export const DEFAULT_LEASE_MS = 30_000;
