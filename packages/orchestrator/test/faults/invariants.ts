// The six promises the fault campaign checks once every instance is down, each violation naming its workflow.
import { errorCodeInfo, isErrorCode } from '@onex/core';
import { isTerminalStatus, StepStatus, WorkflowStatus, type WorkflowRecord } from '../../src/store/workflow-record.js';
import type { EffectLedger } from './effect-peers.js';
import type { FencingViolation } from './fault-store.js';

/** The invariants, in the order of the fault issue. */
export const Invariant = {
  /** Every workflow is terminal. */
  Terminal: 'terminal',
  /** No effect applied twice (whatever key it came with), no key reused with another input. */
  AppliedOnce: 'appliedOnce',
  /** In a workflow that did not complete, every step that may have applied is compensated exactly once. */
  CompensatedOnce: 'compensatedOnce',
  /** No commit accepted from a fenced epoch (or an epoch never obtained, or on a finished workflow). */
  Fenced: 'fenced',
  /** `compensation_failed` only after a definite refusal of the compensation. */
  CompensationFailedOnRefusal: 'compensationFailedOnRefusal',
  /**
   * The final status names what stopped the workflow: `timed_out` only for its own deadline and `cancelled` only for
   * a requested cancel, never for a step that failed with TIMEOUT or CANCELLED (that one names itself in the error).
   */
  Outcome: 'outcome',
} as const;
/** One of the {@link Invariant} values. */
export type Invariant = (typeof Invariant)[keyof typeof Invariant];

/** One broken promise. */
export interface Violation {
  readonly invariant: Invariant;
  readonly workflowId: string;
  readonly reason: string;
}

/** Everything the checks look at. */
export interface InvariantInput {
  /** Every workflow the campaign started, by id, as the store holds it at the end (undefined: no record). */
  readonly workflows: ReadonlyMap<string, WorkflowRecord | undefined>;
  /** Idempotency keys of workflows whose start never succeeded. */
  readonly unstarted: readonly string[];
  /** Names of the steps that have a compensation. */
  readonly compensable: readonly string[];
  readonly ledger: EffectLedger;
  readonly fencing: readonly FencingViolation[];
}

function isDefiniteRefusal(code: string, retryable: boolean): boolean {
  return !retryable && isErrorCode(code) && !errorCodeInfo(code).retryable;
}

function stepsOf(record: WorkflowRecord): string {
  return Object.values(record.steps)
    .map((s) => `${s.name}=${s.status}`)
    .join(' ');
}

/** Checks the six invariants; an empty list means the campaign found nothing. */
export function checkInvariants(input: InvariantInput): Violation[] {
  const violations: Violation[] = [];
  const add = (invariant: Invariant, workflowId: string, reason: string): void => {
    violations.push({ invariant, workflowId, reason });
  };
  const { ledger } = input;

  for (const key of input.unstarted) add(Invariant.Terminal, key, 'start never succeeded (no id was returned)');
  for (const [id, record] of input.workflows) {
    if (record === undefined) add(Invariant.Terminal, id, 'the store has no record of it');
    else if (!isTerminalStatus(record.status)) add(Invariant.Terminal, id, `still ${record.status} (${stepsOf(record)})`);
  }

  for (const [effect, entry] of ledger.entries()) {
    if (entry.applied > 1) {
      add(Invariant.AppliedOnce, effect.split(':')[0] ?? effect, `${effect} applied ${entry.applied} times (keys: ${[...entry.keys].join(', ')})`);
    }
  }
  for (const m of ledger.mismatches) add(Invariant.AppliedOnce, m.workflowId, `key ${m.key} of step ${m.step} reused with a different input`);

  for (const [id, record] of input.workflows) {
    if (record === undefined || !isTerminalStatus(record.status)) continue;
    for (const step of Object.values(record.steps)) {
      if (step.status === StepStatus.Completed && ledger.entry(id, step.name, 'do').applied === 0) {
        add(Invariant.AppliedOnce, id, `step ${step.name} recorded completed, but the peer never applied it`);
      }
    }
    for (const name of input.compensable) {
      const applied = ledger.entry(id, name, 'do').applied;
      const undo = ledger.entry(id, name, 'undo');
      const step = record.steps[name];
      if (record.status === WorkflowStatus.Completed) {
        if (undo.applied > 0) add(Invariant.CompensatedOnce, id, `completed, yet step ${name} was compensated ${undo.applied} times`);
        continue;
      }
      if (applied === 0 || undo.applied === 1) continue;
      const refusedDefinitely =
        undo.applied === 0 && undo.refused > 0 && record.status === WorkflowStatus.CompensationFailed && step?.status === StepStatus.CompensationFailed;
      if (refusedDefinitely) continue;
      const errors = step?.attemptErrors.map((e) => e.code).join('/') ?? '-';
      const compensation = step?.compensationError === undefined ? '' : `, compensation ${step.compensationError.code}`;
      add(
        Invariant.CompensatedOnce,
        id,
        `${record.status}: step ${name} applied ${applied}×, compensated ${undo.applied}× (step ${step?.status ?? 'absent'}, attempts ${step?.attempts ?? 0}, errors ${errors}${compensation})`,
      );
    }
  }

  for (const f of input.fencing) add(Invariant.Fenced, f.workflowId, `${f.instance}: ${f.reason}`);

  for (const [id, record] of input.workflows) {
    if (record === undefined) continue;
    const failedSteps = Object.values(record.steps).filter((s) => s.status === StepStatus.CompensationFailed);
    if (record.status === WorkflowStatus.CompensationFailed && failedSteps.length === 0) {
      add(Invariant.CompensationFailedOnRefusal, id, 'compensation_failed with no step in compensation_failed');
    }
    for (const step of failedSteps) {
      const error = step.compensationError;
      const undo = ledger.entry(id, step.name, 'undo');
      if (error === undefined) add(Invariant.CompensationFailedOnRefusal, id, `step ${step.name} compensation_failed without a compensationError`);
      else if (!isDefiniteRefusal(error.code, error.retryable)) {
        add(Invariant.CompensationFailedOnRefusal, id, `step ${step.name} compensation_failed after ${error.code} (retryable: ${String(error.retryable)})`);
      }
      const after = error === undefined ? '' : ` (after ${error.code}: ${error.message})`;
      if (undo.applied > 0) add(Invariant.CompensationFailedOnRefusal, id, `step ${step.name} compensation_failed, but the peer applied its compensation${after}`);
      else if (undo.refused === 0) add(Invariant.CompensationFailedOnRefusal, id, `step ${step.name} compensation_failed, but the peer never refused its compensation${after}`);
    }
  }

  for (const [id, record] of input.workflows) {
    if (record === undefined) continue;
    const { error } = record;
    if (record.status === WorkflowStatus.TimedOut && (error?.code !== 'TIMEOUT' || error.step !== undefined || record.deadlineAt === undefined)) {
      add(Invariant.Outcome, id, `timed_out, but stopped by ${error?.step === undefined ? 'the workflow' : `step ${error.step}`} (${error?.code ?? 'no error'}, deadline ${String(record.deadlineAt)})`);
    }
    if (record.status === WorkflowStatus.Cancelled && (record.cancelRequested !== true || error?.step !== undefined)) {
      add(Invariant.Outcome, id, `cancelled, but ${record.cancelRequested === true ? `stopped by step ${String(error?.step)} (${String(error?.code)})` : 'no cancel was requested'}`);
    }
  }
  return violations;
}

/** Violations counted by invariant, zeros included. */
export function countByInvariant(violations: readonly Violation[]): Record<Invariant, number> {
  const counts = Object.fromEntries(Object.values(Invariant).map((i) => [i, 0])) as Record<Invariant, number>;
  for (const v of violations) counts[v.invariant] += 1;
  return counts;
}
