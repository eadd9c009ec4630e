// The fault campaign's own parts, checked in isolation: a check that cannot fail proves nothing.
import { ErrorCode } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { MemoryWorkflowStore } from '../../src/store/memory-store.js';
import { StepStatus, WorkflowStatus, type RecordedError, type StepRecord, type WorkflowRecord } from '../../src/store/workflow-record.js';
import { EffectLedger } from './effect-peers.js';
import { FaultStore, FencingObserver, type StoreMutant } from './fault-store.js';
import { DEFAULT_FAULT_RATES, FaultSwitch, FaultTally } from './faults.js';
import { checkInvariants, countByInvariant } from './invariants.js';
import { Prng } from './prng.js';

const runnable = [{ type: 'saga', version: '1.0.0' }];

function record(id: string, owner: string): WorkflowRecord {
  return { id, type: 'saga', version: '1.0.0', status: WorkflowStatus.Pending, input: {}, correlationId: id, createdAt: 0, updatedAt: 0, owner, leaseExpiresAt: 100, epoch: 1, steps: {} };
}

async function takeover(mutant?: StoreMutant) {
  const shared = new MemoryWorkflowStore();
  const observer = new FencingObserver();
  const faults = new FaultSwitch(DEFAULT_FAULT_RATES, new FaultTally());
  faults.enabled = false;
  const wrap = (instance: string) => new FaultStore({ store: shared, instance, observer, faults, random: new Prng(1), ...(mutant === undefined ? {} : { mutant }) });
  const a = wrap('a');
  const b = wrap('b');
  await a.create(record('w1', 'a'));
  // a's lease ran out: b claims (epoch 2); a, late, commits with the epoch it holds (1).
  const claimed = await b.claim({ owner: 'b', leaseMs: 100, now: 1_000, limit: 10, runnable });
  const stale = a.commit('w1', 1, { workflow: { status: WorkflowStatus.Running } });
  return { observer, claimed, stale };
}

describe('fault campaign harness', () => {
  it('FaultStore: the store refuses a fenced commit and the observer records no violation', async () => {
    const { observer, claimed, stale } = await takeover();
    expect(claimed.map((r) => r.epoch)).toEqual([2]);
    await expect(stale).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(observer.violations).toEqual([]);
    expect(observer.refusedCommits).toBe(1);
  });

  it('FaultStore mutant commitWithStoredEpoch: the fenced commit goes through and the observer flags it', async () => {
    const { observer, stale } = await takeover('commitWithStoredEpoch');
    await stale;
    expect(observer.violations).toMatchObject([{ workflowId: 'w1', instance: 'a', epoch: 2 }]);
  });

  it('FaultStore.crash: later calls reject and write nothing', async () => {
    const shared = new MemoryWorkflowStore();
    const faults = new FaultSwitch(DEFAULT_FAULT_RATES, new FaultTally());
    faults.enabled = false;
    const store = new FaultStore({ store: shared, instance: 'a', observer: new FencingObserver(), faults, random: new Prng(1) });
    await store.create(record('w1', 'a'));
    store.crash();
    await expect(store.commit('w1', 1, { workflow: { status: WorkflowStatus.Running } })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect((await shared.get('w1'))?.status).toBe(WorkflowStatus.Pending);
  });

  it('invariants: an undo in a completed workflow, an unundone step, and compensation_failed after a retryable error are violations', () => {
    const ledger = new EffectLedger();
    const tally = new FaultTally();
    const step = (name: string, status: StepRecord['status'], extra: Partial<StepRecord> = {}): StepRecord => ({ name, status, attempts: 1, attemptErrors: [], ...extra });
    ledger.apply({ workflowId: 'done', step: 'reserve', op: 'do', amount: 1, refuse: false }, 'done:reserve', tally);
    ledger.apply({ workflowId: 'done', step: 'reserve', op: 'undo', amount: 1, refuse: false }, 'done:reserve:compensate', tally);
    ledger.apply({ workflowId: 'failed', step: 'reserve', op: 'do', amount: 1, refuse: false }, 'failed:reserve', tally);
    const timeout: RecordedError = { code: ErrorCode.Timeout, message: 'timed out', retryable: true };
    const workflows = new Map<string, WorkflowRecord>([
      ['done', { ...record('done', 'a'), status: WorkflowStatus.Completed, steps: { reserve: step('reserve', StepStatus.Completed) } }],
      ['failed', { ...record('failed', 'a'), status: WorkflowStatus.CompensationFailed, steps: { reserve: step('reserve', StepStatus.CompensationFailed, { compensationError: timeout }) } }],
    ]);
    const violations = checkInvariants({ workflows, unstarted: [], compensable: ['reserve'], ledger, fencing: [] });
    expect(countByInvariant(violations)).toEqual({ terminal: 0, appliedOnce: 0, compensatedOnce: 2, fenced: 0, compensationFailedOnRefusal: 2, outcome: 0 });
  });

  it('invariants: a definitely refused compensation in a compensation_failed workflow is no violation', () => {
    const ledger = new EffectLedger();
    const tally = new FaultTally();
    ledger.apply({ workflowId: 'w', step: 'charge', op: 'do', amount: 1, refuse: false }, 'w:charge', tally);
    ledger.apply({ workflowId: 'w', step: 'charge', op: 'undo', amount: 1, refuse: true }, 'w:charge:compensate', tally);
    const refused: RecordedError = { code: ErrorCode.Conflict, message: 'refund refused', retryable: false };
    const charge: StepRecord = { name: 'charge', status: StepStatus.CompensationFailed, attempts: 1, attemptErrors: [], compensationError: refused };
    const workflows = new Map<string, WorkflowRecord>([['w', { ...record('w', 'a'), status: WorkflowStatus.CompensationFailed, steps: { charge } }]]);
    expect(checkInvariants({ workflows, unstarted: [], compensable: ['charge'], ledger, fencing: [] })).toEqual([]);
  });

  it('invariants: timed_out or cancelled for a step’s own TIMEOUT or CANCELLED, or with no cancel requested, is a violation', () => {
    const stopped = (code: ErrorCode, step?: string): NonNullable<WorkflowRecord['error']> => ({ code, message: 'stopped', retryable: false, ...(step === undefined ? {} : { step }) });
    const base = { ...record('x', 'a'), deadlineAt: Date.now() };
    const workflows = new Map<string, WorkflowRecord>([
      ['deadline', { ...base, id: 'deadline', status: WorkflowStatus.TimedOut, error: stopped(ErrorCode.Timeout) }],
      ['cancel', { ...base, id: 'cancel', status: WorkflowStatus.Cancelled, cancelRequested: true, error: stopped(ErrorCode.Cancelled) }],
      ['step-timeout', { ...base, id: 'step-timeout', status: WorkflowStatus.TimedOut, error: stopped(ErrorCode.Timeout, 'ship') }],
      ['step-cancel', { ...base, id: 'step-cancel', status: WorkflowStatus.Cancelled, cancelRequested: true, error: stopped(ErrorCode.Cancelled, 'ship') }],
      ['unrequested', { ...base, id: 'unrequested', status: WorkflowStatus.Cancelled, error: stopped(ErrorCode.Cancelled) }],
    ]);
    const violations = checkInvariants({ workflows, unstarted: [], compensable: [], ledger: new EffectLedger(), fencing: [] });
    expect(violations.map((v) => [v.invariant, v.workflowId])).toEqual([
      ['outcome', 'step-timeout'],
      ['outcome', 'step-cancel'],
      ['outcome', 'unrequested'],
    ]);
  });
});
