import type { WireError } from '@onex/core';

/**
 * The statuses a workflow ends in (plus the two it passes through). Documented set:
 * - `pending`: created, not started yet (queued behind the concurrency limit, or waiting for recovery);
 * - `running`: steps are running; `compensating`: a step failed for good, compensations are running;
 * - `completed`: every step completed (or was skipped); the output is set;
 * - `failed`: a step failed for good and nothing needed compensating;
 * - `compensated`: a step failed for good and every completed step was compensated;
 * - `compensation_failed`: a compensation failed for good — needs a human; what failed is recorded per step;
 * - `cancelled`: `cancel(id)` stopped it (completed steps compensated);
 * - `timed_out`: its deadline passed (completed steps compensated).
 */
export const WorkflowStatus = {
  Pending: 'pending',
  Running: 'running',
  Compensating: 'compensating',
  Completed: 'completed',
  Failed: 'failed',
  Compensated: 'compensated',
  CompensationFailed: 'compensation_failed',
  Cancelled: 'cancelled',
  TimedOut: 'timed_out',
} as const;
/** One of the {@link WorkflowStatus} values. */
export type WorkflowStatus = (typeof WorkflowStatus)[keyof typeof WorkflowStatus];

/** Statuses a workflow never leaves. */
export const TERMINAL_WORKFLOW_STATUSES: ReadonlySet<WorkflowStatus> = new Set([
  WorkflowStatus.Completed,
  WorkflowStatus.Failed,
  WorkflowStatus.Compensated,
  WorkflowStatus.CompensationFailed,
  WorkflowStatus.Cancelled,
  WorkflowStatus.TimedOut,
]);

/** True when a workflow in `status` is finished. */
export function isTerminalStatus(status: WorkflowStatus): boolean {
  return TERMINAL_WORKFLOW_STATUSES.has(status);
}

/**
 * Statuses of one step:
 * `pending` → `running` → `completed` | `failed` | `skipped` | `cancelled`; a completed step with a compensation
 * may then go `compensating` → `compensated` | `compensation_failed`.
 */
export const StepStatus = {
  Pending: 'pending',
  Running: 'running',
  Completed: 'completed',
  Failed: 'failed',
  Skipped: 'skipped',
  Cancelled: 'cancelled',
  Compensating: 'compensating',
  Compensated: 'compensated',
  CompensationFailed: 'compensation_failed',
} as const;
/** One of the {@link StepStatus} values. */
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

/** A recorded error: the wire shape of an OnexError (already sanitized). */
export type RecordedError = WireError['error'];

/**
 * Why a workflow did not complete, as its record and `result(id)` carry it: the wire shape of the error that ended
 * it, plus, when a step's failure ended it, which step and what its attempts met (sanitized like every recorded
 * error). A cancelled or timed-out workflow, or one whose output failed its schema, names no step.
 *
 * @example
 * ```ts
 * import type { WorkflowError } from '@onex/orchestrator';
 * const describe = (error: WorkflowError) =>
 *   error.step === undefined ? error.message : `${error.step} failed after ${error.attempts ?? 0} attempts: ${error.code}`;
 * ```
 */
export interface WorkflowError extends RecordedError {
  /** The step whose failure ended the workflow. */
  readonly step?: string;
  /** Attempts that step made, every run counted. */
  readonly attempts?: number;
  /** The errors of its last failed attempts, oldest first (the last {@link MAX_OUTCOME_ATTEMPT_ERRORS}). */
  readonly attemptErrors?: readonly RecordedError[];
}

/** How many attempt errors a {@link WorkflowError} keeps: the last ones, so an outcome stays small. */
export const MAX_OUTCOME_ATTEMPT_ERRORS = 10;

/** The persisted state of one step. */
export interface StepRecord {
  readonly name: string;
  readonly status: StepStatus;
  /** Attempts made so far (the current one included while running). */
  readonly attempts: number;
  /** The typed error of each failed attempt, oldest first (bounded by the retry policy's max attempts). */
  readonly attemptErrors: readonly RecordedError[];
  readonly output?: unknown;
  readonly error?: RecordedError;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** Order in which steps completed (1, 2, …): compensations run in reverse of it. */
  readonly completionSeq?: number;
  readonly compensationAttempts?: number;
  readonly compensationError?: RecordedError;
  /** Id of the child workflow, for a nested-workflow step. */
  readonly childWorkflowId?: string;
  /**
   * The input sent to the peer, persisted with the dispatch: a resumed run sends the same input (a fingerprint
   * the peer can match) rather than one recomputed from a changed state.
   */
  readonly input?: unknown;
  /** Times the compensation waited (durably, off the run) for an unavailable peer. */
  readonly compensationWaits?: number;
  /** When its compensation first started, epoch ms (the dashboard's timeline draws it). */
  readonly compensationStartedAt?: number;
  /** When its compensation ended (compensated, or refused for good), epoch ms. */
  readonly compensationFinishedAt?: number;
  /**
   * Times `retryCompensation` tried its refused compensation again: the compensation's idempotency key is then
   * `<workflowId>:<step>:compensate:retry-<n>`, since the peer may have recorded the refusal under the previous one.
   */
  readonly compensationRetries?: number;
}

/** The persisted state of one workflow, steps included. */
export interface WorkflowRecord {
  readonly id: string;
  readonly type: string;
  readonly version: string;
  readonly status: WorkflowStatus;
  readonly input: unknown;
  readonly output?: unknown;
  readonly error?: WorkflowError;
  readonly idempotencyKey?: string;
  readonly parentId?: string;
  readonly correlationId: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly deadlineAt?: number;
  /** Instance that runs it now. */
  readonly owner?: string;
  /** Until when the owner's claim holds; another instance may take over after it. */
  readonly leaseExpiresAt?: number;
  /** Fencing token: bumped at every claim; a write carrying an older epoch is refused. */
  readonly epoch: number;
  /**
   * Parked until then, epoch ms: the workflow holds no run anywhere and is claimable only once due (a compensation
   * waiting for its peer, a durable sleep). `WorkflowStore.nextWakeAt` answers the earliest one.
   */
  readonly wakeAt?: number;
  /** `cancel(id)` was asked for, durably: whoever runs (or next claims) the workflow cancels it. */
  readonly cancelRequested?: boolean;
  /**
   * The sequence number of the last signal accepted for it (`WorkflowStore.sendSignal`), absent when none: a run
   * that knows a lower one has signals to read.
   */
  readonly signalSeq?: number;
  /** How it is admitted to run: its priority and concurrency key, as started (absent: defaults). */
  readonly admission?: WorkflowAdmission;
  /**
   * The W3C trace context it was started in (`traceparent`, and `tracestate` when there is one), so a resumed or
   * taken-over run continues the same trace. Set at creation; never changed.
   */
  readonly traceContext?: TraceContext;
  readonly steps: Readonly<Record<string, StepRecord>>;
}

/**
 * A W3C trace context as carried by the `traceparent` and `tracestate` headers.
 *
 * @example
 * ```ts
 * import type { TraceContext } from '@onex/orchestrator';
 * const context: TraceContext = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
 * ```
 */
export interface TraceContext {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/**
 * How a workflow is admitted to run on the instance that holds it: `priority` (higher first among those waiting;
 * default 0) and a `concurrencyKey` with the most workflows of that key running at once (`concurrencyLimit`), for
 * example at most 2 per tenant, while other keys go on.
 *
 * @example
 * ```ts
 * import type { WorkflowAdmission } from '@onex/orchestrator';
 * const perTenant: WorkflowAdmission = { priority: 5, concurrencyKey: 'tenant:acme', concurrencyLimit: 2 };
 * ```
 */
export interface WorkflowAdmission {
  readonly priority?: number;
  readonly concurrencyKey?: string;
  readonly concurrencyLimit?: number;
}

/**
 * The workflow-level fields a commit may change. `wakeAt: null` clears the wake-up time.
 *
 * `seenSignalSeq` goes with a numeric `wakeAt` when the run parks while it waits for signals: the last signal
 * sequence number the run read. When the stored workflow has accepted a later signal meanwhile, the store parks it
 * due at once (`wakeAt` = the commit's `updatedAt`) instead, so a signal sent while the run was parking is never
 * left waiting until the timeout. The check uses the locked row itself, which `sendSignal` also locks: one of the
 * two always sees the other.
 */
export type WorkflowPatch = Partial<Pick<WorkflowRecord, 'status' | 'output' | 'error' | 'updatedAt' | 'deadlineAt'>> & {
  readonly wakeAt?: number | null;
  readonly seenSignalSeq?: number;
};

/**
 * Sets a patch's record fields on `record`, in place: every field but `wakeAt` and `seenSignalSeq`, which the engine
 * and each store handle themselves. (What `Object.assign` of the rest of the patch did, without copying the patch
 * into an object first: commits are the hottest write.) Internal.
 */
export function applyWorkflowPatch(record: { -readonly [K in keyof WorkflowRecord]: WorkflowRecord[K] }, patch: WorkflowPatch): void {
  // As Object.assign did: a field the patch carries as undefined is set to undefined (never deleted: a delete would
  // turn the record into a slow dictionary-mode object). Named stores, not a keyed helper: those stay monomorphic.
  const target = record as { output?: unknown; error?: WorkflowError | undefined; deadlineAt?: number | undefined };
  if (patch.status !== undefined) record.status = patch.status;
  if ('output' in patch) target.output = patch.output;
  if ('error' in patch) target.error = patch.error;
  if (patch.updatedAt !== undefined) record.updatedAt = patch.updatedAt;
  if ('deadlineAt' in patch) target.deadlineAt = patch.deadlineAt;
}
// The fields applyWorkflowPatch sets: a field added to WorkflowPatch fails to compile here until it is handled there.
const PATCHED_FIELDS = { status: true, output: true, error: true, updatedAt: true, deadlineAt: true } as const satisfies Record<Exclude<keyof WorkflowPatch, 'wakeAt' | 'seenSignalSeq'>, true>;
void PATCHED_FIELDS;

/** A signal as the caller sends it to {@link WorkflowStore.sendSignal}: already validated by the wait's schema. */
export interface SignalInput {
  /** Deduplication key, unique per workflow: a second signal with the same id is a duplicate and stores nothing. */
  readonly signalId: string;
  /** The signal's name, which waits match on. */
  readonly name: string;
  readonly payload: unknown;
  /** When it was accepted, epoch ms. */
  readonly sentAt: number;
}

/** A stored signal: what a run reads back, in `seq` order. */
export interface StoredSignal extends SignalInput {
  /** Its place among the workflow's signals (1, 2, …), in the order they were accepted. */
  readonly seq: number;
}

/**
 * What {@link WorkflowStore.sendSignal} answers:
 * - `accepted`: stored as the workflow's signal `seq`; `woke` when the workflow was parked and is now due at once;
 * - `duplicate`: a signal with this id was stored before (nothing changed);
 * - `finished`: the workflow is finished (nothing stored);
 * - `not_found`: no such workflow;
 * - `full`: it holds the most signals a workflow may (nothing stored).
 */
export type SignalSendResult =
  | { readonly status: 'accepted'; readonly seq: number; readonly woke: boolean }
  | { readonly status: 'duplicate' | 'finished' | 'not_found' | 'full' };

/** Most signals one workflow may hold (each one is kept, for deduplication, until the workflow is purged). */
export const MAX_SIGNALS_PER_WORKFLOW = 1_000;

/** One atomic write: workflow fields and whole step records, applied together or not at all. */
export interface WorkflowCommit {
  readonly workflow?: WorkflowPatch;
  readonly steps?: readonly StepRecord[];
}

/** A workflow without its steps, for listings. */
export type WorkflowSummary = Omit<WorkflowRecord, 'steps' | 'input' | 'output'>;

/** What `list` filters on. */
export interface WorkflowFilter {
  readonly status?: WorkflowStatus | readonly WorkflowStatus[];
  readonly type?: string;
  /** At most this many (default 100, max 1000), newest first. */
  readonly limit?: number;
}
