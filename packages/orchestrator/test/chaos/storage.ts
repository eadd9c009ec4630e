// Where the processes of a process-level test keep their state, as the test passes it to them (one JSON argument):
// the orchestrators' workflow store (a SQLite file, or a PostgreSQL schema) and the effect peers' storage (their
// SQLite file, or a PostgreSQL schema shared by the replicas of one node). The factory of the workflow store lives
// here so the orchestrator processes and the test (which reads the records at the end) open it alike.
import { z } from 'zod';
import { PostgresWorkflowStore } from '../../src/store/postgres-store.js';
import { SqliteWorkflowStore } from '../../src/store/sqlite-store.js';
import type { WorkflowStore } from '../../src/store/workflow-store.js';

/** A PostgreSQL schema on a server: where to connect, and which schema the tables live in. */
export const PostgresTarget = z.object({ kind: z.literal('postgres'), url: z.string().min(1), schema: z.string().min(1) });
export type PostgresTarget = z.infer<typeof PostgresTarget>;

/** The orchestrators' workflow store. */
export const WorkflowStoreTarget = z.discriminatedUnion('kind', [z.object({ kind: z.literal('sqlite'), path: z.string().min(1) }), PostgresTarget]);
export type WorkflowStoreTarget = z.infer<typeof WorkflowStoreTarget>;

/** An effect peer's ledger, tombstones and idempotency keys. */
export const PeerStorage = z.discriminatedUnion('kind', [z.object({ kind: z.literal('sqlite'), db: z.string().min(1) }), PostgresTarget]);
export type PeerStorage = z.infer<typeof PeerStorage>;

/** Opens the workflow store at `target` (no background purge: the test reads every record at the end). */
export function openWorkflowStore(target: WorkflowStoreTarget, options: { readonly maxConnections?: number } = {}): WorkflowStore {
  switch (target.kind) {
    case 'sqlite':
      return new SqliteWorkflowStore({ path: target.path, purgeIntervalMs: 0 });
    case 'postgres':
      return new PostgresWorkflowStore({
        connectionString: target.url,
        schema: target.schema,
        purgeIntervalMs: 0,
        ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
      });
  }
}
