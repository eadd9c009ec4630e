import Database from 'better-sqlite3';
import { ErrorCode, HealthStatus, OnexError, type ComponentHealth } from '@onex/core';
import type { Intent } from '../machine/state-machine.js';
import type { AggregateSnapshot, AppendResult, HistoryOptions, ReducerStore, TransitionChange, TransitionKind, TransitionRecord } from './reducer-store.js';

/**
 * Options of {@link SqliteReducerStore}.
 *
 * @example
 * ```ts
 * const options: SqliteReducerStoreOptions = { path: './data/reducers.db', namespace: 'order' };
 * ```
 */
export interface SqliteReducerStoreOptions {
  /** Database file (created if missing), or `:memory:`. */
  readonly path: string;
  /** Partition of the tables this store reads and writes: several reducers can share one file. Default `'default'`. */
  readonly namespace?: string;
  /**
   * `normal` (default): WAL with synchronous=NORMAL — survives a process crash, may lose the last commits on power
   * loss. `full`: fsync at every commit — survives power loss, slower per commit.
   */
  readonly synchronous?: 'normal' | 'full';
}

interface AggregateRow {
  state: string;
  context: string;
  version: number;
  updated_at: number;
}

interface TransitionRow {
  aggregate_id: string;
  version: number;
  event_id: string;
  kind: TransitionKind;
  event_type: string;
  payload: string;
  from_state: string;
  to_state: string;
  context: string;
  intents: string;
  at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS onex_reducer_aggregates (
  namespace TEXT NOT NULL,
  aggregate_id TEXT NOT NULL,
  state TEXT NOT NULL,
  context TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, aggregate_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS onex_reducer_transitions (
  namespace TEXT NOT NULL,
  aggregate_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  context TEXT NOT NULL,
  intents TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (namespace, aggregate_id, version),
  UNIQUE (namespace, aggregate_id, event_id)
) WITHOUT ROWID;
`;

const TRANSITION_COLUMNS = 'aggregate_id, version, event_id, kind, event_type, payload, from_state, to_state, context, intents, at';

function prepareStatements(db: Database.Database) {
  return {
    load: db.prepare<[string, string], AggregateRow>('SELECT state, context, version, updated_at FROM onex_reducer_aggregates WHERE namespace = ? AND aggregate_id = ?'),
    version: db.prepare<[string, string], { version: number }>('SELECT version FROM onex_reducer_aggregates WHERE namespace = ? AND aggregate_id = ?'),
    byEvent: db.prepare<[string, string, string], TransitionRow>(
      `SELECT ${TRANSITION_COLUMNS} FROM onex_reducer_transitions WHERE namespace = ? AND aggregate_id = ? AND event_id = ?`,
    ),
    byVersion: db.prepare<[string, string, number], TransitionRow>(
      `SELECT ${TRANSITION_COLUMNS} FROM onex_reducer_transitions WHERE namespace = ? AND aggregate_id = ? AND version = ?`,
    ),
    history: db.prepare<[string, string, number, number], TransitionRow>(
      `SELECT ${TRANSITION_COLUMNS} FROM onex_reducer_transitions WHERE namespace = ? AND aggregate_id = ? AND version > ? ORDER BY version LIMIT ?`,
    ),
    insertTransition: db.prepare<[string, string, number, string, string, string, string, string, string, string, string, number]>(
      `INSERT INTO onex_reducer_transitions (namespace, ${TRANSITION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertAggregate: db.prepare<[string, string, string, string, number, number]>(
      `INSERT INTO onex_reducer_aggregates (namespace, aggregate_id, state, context, version, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (namespace, aggregate_id) DO UPDATE SET state = excluded.state, context = excluded.context, version = excluded.version,
         updated_at = excluded.updated_at`,
    ),
    count: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM onex_reducer_aggregates WHERE namespace = ?'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

function recordOf(row: TransitionRow): TransitionRecord {
  return {
    aggregateId: row.aggregate_id,
    version: row.version,
    eventId: row.event_id,
    kind: row.kind,
    event: { type: row.event_type, payload: JSON.parse(row.payload) as unknown },
    from: row.from_state,
    to: row.to_state,
    context: JSON.parse(row.context) as unknown,
    intents: JSON.parse(row.intents) as Intent[],
    at: row.at,
  };
}

/** `JSON.stringify` that refuses what JSON cannot hold instead of silently storing `undefined`. */
function json(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new OnexError(ErrorCode.Validation, `${what} is not JSON-serialisable`);
  return text;
}

/**
 * The durable {@link ReducerStore}: SQLite through better-sqlite3 in WAL mode. Two tables — the latest snapshot
 * per aggregate, and every transition with `UNIQUE (aggregate, event id)` — written in one transaction per append,
 * so an aggregate's snapshot and history never disagree and a replayed event is found, whenever it was applied.
 *
 * @example
 * ```ts
 * const store = new SqliteReducerStore({ path: './data/orders.db' });
 * const node = new NodeReducer(defineReducerNode({ machine: orderMachine, version: '1.0.0' }), { store });
 * await node.initialize(); // runs store.init()
 * ```
 */
export class SqliteReducerStore implements ReducerStore {
  readonly #db: Database.Database;
  readonly #namespace: string;
  #statements: Statements | undefined;

  constructor(options: SqliteReducerStoreOptions) {
    this.#db = new Database(options.path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.#db.pragma('busy_timeout = 5000');
    this.#namespace = options.namespace ?? 'default';
  }

  get #s(): Statements {
    if (this.#statements === undefined) {
      throw new OnexError(ErrorCode.Lifecycle, this.#db.open ? 'SqliteReducerStore used before init()' : 'SqliteReducerStore is closed');
    }
    return this.#statements;
  }

  async init(): Promise<void> {
    if (this.#statements !== undefined) return;
    if (!this.#db.open) throw new OnexError(ErrorCode.Lifecycle, 'SqliteReducerStore is closed');
    this.#db.exec(SCHEMA);
    this.#statements = prepareStatements(this.#db);
  }

  async load(aggregateId: string): Promise<AggregateSnapshot | undefined> {
    const row = this.#s.load.get(this.#namespace, aggregateId);
    return row === undefined ? undefined : { state: row.state, context: JSON.parse(row.context) as unknown, version: row.version, updatedAt: row.updated_at };
  }

  async loadAt(aggregateId: string, version: number): Promise<AggregateSnapshot | undefined> {
    const row = this.#s.byVersion.get(this.#namespace, aggregateId, version);
    return row === undefined ? undefined : { state: row.to_state, context: JSON.parse(row.context) as unknown, version: row.version, updatedAt: row.at };
  }

  async findEvent(aggregateId: string, eventId: string): Promise<TransitionRecord | undefined> {
    const row = this.#s.byEvent.get(this.#namespace, aggregateId, eventId);
    return row === undefined ? undefined : recordOf(row);
  }

  async append(aggregateId: string, expectedVersion: number, change: TransitionChange): Promise<AppendResult> {
    const s = this.#s;
    const ns = this.#namespace;
    const payload = json(change.event.payload, 'event payload');
    const context = json(change.context, 'context');
    const intents = json(change.intents, 'intents');
    return this.#db
      .transaction((): AppendResult => {
        const existing = s.byEvent.get(ns, aggregateId, change.eventId);
        if (existing !== undefined) return { status: 'duplicate', record: recordOf(existing) };
        const version = s.version.get(ns, aggregateId)?.version ?? 0;
        if (version !== expectedVersion) {
          throw new OnexError(ErrorCode.Conflict, `Aggregate ${aggregateId} is at version ${version}, not ${expectedVersion}`, {
            context: { aggregateId, expectedVersion, version },
          });
        }
        const next = version + 1;
        s.insertTransition.run(ns, aggregateId, next, change.eventId, change.kind, change.event.type, payload, change.from, change.to, context, intents, change.at);
        s.upsertAggregate.run(ns, aggregateId, change.to, context, next, change.at);
        const record: TransitionRecord = { ...change, aggregateId, version: next };
        return { status: 'appended', record, snapshot: { state: change.to, context: change.context, version: next, updatedAt: change.at } };
      })
      .immediate();
  }

  async history(aggregateId: string, options: HistoryOptions): Promise<readonly TransitionRecord[]> {
    return this.#s.history.all(this.#namespace, aggregateId, options.afterVersion, Math.max(0, options.limit)).map(recordOf);
  }

  async health(): Promise<ComponentHealth> {
    try {
      const { n } = this.#s.count.get(this.#namespace)!;
      return { status: HealthStatus.Healthy, data: { kind: 'sqlite', namespace: this.#namespace, aggregates: n } };
    } catch (error) {
      return { status: HealthStatus.Unhealthy, detail: error instanceof Error ? error.message : 'sqlite unavailable' };
    }
  }

  async close(): Promise<void> {
    this.#statements = undefined;
    if (this.#db.open) this.#db.close();
  }
}
