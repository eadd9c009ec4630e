// A second, independent witness of the store's fencing, inside the SQLite file itself: triggers that record every
// write the store contract forbids whoever made it (a SIGKILLed process's last write included) — any change to a
// finished workflow, an epoch that goes backwards. The store's own statements never fire them.
import Database from 'better-sqlite3';
import { z } from 'zod';
import { TERMINAL_WORKFLOW_STATUSES } from '../../src/store/workflow-record.js';
import type { FencingViolation } from '../faults/fault-store.js';

const FINISHED = [...TERMINAL_WORKFLOW_STATUSES].map((s) => `'${s}'`).join(', ');
const COLUMNS = 'workflow_id, reason, old_epoch, new_epoch, old_status, new_status';
const VALUES = 'OLD.id, REASON, OLD.epoch, NEW.epoch, OLD.status, NEW.status';

/** Adds the audit table and its triggers to a workflow database whose schema the store already created. */
export function installStoreAudit(path: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.exec(`
      CREATE TABLE chaos_audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, ${COLUMNS});
      CREATE TRIGGER chaos_audit_finished AFTER UPDATE ON onex_workflows WHEN OLD.status IN (${FINISHED})
      BEGIN INSERT INTO chaos_audit (${COLUMNS}) VALUES (${VALUES.replace('REASON', "'a finished workflow was written'")}); END;
      CREATE TRIGGER chaos_audit_epoch AFTER UPDATE ON onex_workflows WHEN NEW.epoch < OLD.epoch
      BEGIN INSERT INTO chaos_audit (${COLUMNS}) VALUES (${VALUES.replace('REASON', "'the epoch went backwards'")}); END;
    `);
  } finally {
    db.close();
  }
}

const AuditRow = z.object({
  workflow_id: z.string(),
  reason: z.string(),
  old_epoch: z.number(),
  new_epoch: z.number(),
  old_status: z.string(),
  new_status: z.string(),
});

/** What the triggers recorded, as fencing violations. */
export function readStoreAudit(path: string): FencingViolation[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(`SELECT ${COLUMNS} FROM chaos_audit ORDER BY seq`)
      .all()
      .map((raw) => {
        const row = AuditRow.parse(raw);
        return {
          workflowId: row.workflow_id,
          instance: 'sqlite-audit',
          epoch: row.new_epoch,
          reason: `${row.reason} (epoch ${row.old_epoch} → ${row.new_epoch}, status ${row.old_status} → ${row.new_status})`,
        };
      });
  } finally {
    db.close();
  }
}
