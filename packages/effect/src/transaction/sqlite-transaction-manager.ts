import type BetterSqlite3 from 'better-sqlite3';
import { abortReasonToOnexError, ErrorCode, HealthStatus, OnexError, type ComponentHealth } from '@onex/core';
import { onAbort } from '@onex/core/internal';
import { ConnectionLock } from './connection-lock.js';
import type { TransactionManager, TransactionRunOptions } from './transaction-manager.js';

type Statement = BetterSqlite3.Statement<unknown[], unknown>;

/**
 * The handle a {@link SqliteTransactionManager} hands to the work it runs: statements on the transaction's
 * connection (prepared once and cached by SQL text), valid only while the transaction is open. After a commit,
 * rollback or timeout every method throws `CANCELLED`, so work that ignored its signal cannot write outside the
 * transaction it was given.
 *
 * @example
 * ```ts
 * await transactions.run(async (tx) => {
 *   const row = tx.get<{ balance: number }>('SELECT balance FROM accounts WHERE id = ?', 'a');
 *   tx.run('UPDATE accounts SET balance = ? WHERE id = ?', (row?.balance ?? 0) - 10, 'a');
 * });
 * ```
 */
export class SqliteTransaction {
  /** Aborted when the transaction times out or its caller gives up. */
  readonly signal: AbortSignal;
  readonly #db: BetterSqlite3.Database;
  readonly #prepare: (sql: string) => Statement;
  #active: boolean;

  /** @internal Made by {@link SqliteTransactionManager.run}. */
  constructor(db: BetterSqlite3.Database, prepare: (sql: string) => Statement, signal: AbortSignal) {
    this.#db = db;
    this.#prepare = prepare;
    this.signal = signal;
    this.#active = true;
  }

  /** True until the transaction commits or rolls back. */
  get active(): boolean {
    return this.#active;
  }

  /**
   * The raw connection, for what the helpers do not cover. Only while {@link active}: a reference kept past the
   * transaction writes outside it.
   */
  get database(): BetterSqlite3.Database {
    this.#check();
    return this.#db;
  }

  /** Runs a statement that changes rows. */
  run(sql: string, ...params: unknown[]): BetterSqlite3.RunResult {
    this.#check();
    return this.#prepare(sql).run(...params);
  }

  /** The first row of a query, or undefined. */
  get<TRow>(sql: string, ...params: unknown[]): TRow | undefined {
    this.#check();
    return this.#prepare(sql).get(...params) as TRow | undefined;
  }

  /** Every row of a query. */
  all<TRow>(sql: string, ...params: unknown[]): TRow[] {
    this.#check();
    return this.#prepare(sql).all(...params) as TRow[];
  }

  /** Runs one or more statements without parameters. */
  exec(sql: string): void {
    this.#check();
    this.#db.exec(sql);
  }

  /** @internal Ends the handle's validity. */
  end(): void {
    this.#active = false;
  }

  #check(): void {
    if (!this.#active) throw new OnexError(ErrorCode.Cancelled, 'The transaction is no longer open (committed, rolled back or timed out)');
  }
}

/**
 * Options of {@link SqliteTransactionManager}.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * const options: SqliteTransactionManagerOptions = { database: new Database('app.db'), timeoutMs: 5_000 };
 * ```
 */
export interface SqliteTransactionManagerOptions {
  /** The better-sqlite3 connection. The manager does not close it. */
  readonly database: BetterSqlite3.Database;
  /** Transactions running longer are rolled back with `TIMEOUT`, ms. Default 30 000. */
  readonly timeoutMs?: number;
  /** `BEGIN IMMEDIATE` (default: takes the write lock at once, so a busy database fails early), `DEFERRED` or `EXCLUSIVE`. */
  readonly behavior?: 'immediate' | 'deferred' | 'exclusive';
  /** Prepared statements kept by SQL text. Default 256. */
  readonly maxCachedStatements?: number;
}

/**
 * Counters of a {@link SqliteTransactionManager}.
 *
 * @example
 * ```ts
 * const { committed, rolledBack } = transactions.stats();
 * ```
 */
export interface SqliteTransactionStats {
  readonly committed: number;
  readonly rolledBack: number;
  readonly timedOut: number;
  /** Transactions (and exclusive statements) waiting for the connection. */
  readonly queued: number;
}

/**
 * Runs async work in SQLite transactions on one better-sqlite3 connection: `BEGIN IMMEDIATE`, the work, `COMMIT`;
 * `ROLLBACK` when the work throws, exceeds its timeout or its signal aborts — at once, even if the work ignores its
 * signal (it is left running, but its handle is dead).
 *
 * better-sqlite3 is synchronous and a connection has one transaction at a time: while async work awaits between
 * `BEGIN` and `COMMIT`, any other statement on that connection would become part of it. So transactions on one
 * manager run one after another (a FIFO queue), and other writes on the same connection must go through
 * {@link exclusive} (the {@link SqliteIdempotencyStore} does when given the manager). A transaction must not start
 * another transaction on the same manager (it would wait for itself until its timeout). Put slow, non-database
 * work (HTTP calls) outside the transaction.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { SqliteTransactionManager } from '@onex/effect/sqlite';
 * const db = new Database('app.db');
 * db.pragma('journal_mode = WAL');
 * db.exec('CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, total INTEGER)');
 * const transactions = new SqliteTransactionManager({ database: db, timeoutMs: 2_000 });
 * await transactions.run(async (tx) => {
 *   tx.run('INSERT INTO orders (id, total) VALUES (?, ?)', 'o-1', 42);
 * });
 * ```
 */
export class SqliteTransactionManager implements TransactionManager<SqliteTransaction> {
  /** The connection transactions run on. */
  readonly database: BetterSqlite3.Database;
  readonly #timeoutMs: number;
  readonly #begin: string;
  readonly #maxCached: number;
  readonly #statements: Map<string, Statement>;
  readonly #lock: ConnectionLock;
  readonly #prepare: (sql: string) => Statement;
  #committed: number;
  #rolledBack: number;
  #timedOut: number;

  /**
   * @throws OnexError `VALIDATION` for an invalid option.
   */
  constructor(options: SqliteTransactionManagerOptions) {
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new OnexError(ErrorCode.Validation, `SqliteTransactionManager: timeoutMs must be a number > 0 (got ${String(timeoutMs)})`);
    }
    this.database = options.database;
    this.#timeoutMs = timeoutMs;
    this.#begin = `BEGIN ${(options.behavior ?? 'immediate').toUpperCase()}`;
    this.#maxCached = options.maxCachedStatements ?? 256;
    this.#statements = new Map();
    this.#lock = new ConnectionLock();
    this.#committed = 0;
    this.#rolledBack = 0;
    this.#timedOut = 0;
    this.#prepare = (sql) => {
      let statement = this.#statements.get(sql);
      if (statement === undefined) {
        statement = this.database.prepare<unknown[], unknown>(sql);
        if (this.#statements.size >= this.#maxCached) {
          const oldest = this.#statements.keys().next();
          if (oldest.done !== true) this.#statements.delete(oldest.value);
        }
        this.#statements.set(sql, statement);
      }
      return statement;
    };
  }

  /**
   * Runs `fn` in a transaction (see the class description).
   *
   * @throws OnexError `TIMEOUT` or `CANCELLED` after a rollback caused by the timeout or the signal; otherwise what
   *   `fn` threw (after the rollback).
   * @example
   * ```ts
   * const id = await transactions.run(async (tx) => tx.run('INSERT INTO t (v) VALUES (?)', 1).lastInsertRowid);
   * ```
   */
  async run<T>(fn: (tx: SqliteTransaction, signal: AbortSignal) => Promise<T>, options: TransactionRunOptions = {}): Promise<T> {
    const external = options.signal;
    await this.#lock.acquire(external);
    const controller = new AbortController();
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const tx = new SqliteTransaction(this.database, this.#prepare, controller.signal);
    let open = false;
    const rollback = (): void => {
      tx.end();
      if (!open) return;
      open = false;
      if (this.database.inTransaction) this.database.exec('ROLLBACK');
      this.#rolledBack++;
    };
    let unlinkExternal = noop;
    let timer: NodeJS.Timeout | undefined;
    try {
      if (this.database.inTransaction) {
        throw new OnexError(ErrorCode.Internal, 'The connection is already in a transaction: a statement ran outside the transaction manager');
      }
      this.database.exec(this.#begin);
      open = true;
      return await new Promise<T>((resolve, reject) => {
        const signal = controller.signal;
        // The transaction's own signal dies with it: no need to stop listening.
        onAbort(signal, () => {
          // Synchronous, inside the abort: the rollback has happened before anyone sees the rejection.
          rollback();
          const error = abortReasonToOnexError(signal);
          if (error.code === ErrorCode.Timeout) this.#timedOut++;
          reject(error);
        });
        unlinkExternal = onAbort(external, (reason) => controller.abort(reason));
        timer = setTimeout(
          () => controller.abort(new OnexError(ErrorCode.Timeout, `Transaction timed out after ${String(timeoutMs)} ms and was rolled back`)),
          timeoutMs,
        );
        if (signal.aborted) return;
        fn(tx, signal).then(
          (value) => {
            if (!open) return; // rolled back by the deadline or signal: already rejected
            try {
              tx.end();
              this.database.exec('COMMIT');
              open = false;
              this.#committed++;
              resolve(value);
            } catch (error) {
              rollback();
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          },
          (error: unknown) => {
            rollback();
            // Passed on as thrown, for toOnexError to classify.
            // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
            reject(error);
          },
        );
      });
    } finally {
      clearTimeout(timer);
      unlinkExternal();
      rollback();
      this.#lock.release();
    }
  }

  /**
   * Runs synchronous statements on the connection when no transaction is open (at once when the connection is
   * free, else after the queued transactions). Returns `fn`'s value, or a promise of it when it had to wait.
   *
   * @example
   * ```ts
   * const count = await transactions.exclusive((db) => db.prepare('SELECT count(*) AS n FROM t').get());
   * ```
   */
  exclusive<T>(fn: (db: BetterSqlite3.Database) => T): T | Promise<T> {
    if (this.#lock.tryAcquire()) {
      try {
        return fn(this.database);
      } finally {
        this.#lock.release();
      }
    }
    return this.#lock.acquire().then(() => {
      try {
        return fn(this.database);
      } finally {
        this.#lock.release();
      }
    });
  }

  /**
   * The manager's counters.
   *
   * @example
   * ```ts
   * transactions.stats(); // { committed: 10, rolledBack: 1, timedOut: 1, queued: 0 }
   * ```
   */
  stats(): SqliteTransactionStats {
    return { committed: this.#committed, rolledBack: this.#rolledBack, timedOut: this.#timedOut, queued: this.#lock.waiting };
  }

  /**
   * Healthy while the connection is open.
   *
   * @example
   * ```ts
   * transactions.health().status; // 'healthy'
   * ```
   */
  health(): ComponentHealth {
    const open = this.database.open;
    return {
      status: open ? HealthStatus.Healthy : HealthStatus.Unhealthy,
      detail: open ? 'sqlite connection open' : 'sqlite connection closed',
      data: { ...this.stats() },
    };
  }
}

function noop(): void {}
