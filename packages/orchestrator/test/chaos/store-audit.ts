// A second, independent witness of the store's fencing, inside the database itself (the SQLite file, or the
// PostgreSQL schema): triggers that record every write the store contract forbids whoever made it (a SIGKILLed
// process's last write included) — any change to a finished workflow, an epoch that goes backwards. The store's own
// statements never fire them.
import Database from 'better-sqlite3';
import pg from 'pg';
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
  // PostgreSQL answers bigint columns as text.
  old_epoch: z.coerce.number(),
  new_epoch: z.coerce.number(),
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

/** The same triggers on the `workflows` table of a PostgreSQL schema the store already created. */
export async function installPostgresStoreAudit(target: { readonly url: string; readonly schema: string }): Promise<void> {
  const s = pg.escapeIdentifier(target.schema);
  await withClient(target.url, (client) =>
    client.query(`
      CREATE TABLE ${s}.chaos_audit (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, workflow_id text NOT NULL, reason text NOT NULL,
        old_epoch bigint NOT NULL, new_epoch bigint NOT NULL, old_status text NOT NULL, new_status text NOT NULL);
      CREATE FUNCTION ${s}.chaos_audit_record() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO ${s}.chaos_audit (${COLUMNS}) VALUES (${VALUES.replace('REASON', 'TG_ARGV[0]')});
          RETURN NULL;
        END $$;
      CREATE TRIGGER chaos_audit_finished AFTER UPDATE ON ${s}.workflows FOR EACH ROW WHEN (OLD.status IN (${FINISHED}))
        EXECUTE FUNCTION ${s}.chaos_audit_record('a finished workflow was written');
      CREATE TRIGGER chaos_audit_epoch AFTER UPDATE ON ${s}.workflows FOR EACH ROW WHEN (NEW.epoch < OLD.epoch)
        EXECUTE FUNCTION ${s}.chaos_audit_record('the epoch went backwards');
    `),
  );
}

/** What the PostgreSQL triggers recorded, as fencing violations. */
export async function readPostgresStoreAudit(target: { readonly url: string; readonly schema: string }): Promise<FencingViolation[]> {
  const result = await withClient(target.url, (client) =>
    client.query(`SELECT ${COLUMNS} FROM ${pg.escapeIdentifier(target.schema)}.chaos_audit ORDER BY seq`),
  );
  return result.rows.map((raw: unknown) => {
    const row = AuditRow.parse(raw);
    return {
      workflowId: row.workflow_id,
      instance: 'postgres-audit',
      epoch: row.new_epoch,
      reason: `${row.reason} (epoch ${row.old_epoch} → ${row.new_epoch}, status ${row.old_status} → ${row.new_status})`,
    };
  });
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
