// What a chaos peer writes: its ledger table (one row per application, in the transaction of its idempotency
// completion) and the lines of its refusals file. Shared by the peer processes and the test that reads them.
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
  applied_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstones (
  workflow_id TEXT NOT NULL,
  step TEXT NOT NULL,
  PRIMARY KEY (workflow_id, step)
) WITHOUT ROWID;
`;

/** One row of the ledger table. */
export const LedgerRow = z.object({ workflow_id: z.string(), step: z.string(), op: z.enum(['do', 'undo']), operation: z.string(), key: z.string() });
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
