// The storage of a chaos peer process, SQLite or PostgreSQL behind one shape: the transaction manager its
// operations run in, the idempotency store that records their completions inside those transactions (exactly-once),
// and the ledger statements an operation makes in its transaction. On PostgreSQL several replicas of one node share
// the schema: an operation first takes a transaction-level advisory lock on its business effect, so a forward call
// and the compensation of the same step never interleave on two replicas (the tombstone check is then exact, as it
// is on SQLite, whose write transactions are serial anyway).
import Database from 'better-sqlite3';
import pg from 'pg';
import type { IdempotencyStore, TransactionManager } from '@onex/effect';
import { PostgresIdempotencyStore, PostgresTransactionManager } from '@onex/effect/postgres';
import { SqliteIdempotencyStore, SqliteTransactionManager, type SqliteTransaction } from '@onex/effect/sqlite';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { PeerStorage } from './storage.js';

/** One application, as the ledger records it. */
export interface LedgerEntry {
  readonly workflowId: string;
  readonly step: string;
  readonly op: 'do' | 'undo';
  readonly operation: string;
  readonly key: string;
  readonly replica: string;
}

/** The ledger statements of one operation, inside its transaction. */
export interface LedgerTx {
  /** Serialises this operation with every other one on the same business effect until the transaction ends. */
  lock(workflowId: string, step: string): Promise<void>;
  /** True once the step was compensated. */
  tombstoned(workflowId: string, step: string): Promise<boolean>;
  /** Records an application; answers its row number. */
  record(entry: LedgerEntry): Promise<string>;
  /** Marks the step compensated. */
  tombstone(workflowId: string, step: string): Promise<void>;
}

/** What a peer process runs on. */
export interface PeerBackend<TTx> {
  readonly transactions: TransactionManager<TTx>;
  readonly idempotencyStore: IdempotencyStore;
  readonly ledger: (tx: TTx) => LedgerTx;
  close(): Promise<void>;
}

/** How long an in-progress key is held without renewal (a killed peer's keys free up soon). */
const IDEMPOTENCY_LEASE_MS = 2_000;

/** Opens the peer's storage; the SQLite file's tables are created here, the PostgreSQL schema's by the test. */
export function openPeerBackend(
  storage: PeerStorage,
): { readonly kind: 'sqlite'; readonly backend: PeerBackend<SqliteTransaction> } | { readonly kind: 'postgres'; readonly backend: PeerBackend<pg.PoolClient> } {
  switch (storage.kind) {
    case 'sqlite':
      return { kind: 'sqlite', backend: sqliteBackend(storage.db) };
    case 'postgres':
      return { kind: 'postgres', backend: postgresBackend(storage.url, storage.schema) };
  }
}

function sqliteBackend(path: string): PeerBackend<SqliteTransaction> {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.exec(LEDGER_SCHEMA);
  const transactions = new SqliteTransactionManager({ database: db });
  const idempotencyStore = new SqliteIdempotencyStore({ transactions, leaseMs: IDEMPOTENCY_LEASE_MS });
  return {
    transactions,
    idempotencyStore,
    ledger: (tx) => ({
      lock: () => Promise.resolve(),
      tombstoned: (workflowId, step) => Promise.resolve(tx.get('SELECT 1 AS x FROM tombstones WHERE workflow_id = ? AND step = ?', workflowId, step) !== undefined),
      record: (e) =>
        Promise.resolve(
          String(
            tx.run(
              'INSERT INTO ledger (workflow_id, step, op, operation, key, replica, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
              e.workflowId,
              e.step,
              e.op,
              e.operation,
              e.key,
              e.replica,
              Date.now(),
            ).lastInsertRowid,
          ),
        ),
      tombstone: (workflowId, step) => {
        tx.run('INSERT OR IGNORE INTO tombstones (workflow_id, step) VALUES (?, ?)', workflowId, step);
        return Promise.resolve();
      },
    }),
    close: () => {
      idempotencyStore.close();
      db.close();
      return Promise.resolve();
    },
  };
}

function postgresBackend(url: string, schema: string): PeerBackend<pg.PoolClient> {
  // Enough connections for every call the orchestrators may have in flight at this replica, each one holding its
  // transaction for the operation's delay.
  const transactions = new PostgresTransactionManager({ connectionString: url, maxConnections: 32, timeoutMs: 10_000 });
  const idempotencyStore = new PostgresIdempotencyStore({ transactions, schema, leaseMs: IDEMPOTENCY_LEASE_MS });
  const s = pg.escapeIdentifier(schema);
  return {
    transactions,
    idempotencyStore,
    ledger: (tx) => ({
      lock: async (workflowId, step) => {
        await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`chaos-ledger:${workflowId}:${step}`]);
      },
      tombstoned: async (workflowId, step) => ((await tx.query(`SELECT 1 FROM ${s}.tombstones WHERE workflow_id = $1 AND step = $2`, [workflowId, step])).rowCount ?? 0) > 0,
      record: async (e) => {
        const result = await tx.query<{ seq: string }>(
          `INSERT INTO ${s}.ledger (workflow_id, step, op, operation, key, replica, applied_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq`,
          [e.workflowId, e.step, e.op, e.operation, e.key, e.replica, Date.now()],
        );
        return String(result.rows[0]?.seq);
      },
      tombstone: async (workflowId, step) => {
        await tx.query(`INSERT INTO ${s}.tombstones (workflow_id, step) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [workflowId, step]);
      },
    }),
    close: async () => {
      await idempotencyStore.close();
      await transactions.close();
    },
  };
}
