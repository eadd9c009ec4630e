import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { IdempotencyStore, TransactionManager } from '@onex/effect';
import { SqliteIdempotencyStore, SqliteTransactionManager } from '@onex/effect/sqlite';
import type { WorkflowStore } from '@onex/orchestrator';
import { SqliteWorkflowStore } from '@onex/orchestrator/sqlite';
import type { ReducerStore } from '@onex/reducer';
import { SqliteReducerStore } from '@onex/reducer/sqlite';

/**
 * The one place the demo chooses its stores. Today every ONEX store is SQLite (a file per node in the data folder,
 * WAL mode, nothing to install). A PostgreSQL deployment changes this file only: `DATABASE_URL` selects it, and the
 * nodes receive the same `WorkflowStore` / `ReducerStore` / `IdempotencyStore` / `TransactionManager` interfaces.
 */
export const StoreKind = { Sqlite: 'sqlite', Postgres: 'postgres' } as const;
/** One of the {@link StoreKind} values. */
export type StoreKind = (typeof StoreKind)[keyof typeof StoreKind];

/** Which store backs the stack, from the environment. */
export function storeKind(env: NodeJS.ProcessEnv = process.env): StoreKind {
  const url = env['DATABASE_URL'];
  return url !== undefined && /^postgres(ql)?:/.test(url) ? StoreKind.Postgres : StoreKind.Sqlite;
}

function unsupported(what: string): Error {
  return new Error(`DATABASE_URL points at PostgreSQL, but ONEX has no PostgreSQL ${what} yet: unset DATABASE_URL to use SQLite`);
}

function sqlitePath(dataDir: string, file: string): string {
  mkdirSync(dataDir, { recursive: true });
  return join(dataDir, file);
}

/** The orchestrator's workflow store. */
export function openWorkflowStore(dataDir: string): WorkflowStore {
  if (storeKind() === StoreKind.Postgres) throw unsupported('workflow store');
  return new SqliteWorkflowStore({ path: sqlitePath(dataDir, 'orchestrator.db'), retentionMs: 0 });
}

/** The order ledger's aggregate store. */
export function openReducerStore(dataDir: string): ReducerStore {
  if (storeKind() === StoreKind.Postgres) throw unsupported('reducer store');
  return new SqliteReducerStore({ path: sqlitePath(dataDir, 'ledger.db') });
}

/** An effect node's database, its transaction manager and its idempotency store (same connection: exactly-once). */
export interface EffectStores {
  readonly database: Database.Database;
  readonly transactions: TransactionManager<unknown> & SqliteTransactionManager;
  readonly idempotency: IdempotencyStore;
  close(): void;
}

/** The stores of an effect node whose state lives in `<dataDir>/<file>`. */
export function openEffectStores(dataDir: string, file: string): EffectStores {
  if (storeKind() === StoreKind.Postgres) throw unsupported('transaction manager');
  const database = new Database(sqlitePath(dataDir, file));
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  const transactions = new SqliteTransactionManager({ database });
  const idempotency = new SqliteIdempotencyStore({ transactions });
  return {
    database,
    transactions,
    idempotency,
    close: () => {
      if (database.open) database.close();
    },
  };
}
