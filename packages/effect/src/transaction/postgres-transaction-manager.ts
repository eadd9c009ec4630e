import type pg from 'pg';
import { abortReasonToOnexError, ErrorCode, HealthStatus, OnexError, type ComponentHealth } from '@onex/core';
import { onAbort } from '@onex/core/internal';
import { classifyPostgresError, createOwnedPool } from '@onex/core/internal/postgres';
import type { TransactionManager, TransactionRunOptions } from './transaction-manager.js';

/** How much longer than the transaction's timeout its statements may run on the server, ms. */
const STATEMENT_TIMEOUT_GRACE_MS = 250;

/**
 * The isolation level of a {@link PostgresTransactionManager}'s transactions.
 *
 * @example
 * ```ts
 * const level: PostgresIsolationLevel = PostgresIsolationLevel.RepeatableRead;
 * ```
 */
export const PostgresIsolationLevel = {
  ReadCommitted: 'read committed',
  RepeatableRead: 'repeatable read',
  Serializable: 'serializable',
} as const;
/** One of the {@link PostgresIsolationLevel} values. */
export type PostgresIsolationLevel = (typeof PostgresIsolationLevel)[keyof typeof PostgresIsolationLevel];

/**
 * Options of {@link PostgresTransactionManager}. Give `pool` or `connectionString`.
 *
 * @example
 * ```ts
 * const options: PostgresTransactionManagerOptions = { connectionString: process.env['DATABASE_URL'] ?? 'postgres://localhost/app', timeoutMs: 5_000 };
 * ```
 */
export interface PostgresTransactionManagerOptions {
  /** A node-postgres pool the application owns: transactions take their connection from it; `close()` leaves it open. */
  readonly pool?: pg.Pool;
  /** Where to connect when no `pool` is given: the manager creates a pool and ends it on `close()`. */
  readonly connectionString?: string;
  /** Connections of the pool the manager creates from `connectionString`. Default 10. */
  readonly maxConnections?: number;
  /** Transactions running longer are rolled back with `TIMEOUT`, ms (also each statement's `statement_timeout`). Default 30 000. */
  readonly timeoutMs?: number;
  /** Default `read committed`. */
  readonly isolationLevel?: PostgresIsolationLevel;
}

/**
 * Counters of a {@link PostgresTransactionManager}.
 *
 * @example
 * ```ts
 * declare const transactions: PostgresTransactionManager;
 * const { committed, rolledBack, open } = transactions.stats();
 * ```
 */
export interface PostgresTransactionStats {
  readonly committed: number;
  readonly rolledBack: number;
  readonly timedOut: number;
  /** Transactions open now. */
  readonly open: number;
  /** Callers waiting for a connection of the pool. */
  readonly queued: number;
}

const ISOLATION_LEVELS = new Set<string>(Object.values(PostgresIsolationLevel));

/**
 * Runs async work in PostgreSQL transactions (node-postgres): takes a connection of the pool, `BEGIN` (with
 * `SET LOCAL statement_timeout`), hands the `PoolClient` to the work, `COMMIT`; `ROLLBACK` when the work throws.
 * Transactions run concurrently, each on its own connection.
 *
 * When the work exceeds its timeout or its signal aborts, the caller is answered at once and the connection is
 * closed instead of returned to the pool: the server rolls the transaction back as the connection ends (a statement
 * still running is stopped by its `statement_timeout`; its locks are held until then), and work that ignores its
 * signal can no longer use the client — a query on it fails, it never runs outside its transaction or inside
 * another caller's. Once the work has resolved, `COMMIT` is sent and its answer is the outcome (the deadline no longer
 * applies): a transaction a failed statement had aborted, which PostgreSQL rolls back at `COMMIT`, rejects.
 *
 * With a {@link PostgresIdempotencyStore} on the same pool (`new PostgresIdempotencyStore({ transactions })`),
 * transactional operations record their completion inside their transaction: exactly-once.
 *
 * @experimental The options may still change before 1.0.
 *
 * @example
 * ```ts compile-only
 * import { PostgresTransactionManager } from '@onex/effect/postgres';
 * const transactions = new PostgresTransactionManager({ connectionString: process.env['DATABASE_URL'] ?? 'postgres://localhost/app', timeoutMs: 2_000 });
 * await transactions.run(async (tx) => {
 *   await tx.query('INSERT INTO orders (id, total) VALUES ($1, $2)', ['o-1', 42]);
 * });
 * await transactions.close(); // ends the pool it created
 * ```
 */
export class PostgresTransactionManager implements TransactionManager<pg.PoolClient> {
  /** The pool transactions take their connections from. */
  readonly pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #timeoutMs: number;
  readonly #isolation: string;
  /** Clients with a transaction open now (the completion writer checks its handle against them). */
  readonly #open = new Set<pg.PoolClient>();
  #committed = 0;
  #rolledBack = 0;
  #timedOut = 0;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * @throws OnexError `VALIDATION` for an invalid option, or when neither `pool` nor `connectionString` is given.
   */
  constructor(options: PostgresTransactionManagerOptions) {
    this.#timeoutMs = positiveTimeout(options.timeoutMs ?? 30_000);
    const isolation = options.isolationLevel ?? PostgresIsolationLevel.ReadCommitted;
    if (!ISOLATION_LEVELS.has(isolation)) {
      throw new OnexError(ErrorCode.Validation, `PostgresTransactionManager: unknown isolationLevel '${String(isolation)}'`);
    }
    this.#isolation = isolation.toUpperCase();
    if (options.pool !== undefined) {
      this.pool = options.pool;
      this.#ownsPool = false;
    } else if (options.connectionString !== undefined && options.connectionString !== '') {
      const max = options.maxConnections ?? 10;
      if (!Number.isInteger(max) || max < 1) throw new OnexError(ErrorCode.Validation, 'PostgresTransactionManager: maxConnections must be a positive integer');
      this.pool = createOwnedPool(options.connectionString, max);
      this.#ownsPool = true;
    } else {
      throw new OnexError(ErrorCode.Validation, 'PostgresTransactionManager needs a pool or a connectionString');
    }
  }

  /**
   * Runs `fn` in a transaction (see the class description).
   *
   * @throws OnexError `TIMEOUT` or `CANCELLED` after the deadline or the signal (the transaction rolled back);
   *   `UNAVAILABLE` when no connection or `BEGIN`/`COMMIT` failed on the connection; `INTERNAL` when `COMMIT` found the
   *   transaction aborted by a failed statement; otherwise what `fn` threw (after the rollback).
   * @example
   * ```ts
   * declare const transactions: PostgresTransactionManager;
   * const id = await transactions.run(async (tx) => (await tx.query<{ id: number }>('INSERT INTO t (v) VALUES ($1) RETURNING id', [1])).rows[0]?.id);
   * ```
   */
  async run<T>(fn: (tx: pg.PoolClient, signal: AbortSignal) => Promise<T>, options: TransactionRunOptions = {}): Promise<T> {
    if (this.#closed) throw new OnexError(ErrorCode.Lifecycle, 'PostgresTransactionManager is closed');
    const timeoutMs = options.timeoutMs === undefined ? this.#timeoutMs : positiveTimeout(options.timeoutMs);
    const external = options.signal;
    const client = await this.#connect(external);
    try {
      // One round trip: the statement timeout bounds a statement still running when the connection is closed.
      // A little past the transaction's own timer, so that timer (not the server) normally answers the deadline.
      await client.query(`BEGIN ISOLATION LEVEL ${this.#isolation}; SET LOCAL statement_timeout = ${String(Math.ceil(timeoutMs) + STATEMENT_TIMEOUT_GRACE_MS)}`);
    } catch (error) {
      client.release(true);
      throw classifyPostgresError(error, 'begin', 'PostgresTransactionManager');
    }
    this.#open.add(client);
    const controller = new AbortController();
    const signal = controller.signal;
    let unlinkExternal = noop;
    let timer: NodeJS.Timeout | undefined;
    /** Set once the outcome is decided (commit sent, rollback started, or the connection closed). */
    let settled = false;
    const leave = (): void => {
      clearTimeout(timer);
      unlinkExternal();
      this.#open.delete(client);
    };
    return new Promise<T>((resolve, reject) => {
      // The transaction's own signal dies with it: no need to stop listening.
      onAbort(signal, () => {
        if (settled) return;
        settled = true;
        leave();
        const error = abortReasonToOnexError(signal);
        if (error.code === ErrorCode.Timeout) this.#timedOut++;
        this.#rolledBack++;
        // Closed, not returned to the pool: the server rolls back, and the work's handle is dead.
        client.release(error);
        reject(error);
      });
      unlinkExternal = onAbort(external, (reason) => controller.abort(reason));
      if (settled) return;
      timer = setTimeout(
        () => controller.abort(new OnexError(ErrorCode.Timeout, `Transaction timed out after ${String(timeoutMs)} ms and was rolled back`)),
        timeoutMs,
      );
      let work: Promise<T>;
      try {
        work = fn(client, signal);
      } catch (error) {
        work = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      work.then(
        (value) => {
          if (settled) return;
          settled = true;
          leave();
          void this.#commit(client).then(
            () => resolve(value),
            (error: unknown) => reject(error instanceof Error ? error : new Error(String(error))),
          );
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          leave();
          // The server's statement_timeout (57014) fired first, on a busy machine: the transaction's deadline, as TIMEOUT.
          if ((error as { code?: unknown } | null)?.code === '57014') {
            this.#timedOut++;
            const timeout = new OnexError(ErrorCode.Timeout, `Transaction timed out after ${String(timeoutMs)} ms and was rolled back`, { cause: error });
            void this.#rollback(client).then(() => reject(timeout));
            return;
          }
          // Passed on as thrown (after the rollback), for toOnexError to classify.
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          void this.#rollback(client).then(() => reject(error));
        },
      );
    });
  }

  /**
   * The manager's counters.
   *
   * @example
   * ```ts
   * transactions.stats(); // { committed: 10, rolledBack: 1, timedOut: 1, open: 0, queued: 0 }
   * ```
   */
  stats(): PostgresTransactionStats {
    return { committed: this.#committed, rolledBack: this.#rolledBack, timedOut: this.#timedOut, open: this.#open.size, queued: this.pool.waitingCount };
  }

  /**
   * Healthy until closed; the counters and the pool's connections as data (reachability shows in the transactions).
   *
   * @example
   * ```ts
   * transactions.health().status; // 'healthy'
   * ```
   */
  health(): ComponentHealth {
    return {
      status: this.#closed ? HealthStatus.Unhealthy : HealthStatus.Healthy,
      detail: this.#closed ? 'postgres transaction manager closed' : 'postgres transaction manager',
      data: { ...this.stats(), pool: { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount } },
    };
  }

  /**
   * Whether `tx` is a client of this manager with its transaction open now.
   *
   * @internal For the idempotency store's completion writer.
   */
  holds(tx: unknown): tx is pg.PoolClient {
    return this.#open.has(tx as pg.PoolClient);
  }

  /**
   * Refuses new transactions and ends the pool when the manager created it (open transactions then fail). Idempotent.
   *
   * @example
   * ```ts
   * declare const transactions: PostgresTransactionManager;
   * await transactions.close();
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#ownsPool ? this.pool.end() : Promise.resolve();
    return this.#closing;
  }

  /** A connection of the pool; stops waiting when `signal` aborts (the connection, when it comes, goes back). */
  async #connect(signal: AbortSignal | undefined): Promise<pg.PoolClient> {
    if (signal?.aborted === true) throw abortReasonToOnexError(signal);
    const connecting = this.pool.connect().catch((error: unknown) => {
      throw classifyPostgresError(error, 'connect', 'PostgresTransactionManager');
    });
    if (signal === undefined) return connecting;
    return new Promise<pg.PoolClient>((resolve, reject) => {
      const unlink = onAbort(signal, () => reject(abortReasonToOnexError(signal)));
      connecting.then(
        (client) => {
          unlink();
          if (signal.aborted) client.release();
          else resolve(client);
        },
        (error: unknown) => {
          unlink();
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(error);
        },
      );
    });
  }

  async #commit(client: pg.PoolClient): Promise<void> {
    let result: pg.QueryResult;
    try {
      result = await client.query('COMMIT');
    } catch (error) {
      client.release(true);
      this.#rolledBack++;
      throw classifyPostgresError(error, 'commit', 'PostgresTransactionManager');
    }
    client.release();
    // COMMIT of a transaction a failed statement aborted answers ROLLBACK, without an error.
    if (result.command === 'ROLLBACK') {
      this.#rolledBack++;
      throw new OnexError(ErrorCode.Internal, 'The transaction was aborted by a failed statement and rolled back at COMMIT');
    }
    this.#committed++;
  }

  /** Never rejects: a connection ROLLBACK fails on is closed (the server rolls back as it ends). */
  async #rollback(client: pg.PoolClient): Promise<void> {
    this.#rolledBack++;
    try {
      await client.query('ROLLBACK');
      client.release();
    } catch {
      client.release(true);
    }
  }
}

function positiveTimeout(timeoutMs: number): number {
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new OnexError(ErrorCode.Validation, `PostgresTransactionManager: timeoutMs must be a number > 0 (got ${String(timeoutMs)})`);
  }
  return timeoutMs;
}

function noop(): void {}
