import { createHash, randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import pg from 'pg';
import { ErrorCode, HealthStatus, OnexError, type ComponentHealth } from '@onex/core';
import { checkSchemaName, classifyPostgresError, createOwnedPool, migrateSchema, POSTGRES_TYPES } from '@onex/core/internal/postgres';
import { PostgresTransactionManager } from '../transaction/postgres-transaction-manager.js';
import type { TransactionManager } from '../transaction/transaction-manager.js';
import {
  DEFAULT_LEASE_MS,
  DEFAULT_RETENTION_MS,
  type IdempotencyBegin,
  type IdempotencyOutcome,
  type IdempotencyStore,
  type TransactionalCompletion,
} from './idempotency-store.js';
import { positiveOption, storedOutcome } from './store-helpers.js';

/**
 * Options of {@link PostgresIdempotencyStore}: where the table lives — a pool you own (`pool`), one the store creates
 * (`connectionString`), or the pool of a {@link PostgresTransactionManager} (`transactions`, which makes
 * transactional operations exactly-once). Give exactly one.
 *
 * @example
 * ```ts
 * const options: PostgresIdempotencyStoreOptions = { connectionString: process.env['DATABASE_URL'] ?? 'postgres://localhost/app', schema: 'payments' };
 * ```
 */
export interface PostgresIdempotencyStoreOptions {
  /** A node-postgres pool the application owns (not ended by the store). The store sets no session state. */
  readonly pool?: pg.Pool;
  /** Where to connect: the store creates a pool (`maxConnections`, a 10 s connect timeout) and ends it on `close()`. */
  readonly connectionString?: string;
  /** Connections of the pool the store creates from `connectionString`. Default 10. */
  readonly maxConnections?: number;
  /**
   * Share the pool of this manager: {@link PostgresIdempotencyStore.transactionalCompletion} then records completions
   * inside the manager's transactions. (A store on the very pool the manager was given does too.)
   */
  readonly transactions?: PostgresTransactionManager;
  /**
   * The PostgreSQL schema the table (`idempotency_keys`) lives in, created by `init()` if missing. A plain identifier
   * (letters, digits, `_`; at most 63, not starting with a digit). Default `onex`.
   */
  readonly schema?: string;
  /** How long completed keys are remembered, ms. Default 24 h. */
  readonly retentionMs?: number;
  /** How long an in-progress key is held without renewal, ms. Default 30 000. */
  readonly leaseMs?: number;
  /**
   * Clock, epoch ms. Default `Date.now`. Leases and retention are compared with the callers' clocks (every time is a
   * parameter), so replicas sharing the table need clocks that agree to well within `leaseMs`.
   */
  readonly now?: () => number;
}

interface BeginRow {
  started: boolean;
  fingerprint: string | null;
  status: 'in_progress' | 'completed' | null;
  result: string | null;
  error: string | null;
  lease_expires_at: number | null;
  expires_at: number | null;
}

/** Which store's migrations a `schema_migrations` row belongs to: other ONEX stores may share the schema. */
const COMPONENT = 'idempotency-store';
const OWNER = 'PostgresIdempotencyStore';

/**
 * `MIGRATIONS[v]` takes the schema from version v to v + 1; `s` is the quoted schema name.
 *
 * Version 1: one row per key, as in the SQLite store. `result` keeps the operation's JSON text as it was given
 * (replayed byte for byte), `error` the wire error as JSON text. Times are epoch ms as `double precision`. A renewal
 * changes only `lease_expires_at` (no index), so it can be a HOT update (fillfactor 85).
 */
const MIGRATIONS: readonly ((s: string) => string)[] = [
  (s) => `
CREATE TABLE ${s}.idempotency_keys (
  key text PRIMARY KEY,
  fingerprint text NOT NULL,
  status text NOT NULL CHECK (status IN ('in_progress', 'completed')),
  result text,
  error text,
  token text,
  lease_expires_at double precision,
  expires_at double precision NOT NULL,
  version bigint NOT NULL,
  created_at double precision NOT NULL,
  updated_at double precision NOT NULL
) WITH (fillfactor = 85);
CREATE INDEX idempotency_keys_expires ON ${s}.idempotency_keys (expires_at);
`,
];

/** The idempotency table's schema version this release writes. */
export const POSTGRES_IDEMPOTENCY_SCHEMA_VERSION = MIGRATIONS.length;

const PURGE_BATCH = 1_000;

/**
 * The store's statements for one schema. Every value is a parameter; only the (validated, quoted) schema name is
 * spliced in.
 */
function statements(schema: string) {
  const t = `${pg.escapeIdentifier(schema)}.idempotency_keys`;
  return {
    // One round trip for every answer. `cur` is the row as the statement's snapshot sees it; a free key is inserted,
    // an expired or abandoned one (its lease ran out) taken over — unless another holder moved it first (its version
    // changed: the UPDATE re-checks the row it waited for). $1 key, $2 fingerprint, $3 token, $4 now, $5 lease end,
    // $6 expiry. Nothing started and no row seen: a concurrent insert won; the caller reads again.
    begin: `WITH cur AS (
        SELECT fingerprint, status, result, error, lease_expires_at, expires_at, version FROM ${t} WHERE key = $1),
      ins AS (
        INSERT INTO ${t} (key, fingerprint, status, token, lease_expires_at, expires_at, version, created_at, updated_at)
        SELECT $1, $2, 'in_progress', $3, $5, $6, 1, $4, $4 WHERE NOT EXISTS (SELECT 1 FROM cur)
        ON CONFLICT (key) DO NOTHING
        RETURNING 1),
      took AS (
        UPDATE ${t} k SET fingerprint = $2, status = 'in_progress', result = NULL, error = NULL, token = $3,
          lease_expires_at = $5, expires_at = $6, version = k.version + 1, updated_at = $4
        FROM cur
        WHERE k.key = $1 AND k.version = cur.version
          AND (cur.expires_at <= $4
            OR (cur.fingerprint = $2 AND cur.status = 'in_progress' AND (cur.lease_expires_at IS NULL OR cur.lease_expires_at <= $4)))
        RETURNING 1)
      SELECT (EXISTS (SELECT 1 FROM ins) OR EXISTS (SELECT 1 FROM took)) AS started,
        cur.fingerprint, cur.status, cur.result, cur.error, cur.lease_expires_at, cur.expires_at
      FROM (SELECT 1) one LEFT JOIN cur ON true`,
    // $1 result, $2 error, $3 expiry, $4 now, $5 key, $6 token.
    complete: `UPDATE ${t} SET status = 'completed', result = $1, error = $2, token = NULL, lease_expires_at = NULL, expires_at = $3,
        version = version + 1, updated_at = $4 WHERE key = $5 AND token = $6 AND status = 'in_progress'`,
    release: `DELETE FROM ${t} WHERE key = $1 AND token = $2 AND status = 'in_progress'`,
    renew: `UPDATE ${t} SET lease_expires_at = $1 WHERE key = $2 AND token = $3 AND status = 'in_progress'`,
    // Batches, so one purge never holds many row locks or a long transaction; SKIP LOCKED: replicas purging at once split the work.
    purgeBatch: `DELETE FROM ${t} WHERE key IN (SELECT key FROM ${t} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    ping: 'SELECT 1',
  };
}

type Statements = ReturnType<typeof statements>;
type NamedStatement = keyof Statements;

/**
 * A durable {@link IdempotencyStore} in PostgreSQL (node-postgres): completed keys survive crashes and restarts, and
 * any number of replicas on any hosts share one table — a holder's lease keeps the others off a key while it runs
 * (they are answered `in_progress`), and a crashed holder's key is taken over once its lease expires. The same
 * contract as {@link MemoryIdempotencyStore} and {@link SqliteIdempotencyStore}, checked by the same conformance
 * suite.
 *
 * Table `<schema>.idempotency_keys` (default schema `onex`), created or migrated by `init()` — in one transaction
 * under an advisory lock, recorded in `schema_migrations` (component `idempotency-store`); every method runs `init()`
 * first if it was not called. `begin` is one statement and one round trip, whatever it answers.
 *
 * Built with `transactions` (a {@link PostgresTransactionManager} — or on the pool that manager uses), completions of
 * transactional operations are written inside the operation's own transaction: the effect and its record commit
 * together, so a key that committed never runs again, on any replica, even after `SIGKILL`.
 *
 * @experimental The schema (version 1) and the options may still change before 1.0.
 *
 * @example
 * ```ts compile-only
 * import { PostgresIdempotencyStore, PostgresTransactionManager } from '@onex/effect/postgres';
 * const transactions = new PostgresTransactionManager({ connectionString: process.env['DATABASE_URL'] ?? 'postgres://localhost/app' });
 * const idempotencyStore = new PostgresIdempotencyStore({ transactions, schema: 'payments' });
 * await idempotencyStore.init(); // a missing database fails here, at startup
 * const payments = defineEffectNode({ name: 'payments', version: '1.0.0', operations: [charge] });
 * const node = new NodeEffect(payments, { transactions, idempotencyStore });
 * ```
 */
export class PostgresIdempotencyStore implements IdempotencyStore {
  readonly retentionMs: number;
  readonly leaseMs: number;
  /** The pool the store runs its queries on. */
  readonly pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #now: () => number;
  readonly #sql: Statements;
  /** Prepared-statement names, unique per schema (a pool may serve stores of several schemas). */
  readonly #names: Readonly<Record<NamedStatement, string>>;
  #initializing: Promise<void> | undefined;
  #ready = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * @throws OnexError `VALIDATION` unless exactly one of `pool`, `connectionString`, `transactions` is given, or for
   *   an invalid option.
   */
  constructor(options: PostgresIdempotencyStoreOptions) {
    const hasConnectionString = options.connectionString !== undefined && options.connectionString !== '';
    const sources = [options.pool !== undefined, hasConnectionString, options.transactions !== undefined].filter(Boolean).length;
    if (sources !== 1) throw new OnexError(ErrorCode.Validation, `${OWNER}: give exactly one of pool, connectionString, transactions`);
    this.#schema = checkSchemaName(options.schema ?? 'onex', OWNER);
    this.retentionMs = positiveOption('retentionMs', options.retentionMs ?? DEFAULT_RETENTION_MS);
    this.leaseMs = positiveOption('leaseMs', options.leaseMs ?? DEFAULT_LEASE_MS);
    this.#now = options.now ?? Date.now;
    this.#sql = statements(this.#schema);
    const tag = createHash('sha256').update(this.#schema).digest('hex').slice(0, 12);
    const names = {} as Record<NamedStatement, string>;
    for (const key of Object.keys(this.#sql) as NamedStatement[]) names[key] = `onexidem_${tag}_${key}`;
    this.#names = names;
    if (options.pool !== undefined) {
      this.pool = options.pool;
      this.#ownsPool = false;
    } else if (options.transactions !== undefined) {
      this.pool = options.transactions.pool;
      this.#ownsPool = false;
    } else {
      const max = options.maxConnections ?? 10;
      if (!Number.isInteger(max) || max < 1) throw new OnexError(ErrorCode.Validation, `${OWNER}: maxConnections must be a positive integer`);
      this.pool = createOwnedPool(options.connectionString as string, max);
      this.#ownsPool = true;
    }
  }

  /** The schema the table lives in. */
  get schema(): string {
    return this.#schema;
  }

  /**
   * Creates or migrates the table (see the class description). Idempotent; every other method calls it first, so
   * calling it at startup only makes a missing database fail early.
   *
   * @throws OnexError `UNAVAILABLE` when the database is unreachable, `CONTRACT` when the schema is newer than this
   *   release, `LIFECYCLE` after `close()`.
   * @example
   * ```ts
   * declare const store: PostgresIdempotencyStore;
   * await store.init();
   * ```
   */
  async init(): Promise<void> {
    this.#assertOpen();
    if (this.#ready) return;
    this.#initializing ??= migrateSchema(this.pool, this.#schema, { component: COMPONENT, steps: MIGRATIONS, owner: OWNER }).then(
      () => {
        this.#ready = true;
      },
      (error: unknown) => {
        this.#initializing = undefined;
        throw error;
      },
    );
    return this.#initializing;
  }

  async begin(key: string, fingerprint: string): Promise<IdempotencyBegin> {
    await this.#ensureReady();
    for (let tries = 0; tries < 5; tries++) {
      const now = this.#now();
      const token = randomUUID();
      const [row] = await this.#run<BeginRow>(this.pool, 'begin', [key, fingerprint, token, now, now + this.leaseMs, now + this.retentionMs]);
      if (row === undefined) throw new OnexError(ErrorCode.Internal, `${OWNER}: begin answered no row`);
      if (row.started) return { kind: 'started', token };
      // Not started, and no row seen: another replica inserted the key in between; read again.
      if (row.fingerprint === null || row.expires_at === null) continue;
      const live = row.expires_at > now;
      if (live && row.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (live && row.status === 'completed') return { kind: 'completed', outcome: storedOutcome(row) };
      if (live && row.lease_expires_at !== null && row.lease_expires_at > now) return { kind: 'in_progress', retryAfterMs: row.lease_expires_at - now };
      // Free to take over, but another replica did so first (the version moved): read again.
    }
    throw new OnexError(ErrorCode.Unavailable, 'Idempotency key is contended; try again', { retryAfterMs: 10 });
  }

  async complete(key: string, token: string, outcome: IdempotencyOutcome): Promise<boolean> {
    await this.#ensureReady();
    return (await this.#write(this.pool, key, token, outcome)) === 1;
  }

  async release(key: string, token: string): Promise<void> {
    await this.#ensureReady();
    await this.#count(this.pool, 'release', [key, token]);
  }

  async renew(key: string, token: string): Promise<boolean> {
    await this.#ensureReady();
    return (await this.#count(this.pool, 'renew', [this.#now() + this.leaseMs, key, token])) === 1;
  }

  /**
   * Deletes the records whose retention ended (in batches of 1 000, yielding to the event loop between them; replicas
   * purging at once split the work). Resolves with the number deleted.
   */
  async purgeExpired(): Promise<number> {
    await this.#ensureReady();
    const cutoff = this.#now();
    let purged = 0;
    for (;;) {
      const deleted = await this.#count(this.pool, 'purgeBatch', [cutoff, PURGE_BATCH]);
      purged += deleted;
      if (deleted < PURGE_BATCH || this.#closed) return purged;
      await yieldToEventLoop();
    }
  }

  async health(): Promise<ComponentHealth> {
    const pool = { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
    try {
      await this.#ensureReady();
      await this.#run(this.pool, 'ping', []);
      return {
        status: HealthStatus.Healthy,
        detail: 'postgres idempotency store',
        data: { kind: 'postgres', schema: this.#schema, schemaVersion: POSTGRES_IDEMPOTENCY_SCHEMA_VERSION, pool },
      };
    } catch (error) {
      return { status: HealthStatus.Unhealthy, detail: `postgres idempotency store: ${error instanceof Error ? error.message : 'unavailable'}`, data: { kind: 'postgres', pool } };
    }
  }

  /** Refuses further calls and ends the pool when the store created it. Idempotent. */
  async close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * Records completions inside transactions of `manager` when it is a {@link PostgresTransactionManager} on this
   * store's pool (the store was built with `transactions`, or with the manager's pool); undefined for any other
   * manager. The writer runs the completion `UPDATE` on the transaction's client; a lease lost meanwhile (another
   * replica took the key) throws a retryable `CONFLICT`, which rolls the operation back.
   *
   * @example
   * ```ts
   * declare const transactions: PostgresTransactionManager;
   * const store = new PostgresIdempotencyStore({ transactions });
   * store.transactionalCompletion(transactions) !== undefined; // true: transactional operations are exactly-once
   * ```
   */
  transactionalCompletion(manager: TransactionManager<unknown>): TransactionalCompletion | undefined {
    if (!(manager instanceof PostgresTransactionManager) || manager.pool !== this.pool) return undefined;
    return async (tx, key, token, outcome) => {
      if (!manager.holds(tx)) throw new OnexError(ErrorCode.Internal, 'Idempotency completion outside an open PostgreSQL transaction');
      await this.#ensureReady();
      if ((await this.#write(tx, key, token, outcome)) !== 1) {
        throw new OnexError(ErrorCode.Conflict, 'The idempotency lease was lost while the operation ran; rolled back', {
          retryable: true,
          context: { idempotency: 'lease_lost' },
        });
      }
    };
  }

  async #close(): Promise<void> {
    this.#closed = true;
    await this.#initializing?.catch(() => undefined);
    if (this.#ownsPool) await this.pool.end();
  }

  async #ensureReady(): Promise<void> {
    this.#assertOpen();
    if (!this.#ready) await this.init();
  }

  #assertOpen(): void {
    if (this.#closed) throw new OnexError(ErrorCode.Lifecycle, `${OWNER} is closed`);
  }

  #write(on: pg.Pool | pg.PoolClient, key: string, token: string, outcome: IdempotencyOutcome): Promise<number> {
    const now = this.#now();
    const result = outcome.ok ? outcome.resultJson : null;
    const error = outcome.ok ? null : JSON.stringify(outcome.error);
    return this.#count(on, 'complete', [result, error, now + this.retentionMs, now, key, token]);
  }

  async #run<R extends pg.QueryResultRow>(on: pg.Pool | pg.PoolClient, name: NamedStatement, values: unknown[]): Promise<R[]> {
    return (await this.#query<R>(on, name, values)).rows;
  }

  async #count(on: pg.Pool | pg.PoolClient, name: NamedStatement, values: unknown[]): Promise<number> {
    return (await this.#query(on, name, values)).rowCount ?? 0;
  }

  /** Runs a named statement (prepared once per connection). */
  async #query<R extends pg.QueryResultRow>(on: pg.Pool | pg.PoolClient, name: NamedStatement, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await on.query<R>({ name: this.#names[name], text: this.#sql[name], values, types: POSTGRES_TYPES });
    } catch (error) {
      throw classifyPostgresError(error, name, OWNER);
    }
  }
}
