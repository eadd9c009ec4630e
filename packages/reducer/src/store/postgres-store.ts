import { createHash } from 'node:crypto';
import pg from 'pg';
import { ErrorCode, HealthStatus, OnexError, type ComponentHealth } from '@onex/core';
import type { Intent } from '../machine/state-machine.js';
import { checkSchemaName, classifyPostgresError, createOwnedPool, migrateSchema, POSTGRES_TYPES } from '@onex/core/internal/postgres';
import type {
  AggregateSession,
  AggregateSnapshot,
  AppendResult,
  HistoryOptions,
  ReducerStore,
  TransitionChange,
  TransitionKind,
  TransitionRecord,
} from './reducer-store.js';

/**
 * Options of {@link PostgresReducerStore}. Give `pool` or `connectionString`.
 *
 * @example
 * ```ts
 * const options: PostgresReducerStoreOptions = { connectionString: process.env['DATABASE_URL'] ?? 'postgres://localhost/app', namespace: 'order' };
 * ```
 */
export interface PostgresReducerStoreOptions {
  /**
   * A node-postgres pool the application owns: the store runs its queries on it and leaves it open on `close()`. The
   * store sets no session state (its transaction settings are `SET LOCAL`).
   */
  readonly pool?: pg.Pool;
  /** Where to connect when no `pool` is given: the store creates a pool (`maxConnections`, a 10 s connect timeout) and ends it on `close()`. */
  readonly connectionString?: string;
  /** Connections of the pool the store creates from `connectionString`. Default 10. */
  readonly maxConnections?: number;
  /**
   * The PostgreSQL schema the tables (`reducer_aggregates`, `reducer_transitions`) live in, created by `init()` if
   * missing. A plain identifier (letters, digits, `_`; at most 63, not starting with a digit). Default `onex`.
   */
  readonly schema?: string;
  /** Partition of the tables this store reads and writes: several reducers can share one schema. Default `'default'`. */
  readonly namespace?: string;
  /**
   * How long a writer waits for an aggregate another writer holds, ms (`lock_timeout`; past it the append fails with
   * a retryable `UNAVAILABLE`), and how long a holder may stay idle inside its transaction — a paused or hung process —
   * before the server ends its session and frees the aggregate (`idle_in_transaction_session_timeout`). Default 10 000.
   */
  readonly lockTimeoutMs?: number;
}

interface AggregateRow {
  state: string | null;
  context: unknown;
  version: number;
  updated_at: number;
}

interface TransitionRow {
  aggregate_id: string;
  version: number;
  event_id: string;
  kind: TransitionKind;
  event_type: string;
  payload: unknown;
  from_state: string;
  to_state: string;
  context: unknown;
  intents: Intent[];
  at: number;
}

const COMPONENT = 'reducer-store';
const OWNER = 'PostgresReducerStore';

/**
 * `MIGRATIONS[v]` takes the schema from version v to v + 1; `s` is the quoted schema name.
 *
 * Version 1: the tables of the SQLite store. Values are `json` (kept as written, key order included, as the other
 * stores give them back); times epoch ms as `double precision`. An aggregate row with version 0 and no state is the
 * lock of an aggregate no transition reached yet (made by `withAggregate`, so that the first events of a new aggregate
 * queue like the later ones); readers skip it.
 */
const MIGRATIONS: readonly ((s: string) => string)[] = [
  (s) => `
CREATE TABLE ${s}.reducer_aggregates (
  namespace text NOT NULL,
  aggregate_id text NOT NULL,
  state text,
  context json,
  version bigint NOT NULL,
  updated_at double precision NOT NULL,
  PRIMARY KEY (namespace, aggregate_id)
) WITH (fillfactor = 85);
CREATE TABLE ${s}.reducer_transitions (
  namespace text NOT NULL,
  aggregate_id text NOT NULL,
  version bigint NOT NULL,
  event_id text NOT NULL,
  kind text NOT NULL,
  event_type text NOT NULL,
  payload json NOT NULL,
  from_state text NOT NULL,
  to_state text NOT NULL,
  context json NOT NULL,
  intents json NOT NULL,
  at double precision NOT NULL,
  PRIMARY KEY (namespace, aggregate_id, version),
  UNIQUE (namespace, aggregate_id, event_id)
);
`,
];

/** The reducer tables' schema version this release writes. */
export const POSTGRES_REDUCER_SCHEMA_VERSION = MIGRATIONS.length;

const TRANSITION_COLUMNS = 'aggregate_id, version, event_id, kind, event_type, payload, from_state, to_state, context, intents, at';

/** The store's statements for one schema; `$1` is always the namespace, `$2` the aggregate id. */
function statements(schema: string) {
  const s = pg.escapeIdentifier(schema);
  const agg = `${s}.reducer_aggregates`;
  const tr = `${s}.reducer_transitions`;
  return {
    // The aggregate's queue: an advisory lock on (schema, namespace, aggregate), taken before the row lock. Waiters
    // of a heavyweight lock are granted in the order they queued; the row lock alone does not keep that order (see
    // withAggregate).
    queue: `SELECT pg_advisory_xact_lock(hashtextextended(json_build_array('onex.reducer', ${pg.escapeLiteral(schema)}, $1::text, $2::text)::text, 0))`,
    lock: `SELECT state, context, version, updated_at FROM ${agg} WHERE namespace = $1 AND aggregate_id = $2 FOR UPDATE`,
    placeholder: `INSERT INTO ${agg} (namespace, aggregate_id, state, context, version, updated_at) VALUES ($1, $2, NULL, NULL, 0, 0)
      ON CONFLICT (namespace, aggregate_id) DO NOTHING`,
    load: `SELECT state, context, version, updated_at FROM ${agg} WHERE namespace = $1 AND aggregate_id = $2 AND version > 0`,
    byEvent: `SELECT ${TRANSITION_COLUMNS} FROM ${tr} WHERE namespace = $1 AND aggregate_id = $2 AND event_id = $3`,
    byVersion: `SELECT ${TRANSITION_COLUMNS} FROM ${tr} WHERE namespace = $1 AND aggregate_id = $2 AND version = $3`,
    history: `SELECT ${TRANSITION_COLUMNS} FROM ${tr} WHERE namespace = $1 AND aggregate_id = $2 AND version > $3 ORDER BY version LIMIT $4`,
    // Under the aggregate's row lock, at the version it holds ($3 the next one): the transition and the snapshot in
    // one statement, or neither when the event id was applied already (no row back: a duplicate).
    append: `WITH ins AS (
        INSERT INTO ${tr} (namespace, ${TRANSITION_COLUMNS})
        VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9, $10::json, $11::json, $12)
        ON CONFLICT (namespace, aggregate_id, event_id) DO NOTHING
        RETURNING version)
      UPDATE ${agg} a SET state = $9, context = $10::json, version = ins.version, updated_at = $12
      FROM ins WHERE a.namespace = $1 AND a.aggregate_id = $2
      RETURNING a.version`,
    ping: 'SELECT 1',
  };
}

type Statements = ReturnType<typeof statements>;
type NamedStatement = keyof Statements;

function recordOf(row: TransitionRow): TransitionRecord {
  return {
    aggregateId: row.aggregate_id,
    version: row.version,
    eventId: row.event_id,
    kind: row.kind,
    event: { type: row.event_type, payload: row.payload },
    from: row.from_state,
    to: row.to_state,
    context: row.context,
    intents: row.intents,
    at: row.at,
  };
}

function snapshotOf(row: AggregateRow): AggregateSnapshot | undefined {
  if (row.version === 0 || row.state === null) return undefined;
  return { state: row.state, context: row.context, version: row.version, updatedAt: row.updated_at };
}

/** `JSON.stringify` that refuses what JSON cannot hold instead of silently storing `undefined`. */
function json(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new OnexError(ErrorCode.Validation, `${what} is not JSON-serialisable`);
  return text;
}

type Query = <R extends pg.QueryResultRow>(name: NamedStatement, values: unknown[]) => Promise<pg.QueryResult<R>>;

/**
 * A {@link ReducerStore} on PostgreSQL (node-postgres) that any number of reducer replicas share. The tables of the
 * SQLite store — the latest snapshot per aggregate, and every transition with `UNIQUE (aggregate, event id)` — written
 * in one transaction per append, so an aggregate's snapshot and history never disagree and a replayed event is found,
 * whenever and wherever it was applied.
 *
 * **Order across replicas.** {@link withAggregate} holds the aggregate for the whole load–reduce–append of an event:
 * first a transaction-scoped advisory lock on the aggregate, whose waiters PostgreSQL grants in the order they queued,
 * then its row lock (`SELECT … FOR UPDATE`). So replicas apply an aggregate's events one at a time, in arrival order,
 * with no lost update and no version race to retry. `NodeReducer` applies each event that way on this store. A plain {@link append} takes the same lock for its
 * own statement, and checks `expectedVersion` under it.
 *
 * `init()` creates the schema (default `onex`) or migrates it, in one transaction under an advisory lock, recorded in
 * `schema_migrations` (component `reducer-store`).
 *
 * @experimental The schema (version 1) and the options may still change before 1.0.
 *
 * @example
 * ```ts compile-only
 * import { PostgresReducerStore } from '@onex/reducer/postgres';
 * const store = new PostgresReducerStore({ connectionString: process.env['DATABASE_URL'] ?? 'postgres://localhost/app', namespace: 'order' });
 * const node = new NodeReducer(defineReducerNode({ machine: orderMachine, version: '1.0.0' }), { store });
 * await node.initialize(); // runs store.init()
 * ```
 */
export class PostgresReducerStore implements ReducerStore {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #namespace: string;
  readonly #sql: Statements;
  /** Prepared-statement names, unique per schema (a pool may serve stores of several schemas). */
  readonly #names: Readonly<Record<NamedStatement, string>>;
  readonly #begin: string;
  #initializing: Promise<void> | undefined;
  #ready = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * @throws OnexError `VALIDATION` for an invalid option, or when neither `pool` nor `connectionString` is given.
   */
  constructor(options: PostgresReducerStoreOptions) {
    this.#schema = checkSchemaName(options.schema ?? 'onex', OWNER);
    this.#namespace = options.namespace ?? 'default';
    const lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    if (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 1) throw new OnexError(ErrorCode.Validation, `${OWNER}: lockTimeoutMs must be a positive integer`);
    this.#begin = `BEGIN; SET LOCAL lock_timeout = ${String(lockTimeoutMs)}; SET LOCAL idle_in_transaction_session_timeout = ${String(lockTimeoutMs)}`;
    this.#sql = statements(this.#schema);
    const tag = createHash('sha256').update(this.#schema).digest('hex').slice(0, 12);
    const names = {} as Record<NamedStatement, string>;
    for (const key of Object.keys(this.#sql) as NamedStatement[]) names[key] = `onexred_${tag}_${key}`;
    this.#names = names;
    if (options.pool !== undefined) {
      this.#pool = options.pool;
      this.#ownsPool = false;
    } else if (options.connectionString !== undefined && options.connectionString !== '') {
      const max = options.maxConnections ?? 10;
      if (!Number.isInteger(max) || max < 1) throw new OnexError(ErrorCode.Validation, `${OWNER}: maxConnections must be a positive integer`);
      this.#pool = createOwnedPool(options.connectionString, max);
      this.#ownsPool = true;
    } else {
      throw new OnexError(ErrorCode.Validation, `${OWNER} needs a pool or a connectionString`);
    }
  }

  /** The schema the tables live in. */
  get schema(): string {
    return this.#schema;
  }

  async init(): Promise<void> {
    this.#assertOpen();
    if (this.#ready) return;
    this.#initializing ??= migrateSchema(this.#pool, this.#schema, { component: COMPONENT, steps: MIGRATIONS, owner: OWNER }).then(
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

  async load(aggregateId: string): Promise<AggregateSnapshot | undefined> {
    this.#assertReady();
    const [row] = (await this.#poolQuery<AggregateRow>('load', [this.#namespace, aggregateId])).rows;
    return row === undefined ? undefined : snapshotOf(row);
  }

  async loadAt(aggregateId: string, version: number): Promise<AggregateSnapshot | undefined> {
    this.#assertReady();
    return this.#loadAt(this.#poolQuery, aggregateId, version);
  }

  async findEvent(aggregateId: string, eventId: string): Promise<TransitionRecord | undefined> {
    this.#assertReady();
    return this.#findEvent(this.#poolQuery, aggregateId, eventId);
  }

  /** Atomic as the contract asks: under the aggregate's row lock, the dedup, the version check and the write. */
  async append(aggregateId: string, expectedVersion: number, change: TransitionChange): Promise<AppendResult> {
    // Values JSON cannot hold fail before a connection is taken.
    json(change.event.payload, 'event payload');
    json(change.context, 'context');
    json(change.intents, 'intents');
    return this.withAggregate(aggregateId, (session) => session.append(expectedVersion, change));
  }

  async history(aggregateId: string, options: HistoryOptions): Promise<readonly TransitionRecord[]> {
    this.#assertReady();
    const limit = Math.max(0, Math.floor(options.limit));
    if (limit === 0) return [];
    return (await this.#poolQuery<TransitionRow>('history', [this.#namespace, aggregateId, options.afterVersion, limit])).rows.map(recordOf);
  }

  /**
   * Runs `work` holding the aggregate (its advisory lock, then its row lock), in one transaction on one connection:
   * other writers of the aggregate — other replicas included — wait, in arrival order, until it commits (when `work`
   * resolves) or rolls back (when it throws). `work` must reach the aggregate only through its session (another connection would wait
   * for this one until `lockTimeoutMs`) and should not wait on anything slow.
   *
   * @throws OnexError what `work` threw (after the rollback); `UNAVAILABLE` (retryable) when the lock did not come
   *   within `lockTimeoutMs` or the database is unreachable.
   * @example
   * ```ts
   * declare const store: PostgresReducerStore;
   * const snapshot = await store.withAggregate('o-1', async (session) => {
   *   const current = await session.load();
   *   const r = await session.append(current?.version ?? 0, change);
   *   return r.status === 'appended' ? r.snapshot : current;
   * });
   * ```
   */
  async withAggregate<T>(aggregateId: string, work: (session: AggregateSession) => Promise<T>): Promise<T> {
    this.#assertReady();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw classifyPostgresError(error, 'connect', OWNER);
    }
    const query: Query = async <R extends pg.QueryResultRow>(name: NamedStatement, values: unknown[]) => {
      try {
        return await client.query<R>({ name: this.#names[name], text: this.#sql[name], values, types: POSTGRES_TYPES });
      } catch (error) {
        throw classifyPostgresError(error, name, OWNER);
      }
    };
    let open = true;
    let broken = false;
    try {
      try {
        await client.query(this.#begin);
      } catch (error) {
        throw classifyPostgresError(error, 'begin', OWNER);
      }
      const key = [this.#namespace, aggregateId];
      // The row lock alone is not a FIFO queue: when its holder updated the row, the writers waiting for it are all
      // woken and race for the new row version, so the third to arrive can pass the second. The advisory lock queues
      // them in arrival order; the row lock stays, for writers that take only that (a plain SELECT … FOR UPDATE).
      await query('queue', key);
      let row = (await query<AggregateRow>('lock', key)).rows[0];
      if (row === undefined) {
        // A new aggregate: make its row, then lock it (a new statement sees a row another writer made meanwhile).
        await query('placeholder', key);
        row = (await query<AggregateRow>('lock', key)).rows[0];
        if (row === undefined) throw new OnexError(ErrorCode.Internal, `${OWNER}: aggregate row of ${aggregateId} vanished`);
      }
      const held = { version: row.version, snapshot: snapshotOf(row) };
      const assertOpen = (): void => {
        if (!open) throw new OnexError(ErrorCode.Lifecycle, `${OWNER}: the session of aggregate ${aggregateId} has ended`);
      };
      const session: AggregateSession = {
        load: async () => {
          assertOpen();
          return held.snapshot;
        },
        loadAt: async (version) => {
          assertOpen();
          return this.#loadAt(query, aggregateId, version);
        },
        findEvent: async (eventId) => {
          assertOpen();
          return this.#findEvent(query, aggregateId, eventId);
        },
        append: async (expectedVersion, change) => {
          assertOpen();
          const result = await this.#appendHeld(query, aggregateId, held.version, expectedVersion, change);
          if (result.status === 'appended') {
            held.version = result.snapshot.version;
            held.snapshot = result.snapshot;
          }
          return result;
        },
      };
      let value: T;
      try {
        value = await work(session);
      } finally {
        open = false;
      }
      try {
        const committed = await client.query('COMMIT');
        // COMMIT of a transaction a failed statement aborted answers ROLLBACK, without an error.
        if (committed.command === 'ROLLBACK') throw new OnexError(ErrorCode.Internal, `${OWNER}: the transaction was aborted by a failed statement`);
      } catch (error) {
        broken = true;
        throw classifyPostgresError(error, 'commit', OWNER);
      }
      return value;
    } catch (error) {
      if (!broken) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
      }
      throw error;
    } finally {
      open = false;
      client.release(broken);
    }
  }

  async health(): Promise<ComponentHealth> {
    const pool = { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount };
    try {
      this.#assertReady();
      await this.#poolQuery('ping', []);
      return {
        status: HealthStatus.Healthy,
        data: { kind: 'postgres', schema: this.#schema, namespace: this.#namespace, schemaVersion: POSTGRES_REDUCER_SCHEMA_VERSION, pool },
      };
    } catch (error) {
      return { status: HealthStatus.Unhealthy, detail: error instanceof Error ? error.message : 'postgres unavailable', data: { kind: 'postgres', pool } };
    }
  }

  /** Refuses further calls and ends the pool when the store created it. Idempotent. */
  async close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    await this.#initializing?.catch(() => undefined);
    if (this.#ownsPool) await this.#pool.end();
  }

  /** Dedup, version check and write, on the connection holding the aggregate at version `held`. */
  async #appendHeld(query: Query, aggregateId: string, held: number, expectedVersion: number, change: TransitionChange): Promise<AppendResult> {
    if (held !== expectedVersion) {
      // A duplicate is answered as one whatever version the caller expected.
      const existing = await this.#findEvent(query, aggregateId, change.eventId);
      if (existing !== undefined) return { status: 'duplicate', record: existing };
      throw new OnexError(ErrorCode.Conflict, `Aggregate ${aggregateId} is at version ${held}, not ${expectedVersion}`, {
        context: { aggregateId, expectedVersion, version: held },
      });
    }
    const payload = json(change.event.payload, 'event payload');
    const context = json(change.context, 'context');
    const intents = json(change.intents, 'intents');
    const next = held + 1;
    const { rowCount } = await query('append', [
      this.#namespace,
      aggregateId,
      next,
      change.eventId,
      change.kind,
      change.event.type,
      payload,
      change.from,
      change.to,
      context,
      intents,
      change.at,
    ]);
    if (rowCount !== 1) {
      const existing = await this.#findEvent(query, aggregateId, change.eventId);
      if (existing === undefined) throw new OnexError(ErrorCode.Internal, `${OWNER}: append of ${aggregateId} wrote nothing`);
      return { status: 'duplicate', record: existing };
    }
    // What the reader would get back: values through JSON, as stored.
    const record: TransitionRecord = {
      ...change,
      event: { type: change.event.type, payload: JSON.parse(payload) as unknown },
      context: JSON.parse(context) as unknown,
      intents: JSON.parse(intents) as Intent[],
      aggregateId,
      version: next,
    };
    return { status: 'appended', record, snapshot: { state: record.to, context: record.context, version: next, updatedAt: record.at } };
  }

  async #loadAt(query: Query, aggregateId: string, version: number): Promise<AggregateSnapshot | undefined> {
    const [row] = (await query<TransitionRow>('byVersion', [this.#namespace, aggregateId, version])).rows;
    return row === undefined ? undefined : { state: row.to_state, context: row.context, version: row.version, updatedAt: row.at };
  }

  async #findEvent(query: Query, aggregateId: string, eventId: string): Promise<TransitionRecord | undefined> {
    const [row] = (await query<TransitionRow>('byEvent', [this.#namespace, aggregateId, eventId])).rows;
    return row === undefined ? undefined : recordOf(row);
  }

  readonly #poolQuery: Query = async <R extends pg.QueryResultRow>(name: NamedStatement, values: unknown[]) => {
    try {
      return await this.#pool.query<R>({ name: this.#names[name], text: this.#sql[name], values, types: POSTGRES_TYPES });
    } catch (error) {
      throw classifyPostgresError(error, name, OWNER);
    }
  };

  #assertOpen(): void {
    if (this.#closed) throw new OnexError(ErrorCode.Lifecycle, `${OWNER} is closed`);
  }

  #assertReady(): void {
    this.#assertOpen();
    if (!this.#ready) throw new OnexError(ErrorCode.Lifecycle, `${OWNER} used before init()`);
  }
}
