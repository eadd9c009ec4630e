import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { ErrorCode, HealthStatus, OnexError, toOnexError, type ComponentHealth } from '@onex/core';
import type { TransactionManager } from '../transaction/transaction-manager.js';
import { SqliteTransaction, type SqliteTransactionManager } from '../transaction/sqlite-transaction-manager.js';
import {
  DEFAULT_LEASE_MS,
  DEFAULT_RETENTION_MS,
  type Awaitable,
  type IdempotencyBegin,
  type IdempotencyOutcome,
  type IdempotencyStore,
  type TransactionalCompletion,
} from './idempotency-store.js';
import { positiveOption, storedOutcome } from './store-helpers.js';

/**
 * Options of {@link SqliteIdempotencyStore}: where the table lives — a file the store opens (`path`), a connection
 * you own (`database`), or the connection of a {@link SqliteTransactionManager} (`transactions`, which makes
 * transactional operations exactly-once).
 *
 * @example
 * ```ts
 * const options: SqliteIdempotencyStoreOptions = { path: '/var/lib/payments/idempotency.db', retentionMs: 7 * 864e5 };
 * ```
 */
export interface SqliteIdempotencyStoreOptions {
  /** Database file to open (created if missing; WAL, `synchronous=NORMAL`). The store closes it. */
  readonly path?: string;
  /**
   * An open connection the caller owns (not closed by the store). It must not be shared with async transactions
   * outside a transaction manager — pass `transactions` instead.
   */
  readonly database?: Database.Database;
  /**
   * Share the connection of this manager: the store's statements wait for open transactions, and
   * {@link transactionalCompletion} records completions inside the manager's transactions.
   */
  readonly transactions?: SqliteTransactionManager;
  /** Table name. Default `onex_idempotency`. */
  readonly table?: string;
  /** How long completed keys are remembered, ms. Default 24 h. */
  readonly retentionMs?: number;
  /** How long an in-progress key is held without renewal, ms. Default 30 000. */
  readonly leaseMs?: number;
  /** `normal` (default; survives a process crash) or `full` (fsync per commit; survives power loss). Only for `path`. */
  readonly synchronous?: 'normal' | 'full';
  /** Clock, epoch ms. Default `Date.now`. */
  readonly now?: () => number;
}

interface Row {
  fingerprint: string;
  status: 'in_progress' | 'completed';
  result: string | null;
  error: string | null;
  lease_expires_at: number | null;
  expires_at: number;
  version: number;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * A durable {@link IdempotencyStore} in SQLite (better-sqlite3): completed keys survive a crash or restart, and
 * several processes on one host may share the file (a holder's lease keeps others off a key while it runs; a
 * crashed holder's key is taken over once its lease expires).
 *
 * Table `onex_idempotency(key, fingerprint, status, result, error, token, lease_expires_at, expires_at, version,
 * created_at, updated_at)`. A fresh key costs one commit to claim and one to complete (~30 µs each in WAL mode).
 *
 * Built with `transactions` (a {@link SqliteTransactionManager} on the same connection), completions of
 * transactional operations are written inside the operation's transaction: the effect and its record commit
 * together, so a key that committed never runs again, even after `SIGKILL`.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { SqliteIdempotencyStore, SqliteTransactionManager } from '@onex/effect/sqlite';
 * const db = new Database('payments.db');
 * db.pragma('journal_mode = WAL');
 * const transactions = new SqliteTransactionManager({ database: db });
 * const store = new SqliteIdempotencyStore({ transactions });
 * ```
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly retentionMs: number;
  readonly leaseMs: number;
  /** The connection the table lives on. */
  readonly database: Database.Database;
  readonly #owned: boolean;
  readonly #transactions: SqliteTransactionManager | undefined;
  readonly #now: () => number;
  readonly #insert: Database.Statement<[string, string, string, number, number, number, number], unknown>;
  readonly #select: Database.Statement<[string], Row>;
  readonly #takeOver: Database.Statement<[string, string, number, number, number, string, number], unknown>;
  readonly #complete: Database.Statement<[string | null, string | null, number, number, string, string], unknown>;
  readonly #release: Database.Statement<[string, string], unknown>;
  readonly #renew: Database.Statement<[number, string, string], unknown>;
  readonly #purge: Database.Statement<[number], unknown>;
  readonly #count: Database.Statement<[], { n: number }>;

  /**
   * @throws OnexError `VALIDATION` unless exactly one of `path`, `database`, `transactions` is given, or for an
   *   invalid option; `UNAVAILABLE` when the database cannot be opened.
   */
  constructor(options: SqliteIdempotencyStoreOptions) {
    const sources = [options.path, options.database, options.transactions].filter((s) => s !== undefined).length;
    if (sources !== 1) throw new OnexError(ErrorCode.Validation, 'SqliteIdempotencyStore: give exactly one of path, database, transactions');
    const table = options.table ?? 'onex_idempotency';
    if (!TABLE_NAME.test(table)) throw new OnexError(ErrorCode.Validation, `SqliteIdempotencyStore: invalid table name '${table}'`);
    this.retentionMs = positiveOption('retentionMs', options.retentionMs ?? DEFAULT_RETENTION_MS);
    this.leaseMs = positiveOption('leaseMs', options.leaseMs ?? DEFAULT_LEASE_MS);
    this.#now = options.now ?? Date.now;
    this.#transactions = options.transactions;
    this.#owned = options.path !== undefined;
    if (options.path !== undefined) {
      try {
        this.database = new Database(options.path);
        this.database.pragma('journal_mode = WAL');
        this.database.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      } catch (error) {
        throw new OnexError(ErrorCode.Unavailable, 'SqliteIdempotencyStore: cannot open the database', { cause: error });
      }
    } else {
      this.database = options.database ?? (options.transactions as SqliteTransactionManager).database;
    }
    const db = this.database;
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${table} (
        key TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT,
        error TEXT,
        token TEXT,
        lease_expires_at INTEGER,
        expires_at INTEGER NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ${table}_expires ON ${table} (expires_at);
    `);
    this.#insert = db.prepare(
      `INSERT INTO ${table} (key, fingerprint, status, token, lease_expires_at, expires_at, version, created_at, updated_at)
       VALUES (?, ?, 'in_progress', ?, ?, ?, 1, ?, ?) ON CONFLICT (key) DO NOTHING`,
    );
    this.#select = db.prepare(`SELECT fingerprint, status, result, error, lease_expires_at, expires_at, version FROM ${table} WHERE key = ?`);
    this.#takeOver = db.prepare(
      `UPDATE ${table} SET fingerprint = ?, status = 'in_progress', result = NULL, error = NULL, token = ?, lease_expires_at = ?,
       expires_at = ?, version = version + 1, updated_at = ? WHERE key = ? AND version = ?`,
    );
    this.#complete = db.prepare(
      `UPDATE ${table} SET status = 'completed', result = ?, error = ?, token = NULL, lease_expires_at = NULL, expires_at = ?,
       version = version + 1, updated_at = ? WHERE key = ? AND token = ? AND status = 'in_progress'`,
    );
    this.#release = db.prepare(`DELETE FROM ${table} WHERE key = ? AND token = ? AND status = 'in_progress'`);
    this.#renew = db.prepare(`UPDATE ${table} SET lease_expires_at = ? WHERE key = ? AND token = ? AND status = 'in_progress'`);
    this.#purge = db.prepare(`DELETE FROM ${table} WHERE expires_at <= ?`);
    this.#count = db.prepare(`SELECT count(*) AS n FROM ${table}`);
  }

  begin(key: string, fingerprint: string): Awaitable<IdempotencyBegin> {
    return this.#exclusive(() => this.#begin(key, fingerprint));
  }

  complete(key: string, token: string, outcome: IdempotencyOutcome): Awaitable<boolean> {
    return this.#exclusive(() => this.#write(key, token, outcome));
  }

  release(key: string, token: string): Awaitable<void> {
    return this.#exclusive(() => {
      this.#release.run(key, token);
    });
  }

  renew(key: string, token: string): Awaitable<boolean> {
    return this.#exclusive(() => this.#renew.run(this.#now() + this.leaseMs, key, token).changes === 1);
  }

  purgeExpired(): Awaitable<number> {
    return this.#exclusive(() => this.#purge.run(this.#now()).changes);
  }

  health(): Awaitable<ComponentHealth> {
    if (!this.database.open) return { status: HealthStatus.Unhealthy, detail: 'sqlite idempotency store closed' };
    return this.#exclusive(() => {
      try {
        return { status: HealthStatus.Healthy, detail: 'sqlite idempotency store', data: { entries: this.#count.get()?.n ?? 0 } };
      } catch (error) {
        return { status: HealthStatus.Unhealthy, detail: `sqlite idempotency store: ${toOnexError(error).message}` };
      }
    });
  }

  close(): void {
    if (this.#owned && this.database.open) this.database.close();
  }

  /**
   * Records completions inside transactions of `manager` when it is the manager this store was built with (same
   * connection); undefined for any other manager.
   *
   * @example
   * ```ts
   * const store = new SqliteIdempotencyStore({ transactions });
   * store.transactionalCompletion(transactions) !== undefined; // true: transactional operations are exactly-once
   * ```
   */
  transactionalCompletion(manager: TransactionManager<unknown>): TransactionalCompletion | undefined {
    if (this.#transactions === undefined || manager !== this.#transactions) return undefined;
    return (tx, key, token, outcome) => {
      if (!(tx instanceof SqliteTransaction) || !tx.active) {
        throw new OnexError(ErrorCode.Internal, 'Idempotency completion outside an open SQLite transaction');
      }
      // Inside the transaction that holds the connection: write directly, not through exclusive().
      if (!this.#write(key, token, outcome)) {
        throw new OnexError(ErrorCode.Conflict, 'The idempotency lease was lost while the operation ran; rolled back', { retryable: true });
      }
    };
  }

  #exclusive<T>(fn: () => T): Awaitable<T> {
    return this.#transactions === undefined ? fn() : this.#transactions.exclusive(fn);
  }

  #write(key: string, token: string, outcome: IdempotencyOutcome): boolean {
    const now = this.#now();
    const result = outcome.ok ? outcome.resultJson : null;
    const error = outcome.ok ? null : JSON.stringify(outcome.error);
    return this.#complete.run(result, error, now + this.retentionMs, now, key, token).changes === 1;
  }

  #begin(key: string, fingerprint: string): IdempotencyBegin {
    for (let tries = 0; tries < 5; tries++) {
      const now = this.#now();
      // Read first: a replay or a refusal is then a read, not a write transaction.
      const row = this.#select.get(key);
      if (row === undefined) {
        const token = randomUUID();
        if (this.#insert.run(key, fingerprint, token, now + this.leaseMs, now + this.retentionMs, now, now).changes === 1) {
          return { kind: 'started', token };
        }
        continue; // another process inserted it in between: read again
      }
      const live = row.expires_at > now;
      if (live && row.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (live && row.status === 'completed') return { kind: 'completed', outcome: storedOutcome(row) };
      if (live && row.lease_expires_at !== null && row.lease_expires_at > now) {
        return { kind: 'in_progress', retryAfterMs: row.lease_expires_at - now };
      }
      // Expired, or abandoned by a holder whose lease ran out (a crashed process): take it over, unless another
      // process did so first (the version moved).
      const token = randomUUID();
      if (this.#takeOver.run(fingerprint, token, now + this.leaseMs, now + this.retentionMs, now, key, row.version).changes === 1) {
        return { kind: 'started', token };
      }
    }
    throw new OnexError(ErrorCode.Unavailable, 'Idempotency key is contended; try again', { retryAfterMs: 10 });
  }
}
