// Reads what the chaos peers did — their ledger tables (SQLite files, or one PostgreSQL schema shared by replicas)
// and refusals files — into the fault campaign's EffectLedger shape, so the campaign's invariant checks
// (test/faults/invariants.ts) judge the process-level runs too.
import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { EffectLedger, type EffectEntry, type EffectInput } from '../faults/effect-peers.js';
import { LedgerRow, RefusalLine } from './ledger-schema.js';

/** An EffectLedger filled from records rather than by serving calls. */
export class RecordedLedger extends EffectLedger {
  readonly #entries = new Map<string, EffectEntry>();
  /** Rows read, for the summary. */
  appliedRows = 0;
  plannedRefusals = 0;
  /** Applications by the replica that made them. */
  readonly appliedBy = new Map<string, number>();

  override entry(workflowId: string, step: string, op: EffectInput['op']): Readonly<EffectEntry> {
    return this.#entries.get(EffectLedger.id(workflowId, step, op)) ?? { applied: 0, refused: 0, keys: new Set() };
  }

  override entries(): ReadonlyMap<string, Readonly<EffectEntry>> {
    return this.#entries;
  }

  /** Not a peer: the applications were made by the peer processes. */
  override apply(): never {
    throw new Error('RecordedLedger only reads what the peer processes recorded');
  }

  /** One application (`applied`) or definite refusal, as a peer recorded it. */
  record(workflowId: string, step: string, op: EffectInput['op'], key: string, outcome: 'applied' | 'planned' | 'late', replica = ''): void {
    const id = EffectLedger.id(workflowId, step, op);
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      entry = { applied: 0, refused: 0, keys: new Set() };
      this.#entries.set(id, entry);
    }
    if (key !== '') entry.keys.add(key);
    if (outcome === 'applied') {
      entry.applied += 1;
      this.appliedRows += 1;
      this.appliedBy.set(replica, (this.appliedBy.get(replica) ?? 0) + 1);
      return;
    }
    entry.refused += 1;
    if (outcome === 'late') this.lateForward += 1;
    else this.plannedRefusals += 1;
  }
}

/** Where one peer keeps its records. */
export interface PeerFiles {
  readonly db: string;
  readonly refusals: string;
}

/**
 * Reads the peers' ledgers (read-only) and refusals. A refusals file whose last line was cut by a SIGKILL mid-write
 * loses that line only; any other line that does not parse is an error of the harness.
 */
export function readLedger(peers: readonly PeerFiles[]): RecordedLedger {
  const ledger = new RecordedLedger();
  for (const files of peers) {
    const db = new Database(files.db, { readonly: true, fileMustExist: true });
    try {
      for (const raw of db.prepare('SELECT workflow_id, step, op, operation, key, replica FROM ledger ORDER BY seq').all()) {
        const row = LedgerRow.parse(raw);
        ledger.record(row.workflow_id, row.step, row.op, row.key, 'applied', row.replica);
      }
    } finally {
      db.close();
    }
    readRefusals(ledger, files.refusals);
  }
  return ledger;
}

/** Reads the ledger the replicas of one node share in the PostgreSQL schema `schema`, and their refusals files. */
export async function readPostgresLedger(target: { readonly url: string; readonly schema: string }, refusals: readonly string[]): Promise<RecordedLedger> {
  const ledger = new RecordedLedger();
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  try {
    const result = await client.query(`SELECT workflow_id, step, op, operation, key, replica FROM ${pg.escapeIdentifier(target.schema)}.ledger ORDER BY seq`);
    for (const raw of result.rows) {
      const row = LedgerRow.parse(raw);
      ledger.record(row.workflow_id, row.step, row.op, row.key, 'applied', row.replica);
    }
  } finally {
    await client.end();
  }
  for (const path of refusals) readRefusals(ledger, path);
  return ledger;
}

function readRefusals(ledger: RecordedLedger, path: string): void {
  if (!existsSync(path)) return;
  const lines = readFileSync(path, 'utf8').split('\n');
  for (const [i, text] of lines.entries()) {
    if (text === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      if (i === lines.length - 1) continue;
      throw new Error(`${path}:${i + 1} is not JSON`, { cause: error });
    }
    const line = RefusalLine.parse(parsed);
    ledger.record(line.workflowId, line.step, line.op, line.key, line.reason);
  }
}
