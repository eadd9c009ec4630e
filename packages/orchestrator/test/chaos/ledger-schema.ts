// What a chaos peer writes: its ledger table (one row per application, in the transaction of its idempotency
// completion) and the lines of its refusals file. Shared by the peer processes and the tests that read them. On
// SQLite each peer process has its own file and creates the tables; on PostgreSQL the replicas of a node share one
// schema, which the test creates before it starts them (two replicas racing a CREATE TABLE IF NOT EXISTS can fail).
import pg from 'pg';
import { z } from 'zod';

/** The peer's own tables: applications, and tombstones of compensated steps (a late forward call is refused). */
export const LEDGER_SCHEMA = `
CREATE TABLE IF NOT EXISTS ledger (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  workflow_id TEXT NOT NULL,
  step TEXT NOT NULL,
  op TEXT NOT NULL,
  operation TEXT NOT NULL,
  key TEXT NOT NULL,
  replica TEXT NOT NULL DEFAULT '',
  applied_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstones (
  workflow_id TEXT NOT NULL,
  step TEXT NOT NULL,
  PRIMARY KEY (workflow_id, step)
) WITHOUT ROWID;
`;

/** The same tables in the PostgreSQL schema `schema` (created if missing). */
export function postgresLedgerSchema(schema: string): string {
  const s = pg.escapeIdentifier(schema);
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.ledger (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workflow_id text NOT NULL,
  step text NOT NULL,
  op text NOT NULL,
  operation text NOT NULL,
  key text NOT NULL,
  replica text NOT NULL DEFAULT '',
  applied_at double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.tombstones (
  workflow_id text NOT NULL,
  step text NOT NULL,
  PRIMARY KEY (workflow_id, step)
);
`;
}

/** One row of the ledger table. */
export const LedgerRow = z.object({
  workflow_id: z.string(),
  step: z.string(),
  op: z.enum(['do', 'undo']),
  operation: z.string(),
  key: z.string(),
  replica: z.string(),
});
export type LedgerRow = z.infer<typeof LedgerRow>;

/** One line of a refusals file: a call refused definitely, as planned or because its step was compensated first. */
export const RefusalLine = z.object({
  workflowId: z.string(),
  step: z.string(),
  op: z.enum(['do', 'undo']),
  operation: z.string(),
  key: z.string(),
  reason: z.enum(['planned', 'late']),
});
export type RefusalLine = z.infer<typeof RefusalLine>;
