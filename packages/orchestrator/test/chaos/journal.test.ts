// The chaos test's own checks, on hand-made records: each fencing rule fires on the case it exists for and on no
// case whose order the journals cannot prove; the recorded ledger feeds the campaign's invariants faithfully.
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFencing, type Journal, type JournalLine } from './journal.js';
import { readLedger } from './ledger.js';
import { LEDGER_SCHEMA, type RefusalLine } from './ledger-schema.js';

const grant = (id: string, epoch: number, t: number): JournalLine => ({ k: 'grant', id, epoch, via: 'claim', t: String(t) });
const commit = (id: string, epoch: number, t0: number, finishes = false): JournalLine => ({ k: 'commit', id, epoch, t0: String(t0), t1: String(t0 + 5), finishes });
const journal = (instance: string, lines: JournalLine[]): Journal => ({ instance, lines });

describe('checkFencing', () => {
  it('accepts commits at the epoch an incarnation was granted', () => {
    const report = checkFencing([journal('a#1', [grant('w', 1, 10), commit('w', 1, 20), commit('w', 1, 30, true)])]);
    expect(report.violations).toEqual([]);
    expect(report.acceptedCommits).toBe(2);
  });

  it('flags a commit accepted at an epoch its incarnation was never granted', () => {
    const report = checkFencing([journal('a#1', [grant('w', 1, 10)]), journal('b#1', [commit('w', 1, 20)])]);
    expect(report.violations.map((v) => v.instance)).toEqual(['b#1']);
  });

  it('flags a commit sent after a newer epoch was granted, not one sent before the grant was made', () => {
    const stale = checkFencing([journal('a#1', [grant('w', 1, 10), commit('w', 1, 40)]), journal('b#1', [grant('w', 2, 30)])]);
    expect(stale.violations.map((v) => v.reason)).toEqual(['commit accepted at epoch 1 although epoch 2 had been granted to b#1 before it was sent']);
    // Sent at 25, the grant journaled at 30: SQLite may have ordered the commit first — not judged.
    const overlapping = checkFencing([journal('a#1', [grant('w', 1, 10), commit('w', 1, 25)]), journal('b#1', [grant('w', 2, 30)])]);
    expect(overlapping.violations).toEqual([]);
  });

  it('flags a commit accepted after the workflow was finished', () => {
    const report = checkFencing([journal('a#1', [grant('w', 1, 10), commit('w', 1, 20, true), commit('w', 1, 40)])]);
    expect(report.violations.map((v) => v.reason)).toEqual(['commit accepted after a commit that finished the workflow']);
  });

  it('counts refusals by their reason', () => {
    const refused = (why: 'epoch' | 'finished'): JournalLine => ({ k: 'refused', id: 'w', epoch: 1, t0: '50', t1: '51', code: 'CONFLICT', why });
    const report = checkFencing([journal('a#1', [grant('w', 1, 10), refused('epoch'), refused('epoch'), refused('finished')])]);
    expect(report).toMatchObject({ fencedByEpoch: 2, refusedFinished: 1, acceptedCommits: 0, grants: 1 });
  });
});

describe('readLedger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onex-chaos-ledger-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts applications and refusals by business effect, dropping only a cut last line', () => {
    const files = { db: join(dir, 'peer.db'), refusals: join(dir, 'peer.refusals.jsonl') };
    const db = new Database(files.db);
    db.exec(LEDGER_SCHEMA);
    const insert = db.prepare("INSERT INTO ledger (workflow_id, step, op, operation, key, applied_at) VALUES (?, ?, ?, 'op', ?, 0)");
    insert.run('w1', 'reserve', 'do', 'w1:reserve');
    insert.run('w1', 'reserve', 'do', 'w1:reserve:again');
    insert.run('w1', 'reserve', 'undo', 'w1:reserve:compensate');
    db.close();
    const refusal: RefusalLine = { workflowId: 'w1', step: 'charge', op: 'undo', operation: 'refund', key: 'w1:charge:compensate', reason: 'planned' };
    appendFileSync(files.refusals, `${JSON.stringify(refusal)}\n${JSON.stringify({ ...refusal, step: 'reserve', op: 'do', reason: 'late' })}\n{"workflowId":`);

    const ledger = readLedger([files]);
    expect(ledger.entry('w1', 'reserve', 'do')).toMatchObject({ applied: 2, refused: 1 });
    expect([...ledger.entry('w1', 'reserve', 'do').keys]).toEqual(['w1:reserve', 'w1:reserve:again', 'w1:charge:compensate']);
    expect(ledger.entry('w1', 'reserve', 'undo')).toMatchObject({ applied: 1, refused: 0 });
    expect(ledger.entry('w1', 'charge', 'undo')).toMatchObject({ applied: 0, refused: 1 });
    expect(ledger.entry('w2', 'charge', 'do').applied).toBe(0);
    expect({ applied: ledger.appliedRows, planned: ledger.plannedRefusals, late: ledger.lateForward }).toEqual({ applied: 3, planned: 1, late: 1 });
  });
});
