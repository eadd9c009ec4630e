import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { IdempotencyStore, TransactionManager } from '@onex/effect';
import { PostgresIdempotencyStore, PostgresTransactionManager } from '@onex/effect/postgres';
import { SqliteIdempotencyStore, SqliteTransactionManager, type SqliteTransaction } from '@onex/effect/sqlite';
import type { WorkflowStore } from '@onex/orchestrator';
import { PostgresWorkflowStore } from '@onex/orchestrator/postgres';
import { SqliteWorkflowStore } from '@onex/orchestrator/sqlite';
import type { ReducerStore } from '@onex/reducer';
import { PostgresReducerStore } from '@onex/reducer/postgres';
import { SqliteReducerStore } from '@onex/reducer/sqlite';
import { postgresSql, sqliteSql, type SqlTransaction } from './sql-transaction.js';

/**
 * The one place the demo chooses its stores: SQLite (default: a file per node in the data folder, WAL mode, nothing
 * to install) or PostgreSQL (`--store postgres`: one server, a schema per node, shared by that node's replicas). The
 * launcher tells its children through the environment ({@link StoreEnv}); the nodes only see the `WorkflowStore`,
 * `ReducerStore`, `IdempotencyStore` and `TransactionManager` interfaces, and the inventory's SQL runs on both.
 */
export const StoreKind = { Sqlite: 'sqlite', Postgres: 'postgres' } as const;
/** One of the {@link StoreKind} values. */
export type StoreKind = (typeof StoreKind)[keyof typeof StoreKind];

/** The environment variables the launcher sets for its children. */
export const StoreEnv = {
  /** `sqlite` (default) or `postgres`. */
  Kind: 'ONEX_DEMO_STORE',
  /** The PostgreSQL connection string. */
  Url: 'DATABASE_URL',
  /** Prefix of the run's schemas: a node's schema is `<prefix>_<node>`. */
  SchemaPrefix: 'ONEX_DEMO_SCHEMA_PREFIX',
} as const;

/** The PostgreSQL schema of each node that has state (a plain identifier suffix). */
export const SchemaOf = { Orchestrator: 'orchestrator', Inventory: 'inventory', Payments: 'payments', Ledger: 'ledger' } as const;
/** One of the {@link SchemaOf} values. */
export type SchemaOf = (typeof SchemaOf)[keyof typeof SchemaOf];

/**
 * How long an effect replica's idempotency key stays held after the replica died mid-operation (PostgreSQL): the
 * other replica answers `in_progress` (retryable) until then. Short, so a killed replica's charges resume quickly.
 */
const IDEMPOTENCY_LEASE_MS = 3_000;

/** Where the PostgreSQL stores live, from the environment. */
interface PostgresTarget {
  readonly url: string;
  readonly schema: (node: SchemaOf) => string;
}

/** Which store backs the stack, from the environment the launcher set. */
export function storeKind(env: NodeJS.ProcessEnv = process.env): StoreKind {
  return env[StoreEnv.Kind] === StoreKind.Postgres ? StoreKind.Postgres : StoreKind.Sqlite;
}

function postgresTarget(env: NodeJS.ProcessEnv = process.env): PostgresTarget | undefined {
  if (storeKind(env) !== StoreKind.Postgres) return undefined;
  const url = env[StoreEnv.Url];
  const prefix = env[StoreEnv.SchemaPrefix] ?? 'onex_demo';
  if (url === undefined || url === '') throw new Error(`${StoreEnv.Kind}=postgres needs ${StoreEnv.Url}`);
  return { url, schema: (node) => `${prefix}_${node}` };
}

function sqlitePath(dataDir: string, file: string): string {
  mkdirSync(dataDir, { recursive: true });
  return join(dataDir, file);
}

/** The orchestrator's workflow store (one schema shared by every orchestrator replica on PostgreSQL). */
export function openWorkflowStore(dataDir: string): WorkflowStore {
  const target = postgresTarget();
  if (target !== undefined) return new PostgresWorkflowStore({ connectionString: target.url, schema: target.schema(SchemaOf.Orchestrator), retentionMs: 0 });
  return new SqliteWorkflowStore({ path: sqlitePath(dataDir, 'orchestrator.db'), retentionMs: 0 });
}

/** The order ledger's aggregate store. */
export function openReducerStore(dataDir: string): ReducerStore {
  const target = postgresTarget();
  if (target !== undefined) return new PostgresReducerStore({ connectionString: target.url, schema: target.schema(SchemaOf.Ledger) });
  return new SqliteReducerStore({ path: sqlitePath(dataDir, 'ledger.db') });
}

/**
 * An effect node's stores: its transaction manager and its idempotency store on one connection (SQLite) or pool
 * (PostgreSQL), so a transactional operation's writes and its idempotency completion commit together (exactly once),
 * and the SQL its operations run.
 */
export interface EffectStores {
  readonly kind: StoreKind;
  readonly transactions: TransactionManager<unknown>;
  readonly idempotency: IdempotencyStore;
  /** The SQL of the transaction `transactions` handed to an operation (`ctx.tx`). */
  sql(tx: unknown): SqlTransaction;
  /** Runs `fn` in a transaction of its own (setup, the read side). */
  transaction<T>(fn: (sql: SqlTransaction) => Promise<T>): Promise<T>;
  /** Creates the node's schema if missing (PostgreSQL; its replicas may start together). Call before `transaction`. */
  init(): Promise<void>;
  close(): Promise<void>;
}

/** The stores of effect node `node`: `<dataDir>/<node>.db` on SQLite, schema `<prefix>_<node>` on PostgreSQL. */
export function openEffectStores(dataDir: string, node: typeof SchemaOf.Inventory | typeof SchemaOf.Payments): EffectStores {
  const target = postgresTarget();
  return target === undefined ? sqliteEffectStores(sqlitePath(dataDir, `${node}.db`)) : postgresEffectStores(target.url, target.schema(node));
}

function sqliteEffectStores(path: string): EffectStores {
  const database = new Database(path);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  const transactions = new SqliteTransactionManager({ database });
  return {
    kind: StoreKind.Sqlite,
    transactions,
    idempotency: new SqliteIdempotencyStore({ transactions }),
    sql: (tx) => sqliteSql(tx as SqliteTransaction),
    transaction: (fn) => transactions.run((tx) => fn(sqliteSql(tx))),
    init: async () => {},
    close: async () => {
      if (database.open) database.close();
    },
  };
}

function postgresEffectStores(url: string, schema: string): EffectStores {
  // The node's own tables are unqualified in its SQL: the pool's sessions find them on their search_path.
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000, options: `-c search_path=${schema}` });
  // An idle connection the server dropped must not crash the process: the next query reconnects.
  pool.on('error', () => undefined);
  const transactions = new PostgresTransactionManager({ pool, timeoutMs: 10_000 });
  return {
    kind: StoreKind.Postgres,
    transactions,
    idempotency: new PostgresIdempotencyStore({ transactions, schema, leaseMs: IDEMPOTENCY_LEASE_MS }),
    sql: (tx) => postgresSql(tx as pg.PoolClient),
    transaction: (fn) => transactions.run((client) => fn(postgresSql(client))),
    init: () =>
      transactions.run(async (client) => {
        // Serialised on a lock: two replicas' CREATE SCHEMA IF NOT EXISTS at once can still collide.
        await postgresSql(client).lock([`schema:${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
      }),
    close: async () => {
      await transactions.close();
      await pool.end();
    },
  };
}
