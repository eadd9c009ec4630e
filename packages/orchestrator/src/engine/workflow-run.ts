import {
  abortReasonToOnexError,
  ErrorCode,
  isOnexError,
  OnexAttribute,
  OnexError,
  toOnexError,
  toWireError,
  type CircuitBreakerRegistry,
  type ErrorSanitizer,
  type Logger,
  type NodeClient,
  type NodeContract,
  type Result,
} from '@onex/core';
import { contextOfCarrier, failSpan, isTraced, runInSpan, shareSignal } from '@onex/core/internal';
import { context, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { AnyWorkflowDefinition, StepCallContext, StepDefinition } from '../workflow/definition.js';
import { consumedSignalIds, isWait, NEVER, SignalInbox, sleepDueAt, sleepOutput, timedOut, waitInput, waitTimeoutAt, waitTimeoutError } from './waits.js';
import {
  applyWorkflowPatch,
  MAX_OUTCOME_ATTEMPT_ERRORS,
  StepStatus,
  WorkflowStatus,
  type RecordedError,
  type StepRecord,
  type WorkflowCommit,
  type WorkflowError,
  type WorkflowPatch,
  type WorkflowRecord,
} from '../store/workflow-record.js';
import type { WorkflowStore } from '../store/workflow-store.js';
import type { WorkflowDurations } from './orchestrator-metrics.js';

/** What a finished run reports to the orchestrator: the output of a completed workflow, else why it did not complete. */
export type RunOutcome =
  | { readonly status: typeof WorkflowStatus.Completed; readonly output: unknown }
  | { readonly status: Exclude<WorkflowStatus, 'pending' | 'running' | 'compensating' | 'completed'>; readonly error: WorkflowError };

/**
 * Why a run stopped without finishing. The workflow stays in the store as the run last committed it:
 * - `store`: a store call failed (or the run hit an unexpected error); the workflow is resumed later;
 * - `fenced`: the store refused a write (a newer epoch holds it, or it is finished): it is not ours any more;
 * - `lease`: the instance could not prove its lease in time (self-fencing), or a renewal reported it lost;
 * - `shutdown`: the orchestrator is shutting down;
 * - `parked`: the workflow waits, durably, with `wakeAt` committed — a compensation for its peer, or a sleep step
 *   for its time — and any instance resumes it when due.
 */
export type RunStop = 'store' | 'fenced' | 'lease' | 'shutdown' | 'parked';

/** How a run ended: with the workflow finished, or stopped unfinished (resumable). */
export type RunEnd =
  | { readonly kind: 'finished'; readonly outcome: RunOutcome }
  | { readonly kind: 'stopped'; readonly reason: RunStop; readonly error?: unknown };

/** Counters a run adds to; owned by the orchestrator (bounded: plain numbers). */
export interface RunCounters {
  stepAttempts: number;
  stepRetries: number;
  compensationsRun: number;
  compensationsFailed: number;
  /** Compensations that met an unavailable peer and parked the workflow until a later try. */
  compensationsParked: number;
  /** Writes the store refused: another epoch holds the workflow, or it is finished. */
  fencedWrites: number;
}

/** Starts a child workflow and waits for it (nested steps). */
export interface ChildRunner {
  runChild(options: {
    readonly parent: WorkflowRecord;
    readonly step: StepDefinition;
    readonly definition: AnyWorkflowDefinition;
    readonly input: unknown;
    readonly deadlineAt: number | undefined;
    /** Aborted when the parent stops or halts: the wait ends. */
    readonly signal: AbortSignal;
    /** True when the parent stopped for good (cancelled, timed out, failed): the child is cancelled too. */
    readonly cancelsChild: () => boolean;
  }): Promise<{ readonly childId: string; readonly outcome: RunOutcome }>;
}

/** Everything a run needs from its orchestrator. */
export interface RunDependencies {
  readonly store: WorkflowStore;
  readonly peers: ReadonlyMap<string, NodeClient<NodeContract>>;
  readonly breakers: CircuitBreakerRegistry;
  readonly sanitizer: ErrorSanitizer;
  readonly logger: Logger;
  readonly now: () => number;
  readonly maxParallelSteps: number;
  readonly counters: RunCounters;
  /** Where each step attempt's duration is recorded (bucketed per workflow type and step). */
  readonly durations: WorkflowDurations;
  readonly children: ChildRunner;
  /** False once the instance can no longer prove its lease: no new call may go out (self-fencing). */
  readonly canDispatch: () => boolean;
  /** Told after each successful commit (the orchestrator's change feed). */
  readonly changed: (id: string, status: WorkflowStatus) => void;
  /** Where the run's spans go (`run <type>`, `step <name>`, `compensate <step>`). */
  readonly tracer: Tracer;
}

const MAX_TIMER_MS = 2_147_483_647;

// Step lookup by name, and the waits for a signal, built once per definition rather than once per run.
const STEP_INDEX = new WeakMap<AnyWorkflowDefinition, { readonly byName: ReadonlyMap<string, StepDefinition>; readonly signalWaits: readonly StepDefinition[] }>();
function stepIndex(definition: AnyWorkflowDefinition): { readonly byName: ReadonlyMap<string, StepDefinition>; readonly signalWaits: readonly StepDefinition[] } {
  let index = STEP_INDEX.get(definition);
  if (index === undefined) {
    index = { byName: new Map(definition.steps.map((s) => [s.name, s])), signalWaits: definition.steps.filter((s) => s.target.kind === 'signal') };
    STEP_INDEX.set(definition, index);
  }
  return index;
}

// Outcomes of a step call after which the peer may have taken effect: no answer (timeout, cancelled, unavailable),
// an answer that failed the contract (the peer ran), or an internal error. Anything else is a definite refusal.
const UNCERTAIN = new Set<string>([ErrorCode.Timeout, ErrorCode.Cancelled, ErrorCode.Unavailable, ErrorCode.Internal, ErrorCode.Contract]);

/**
 * True when a failed attempt may have been applied by the peer. A CONFLICT raised by the peer's idempotency layer
 * (the key is running elsewhere, or was used with another input) means a call with this key did reach it.
 */
export function mayHaveApplied(error: RecordedError): boolean {
  if (UNCERTAIN.has(error.code)) return true;
  return error.code === ErrorCode.Conflict && error.context?.['idempotency'] !== undefined;
}

/** The record of an attempt that a stopped run left without an answer (it may have reached the peer). */
const INTERRUPTED_ATTEMPT: RecordedError = Object.freeze({
  code: ErrorCode.Unavailable,
  message: 'Attempt interrupted: the run stopped before its answer was recorded',
  retryable: true,
  context: Object.freeze({ interrupted: true }),
});

/**
 * True when a compensation failure is a peer being unavailable rather than a refusal: the compensation waits and
 * tries again (without limit) instead of ending `compensation_failed`.
 */
function isUnavailable(error: OnexError): boolean {
  return error.retryable || error.code === ErrorCode.CircuitOpen || error.code === ErrorCode.Cancelled;
}

/** What a halt aborts the run's calls with. */
function haltError(reason: RunStop): OnexError {
  return new OnexError(ErrorCode.Cancelled, `Workflow run stopped (${reason}); the workflow stays resumable`, { context: { halted: reason } });
}

/** Thrown inside a run once it halted: unwinds it without another store write. */
class RunHalted extends Error {
  constructor() {
    super('workflow run halted');
    this.name = 'RunHalted';
  }
}

/** A peer call's value, or its error thrown (to the breaker and the retry policy). */
function valueOf<T>(result: Result<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

type StepResult = { readonly name: string; readonly ok: true; readonly output: unknown; readonly childId?: string } | { readonly name: string; readonly ok: false; readonly error: OnexError; readonly childId?: string };

/** Why a run stops scheduling new steps. `step` is absent when the output failed its schema. */
type StopReason = { readonly kind: 'failed'; readonly step?: string; readonly error: RecordedError } | { readonly kind: 'cancelled' } | { readonly kind: 'timed_out' };

/** The abort reason of every run that ended (see the end of {@link WorkflowRun.run}). */
const RUN_ENDED = new OnexError(ErrorCode.Cancelled, 'Workflow run ended');

/**
 * One workflow execution: schedules the DAG, persists every transition before acting on it, retries steps,
 * runs the saga on failure. Resumable: it starts from whatever state the store holds.
 *
 * A run either finishes the workflow or *halts*: on a store failure, a refused (fenced) write, a lease it can no
 * longer prove, a shutdown, or a compensation that parks. A halted run makes no further store write and sends no
 * further call; what it left in the store is a state it committed, from which any instance can resume.
 */
export class WorkflowRun {
  readonly id: string;
  readonly #deps: RunDependencies;
  readonly #definition: AnyWorkflowDefinition;
  readonly #byName: ReadonlyMap<string, StepDefinition>;
  /** The definition's waits for a signal (none for most workflows: then signals are never read). */
  readonly #signalWaits: readonly StepDefinition[];
  /** The last signal number this run heard of (its record's, a notification's, a renewal's) and the last it read. */
  #knownSeq: number;
  #loadedSeq = 0;
  readonly #inbox = new SignalInbox();
  /** Aborted when the workflow stops (cancel, deadline, a failed step) or the run halts: step calls. */
  readonly #steps$ = new AbortController();
  /**
   * Aborted only when the run halts: compensations, which must run after a stop. Made on first use (most runs never
   * compensate); {@link halt} aborts the one made, and one made after a halt comes aborted.
   */
  #halt$: AbortController | undefined;
  readonly #steps = new Map<string, StepRecord>();
  // Owned by this run and changed in place (commits are frequent; the `record` getter hands out copies).
  readonly #record: { -readonly [K in keyof WorkflowRecord]: WorkflowRecord[K] };
  #seq = 0;
  #stop: StopReason | undefined;
  #halted: { readonly reason: RunStop; readonly error?: unknown } | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** Wakes the DAG loop for a sleep due while other steps are in flight (a parked workflow has none). */
  #sleepTimer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  /** Step records settled but not yet committed: the closing commit carries them. */
  #unsaved: StepRecord[] = [];
  /** The context of the run's span (a child of the workflow's stored trace context), when it has a trace. */
  #trace: Context | undefined;
  /** The first pass's dispatches, planned by {@link planStart} and made durable by the workflow's create. */
  #planned: { step: StepDefinition; input: unknown }[] | undefined;

  constructor(record: WorkflowRecord, definition: AnyWorkflowDefinition, deps: RunDependencies) {
    this.id = record.id;
    this.#record = { ...record };
    this.#definition = definition;
    this.#deps = deps;
    // Every step call of the run listens to this signal while it is in flight: at most maxParallelSteps at once, and
    // never more than the workflow has steps.
    shareSignal(this.#steps$.signal, this.#parallelLimit(definition));
    const index = stepIndex(definition);
    this.#byName = index.byName;
    this.#signalWaits = index.signalWaits;
    this.#knownSeq = record.signalSeq ?? 0;
    for (const step of definition.steps) {
      let stored = record.steps[step.name];
      // A step a stopped run left `running` had an attempt in flight: it may have reached the peer. Record that
      // attempt, and dispatch the step again (same key, same persisted input: the peer does not repeat the work).
      // A wait (sleep or signal) left `running` waits, it is not in flight: it keeps its persisted wake-up time.
      if (stored?.status === StepStatus.Running && !isWait(step)) {
        stored = { ...stored, status: StepStatus.Pending, attemptErrors: [...stored.attemptErrors, INTERRUPTED_ATTEMPT] };
      }
      this.#steps.set(step.name, stored ?? { name: step.name, status: StepStatus.Pending, attempts: 0, attemptErrors: [] });
      if (stored?.completionSeq !== undefined && stored.completionSeq > this.#seq) this.#seq = stored.completionSeq;
    }
  }

  /**
   * For a workflow about to be created and run here at once: plans its first pass (the workflow running, its first
   * steps running with their inputs) into the record to create, so that the create is that pass's write-ahead commit
   * and the pass sends its calls without a commit of its own — one commit fewer per workflow. Answers the record to
   * create; undefined when the first pass would dispatch nothing or stop the workflow (a mapper that throws): then
   * this run must be dropped, and the workflow created as it was and run by a new run. Call once, before {@link run}.
   */
  planStart(): WorkflowRecord | undefined {
    const record = this.#record;
    if (this.#planned !== undefined || record.status !== WorkflowStatus.Pending || record.cancelRequested === true || record.wakeAt !== undefined) return undefined;
    if (Object.keys(record.steps).length > 0) return undefined;
    const changes: StepRecord[] = [];
    const toDispatch: { step: StepDefinition; input: unknown }[] = [];
    this.#schedule(0, changes, toDispatch);
    if (this.#stop !== undefined || toDispatch.length === 0) return undefined;
    this.#planned = toDispatch;
    record.status = WorkflowStatus.Running;
    const steps: Record<string, StepRecord> = {};
    for (const change of changes) steps[change.name] = change;
    return { ...record, steps };
  }

  /** Current record as this run knows it. */
  get record(): WorkflowRecord {
    return { ...this.#record, steps: Object.fromEntries(this.#steps) };
  }

  /** The epoch this run holds the workflow at. */
  get epoch(): number {
    return this.#record.epoch;
  }

  /**
   * Tells the run the workflow accepted its signal `seq` (here, through the store's events, or a lease renewal):
   * a run waiting for a signal reads the new ones at its next pass, woken now.
   */
  notifySignals(seq: number): void {
    if (seq <= this.#knownSeq) return;
    this.#knownSeq = seq;
    if (this.#signalWaits.length > 0) this.#wake?.();
  }

  /** Stops the workflow: running steps are aborted and completed ones compensated; ends `cancelled`. */
  cancel(): void {
    this.#stopWith({ kind: 'cancelled' });
  }

  /**
   * Halts the run without finishing the workflow: in-flight calls are aborted, nothing more is written. Its end
   * reports `stopped` with `reason`. Idempotent; the first reason wins.
   */
  halt(reason: RunStop, error?: unknown): void {
    if (this.#halted !== undefined) return;
    this.#halted = error === undefined ? { reason } : { reason, error };
    const abort = haltError(reason);
    this.#steps$.abort(abort);
    this.#halt$?.abort(abort);
    this.#wake?.();
  }

  /**
   * Runs (or resumes) the workflow until it is finished or the run halts. Never rejects. The run is one span,
   * `run <type>`, in the trace the workflow was started in (its stored `traceContext`), wherever and however often it
   * is resumed: one workflow, one trace.
   */
  async run(): Promise<RunEnd> {
    const parent = contextOfCarrier(this.#record.traceContext);
    const span = this.#deps.tracer.startSpan(`run ${this.#record.type}`, undefined, parent);
    if (!isTraced(span)) return this.#run();
    if (span.isRecording()) {
      span.setAttribute(OnexAttribute.WorkflowId, this.id);
      span.setAttribute(OnexAttribute.WorkflowType, this.#record.type);
      span.setAttribute(OnexAttribute.CorrelationId, this.#record.correlationId);
    }
    this.#trace = trace.setSpan(parent, span);
    const end = await context.with(this.#trace, () => this.#run());
    if (span.isRecording()) {
      if (end.kind === 'finished') {
        span.setAttribute(OnexAttribute.WorkflowStatus, end.outcome.status);
        if (end.outcome.status !== WorkflowStatus.Completed) {
          span.setAttribute(OnexAttribute.ErrorCode, end.outcome.error.code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: end.outcome.error.code });
        }
      } else {
        span.setAttribute(OnexAttribute.RunStopped, end.reason);
        if (end.reason === 'store') failSpan(span, end.error);
      }
    }
    span.end();
    return end;
  }

  /** A span of this run's (a step attempt, a compensation attempt), with the workflow's attributes. */
  #span(name: string, step: string, attempt: number, idempotencyKey: string): Span {
    const span = this.#deps.tracer.startSpan(name, undefined, this.#trace ?? context.active());
    if (span.isRecording()) {
      span.setAttribute(OnexAttribute.WorkflowId, this.id);
      span.setAttribute(OnexAttribute.WorkflowType, this.#record.type);
      span.setAttribute(OnexAttribute.Step, step);
      span.setAttribute(OnexAttribute.Attempt, attempt);
      span.setAttribute(OnexAttribute.IdempotencyKey, idempotencyKey);
    }
    return span;
  }

  async #run(): Promise<RunEnd> {
    let finished = false;
    try {
      const outcome = await this.#drive();
      finished = true;
      return { kind: 'finished', outcome };
    } catch (error) {
      // Anything but a halt is unexpected (a bug, a throwing hook): stop resumably rather than lose the workflow.
      if (this.#halted === undefined) this.halt('store', error);
      const halted = this.#halted!;
      return { kind: 'stopped', ...halted };
    } finally {
      if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
      if (this.#sleepTimer !== undefined) clearTimeout(this.#sleepTimer);
      // Whatever ended the run, nothing it started may go on calling peers. A run that finished has nothing in flight
      // (the DAG loop and the saga wait for every call they make): its signals have no listener left, and aborting
      // them (an Event dispatched to no one) cost ~3% of an in-process workflow's CPU. Any other end aborts them, with
      // one shared reason: building an error per run (its stack) cost ~5%.
      if (!finished) {
        if (!this.#steps$.signal.aborted) this.#steps$.abort(RUN_ENDED);
        if (this.#halt$ !== undefined && !this.#halt$.signal.aborted) this.#halt$.abort(RUN_ENDED);
      }
    }
  }

  async #drive(): Promise<RunOutcome> {
    // A saga interrupted by a crash finishes with the reason it started for, whatever the clock says now.
    if (this.#record.status === WorkflowStatus.Compensating) return await this.#compensateAndFinish(this.#restoredStopReason());
    if (this.#record.cancelRequested === true) this.#stopWith({ kind: 'cancelled' });
    if (this.#record.deadlineAt !== undefined) this.#armDeadline(this.#record.deadlineAt);
    await this.#execute();
    if (this.#stop !== undefined) return await this.#compensateAndFinish(this.#stop);
    return await this.#complete();
  }

  /** Times the workflow out at `deadlineAt`, re-arming in steps: Node fires timers past 2^31-1 ms at once. */
  #armDeadline(deadlineAt: number): void {
    const remaining = deadlineAt - this.#deps.now();
    if (remaining <= 0) {
      this.#stopWith({ kind: 'timed_out' });
      return;
    }
    this.#deadlineTimer = setTimeout(() => this.#armDeadline(deadlineAt), Math.min(remaining, MAX_TIMER_MS));
    this.#deadlineTimer.unref();
  }

  #stopWith(reason: StopReason): void {
    if (this.#stop !== undefined) return;
    this.#stop = reason;
    const abortReason =
      reason.kind === 'timed_out'
        ? new OnexError(ErrorCode.Timeout, 'Workflow deadline exceeded')
        : new OnexError(ErrorCode.Cancelled, reason.kind === 'cancelled' ? 'Workflow cancelled' : reason.step === undefined ? 'Workflow failed' : `Step '${reason.step}' failed`);
    this.#steps$.abort(abortReason);
  }

  #restoredStopReason(): StopReason {
    const error = this.#record.error;
    // Only the workflow's own deadline and cancel stop it with no step named: a step that failed with TIMEOUT (a
    // signal wait that timed out, a peer past its step timeout) or CANCELLED still ends the saga as a failure.
    if (error?.step === undefined) {
      if (error?.code === ErrorCode.Timeout && this.#record.deadlineAt !== undefined) return { kind: 'timed_out' };
      if (error?.code === ErrorCode.Cancelled) return { kind: 'cancelled' };
    }
    const step = error?.step ?? [...this.#steps.values()].find((s) => s.status === StepStatus.Failed)?.name;
    return { kind: 'failed', ...(step === undefined ? {} : { step }), error: error ?? this.#wire(new OnexError(ErrorCode.Internal, 'Workflow failed')) };
  }

  /** How many of this run's calls can be in flight at once. */
  #parallelLimit(definition: AnyWorkflowDefinition): number {
    return Math.min(this.#deps.maxParallelSteps, definition.steps.length);
  }

  /** The signal aborted when the run halts (see {@link #halt$}). */
  #haltSignal(): AbortSignal {
    if (this.#halt$ === undefined) {
      this.#halt$ = new AbortController();
      // Compensations listen to it, as steps do to theirs.
      shareSignal(this.#halt$.signal, this.#parallelLimit(this.#definition));
      if (this.#halted !== undefined) this.#halt$.abort(haltError(this.#halted.reason));
    }
    return this.#halt$.signal;
  }

  #checkHalted(): void {
    if (this.#halted !== undefined) throw new RunHalted();
  }

  /**
   * The one way a run writes. A failure halts the run (a refused write: `fenced`; anything else: `store`) and
   * unwinds it: a store failure is never a step's outcome.
   */
  async #commit(change: WorkflowCommit): Promise<void> {
    this.#checkHalted();
    const now = this.#deps.now();
    let workflow: WorkflowPatch = change.workflow === undefined ? { updatedAt: now } : { ...change.workflow, updatedAt: now };
    // A parked workflow that was claimed again: its first write clears the wake-up time.
    if (this.#record.wakeAt !== undefined && workflow.wakeAt === undefined) workflow = { ...workflow, wakeAt: null };
    if (change.steps !== undefined) for (const step of change.steps) this.#steps.set(step.name, step);
    applyWorkflowPatch(this.#record, workflow);
    const wakeAt = workflow.wakeAt;
    if (wakeAt === null) delete this.#record.wakeAt;
    else if (wakeAt !== undefined) this.#record.wakeAt = wakeAt;
    try {
      await this.#deps.store.commit(this.id, this.#record.epoch, { workflow, ...(change.steps === undefined ? {} : { steps: change.steps }) });
    } catch (error) {
      const refused = isOnexError(error) && (error.code === ErrorCode.Conflict || error.code === ErrorCode.NotFound);
      if (refused) this.#deps.counters.fencedWrites += 1;
      this.halt(refused ? 'fenced' : 'store', error);
      throw new RunHalted();
    }
    this.#deps.changed(this.id, this.#record.status);
    this.#checkHalted();
  }

  #takeUnsaved(): StepRecord[] {
    const unsaved = this.#unsaved;
    this.#unsaved = [];
    return unsaved;
  }

  #wire(error: OnexError): RecordedError {
    return toWireError(error, { sanitize: this.#deps.sanitizer.forWire }).error;
  }

  #depsSatisfied(step: StepDefinition): 'ready' | 'wait' | 'skip' {
    for (const dep of step.dependsOn) {
      const status = this.#steps.get(dep)?.status;
      if (status === StepStatus.Completed) continue;
      if (status === StepStatus.Pending || status === StepStatus.Running) return 'wait';
      return 'skip';
    }
    return 'ready';
  }

  #stepContext(step: StepDefinition): { workflowId: string; input: unknown; steps: Record<string, unknown> } {
    const outputs: Record<string, unknown> = {};
    for (const dep of step.dependsOn) outputs[dep] = this.#steps.get(dep)?.output;
    return { workflowId: this.id, input: this.#record.input, steps: outputs };
  }

  /** The DAG loop: start every ready step (up to the parallel limit), persist, dispatch, collect. */
  async #execute(): Promise<void> {
    let inFlight = 0;
    const finished: StepResult[] = [];
    let pendingResults: StepResult[] = [];
    for (;;) {
      // Signals the run heard of but has not read, for a wait that is or may become open in this pass.
      if (this.#knownSeq > this.#loadedSeq && this.#stop === undefined && this.#hasOpenWait()) await this.#readSignals();
      let toDispatch = this.#planned;
      // The first pass of a workflow created with its first dispatches (planStart): the create was its commit.
      if (toDispatch !== undefined) this.#planned = undefined;
      else {
        toDispatch = [];
        const changes: StepRecord[] = [];
        // Record results first, so that dependents see them in this same pass.
        for (const result of pendingResults) changes.push(this.#settle(result));
        if (this.#stop === undefined) this.#schedule(inFlight, changes, toDispatch);
        const workflowPatch: WorkflowPatch | undefined =
          this.#record.status === WorkflowStatus.Pending ? { status: WorkflowStatus.Running } : undefined;
        if (toDispatch.length === 0 && inFlight === 0 && workflowPatch === undefined) {
          const wakeAt = this.#stop === undefined ? this.#nextWake() : undefined;
          // Only waits left: park the workflow until the first is due (or its deadline, or a signal), holding nothing here.
          if (wakeAt !== undefined) await this.#park(wakeAt, changes);
          // Nothing left to run: the last results go into the workflow's closing commit.
          this.#unsaved = changes;
          return;
        }
        if (changes.length > 0 || workflowPatch !== undefined) {
          // Write-ahead: results and the starts they unlock (with their inputs) are durable before any call goes out.
          await this.#commit({ ...(workflowPatch === undefined ? {} : { workflow: workflowPatch }), steps: changes });
        }
      }
      if (toDispatch.length > 0 && !this.#deps.canDispatch()) this.halt('lease');
      this.#checkHalted();
      for (const { step, input } of toDispatch) {
        inFlight += 1;
        void this.#runStep(step, input).then((result) => {
          finished.push(result);
          this.#wake?.();
        });
      }
      // Nothing in flight (the commit only started the workflow or sleeps): the next pass parks or closes.
      if (inFlight === 0) {
        pendingResults = [];
        continue;
      }
      if (finished.length === 0) {
        this.#armSleepTimer();
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        if (this.#sleepTimer !== undefined) clearTimeout(this.#sleepTimer);
        this.#sleepTimer = undefined;
      }
      // Results of a halted run are not recorded: its steps stay `running`, and count as possibly applied.
      this.#checkHalted();
      // Everything that finished meanwhile is recorded in one commit.
      inFlight -= finished.length;
      pendingResults = finished.splice(0);
    }
  }

  /** Marks every ready step running (or skipped), up to the parallel limit; collects the changes to commit. */
  #schedule(inFlight: number, changes: StepRecord[], toDispatch: { step: StepDefinition; input: unknown }[]): void {
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const step of this.#definition.steps) {
        // A step settled in this pass may have stopped the workflow: start nothing more.
        if (this.#stop !== undefined) return;
        const record = this.#steps.get(step.name)!;
        if (record.status === StepStatus.Running && isWait(step)) {
          // Waiting: completes once due, or once its signal came; its dependents are scheduled in this same pass.
          if (this.#wakeIfDue(step, record, changes)) progressed = true;
          continue;
        }
        if (record.status !== StepStatus.Pending) continue;
        // Waits take no call slot.
        if (!isWait(step) && inFlight + toDispatch.length >= this.#deps.maxParallelSteps) return;
        const readiness = this.#depsSatisfied(step);
        if (readiness === 'wait') continue;
        const now = this.#deps.now();
        if (readiness === 'skip') {
          const skipped: StepRecord = { ...record, status: StepStatus.Skipped, finishedAt: now };
          this.#steps.set(step.name, skipped);
          changes.push(skipped);
          progressed = true;
          continue;
        }
        // A step dispatched before keeps the input it was dispatched with (and its `when` decision).
        const dispatched = 'input' in record;
        let input: unknown = record.input;
        if (!dispatched) {
          const ctx = this.#stepContext(step);
          try {
            if (step.when !== undefined && !step.when(ctx)) {
              const skipped: StepRecord = { ...record, status: StepStatus.Skipped, finishedAt: now };
              this.#steps.set(step.name, skipped);
              changes.push(skipped);
              progressed = true;
              continue;
            }
            const target = step.target;
            input = target.kind === 'sleep' ? { wakeAt: target.wakeAt(ctx, now) } : target.kind === 'signal' ? waitInput(target, ctx, now) : step.input(ctx);
          } catch (error) {
            const failure = new OnexError(ErrorCode.Validation, `Step '${step.name}' could not build its input`, { cause: error });
            changes.push(this.#settle({ name: step.name, ok: false, error: failure }));
            progressed = true;
            continue;
          }
        }
        const running: StepRecord = { ...record, status: StepStatus.Running, attempts: record.attempts + 1, startedAt: record.startedAt ?? now, input };
        this.#steps.set(step.name, running);
        if (isWait(step)) {
          // Its wake-up time is persisted with it (the input): a resumed run waits until the same time.
          if (!this.#wakeIfDue(step, running, changes)) changes.push(running);
          progressed = true;
          continue;
        }
        changes.push(running);
        toDispatch.push({ step, input });
      }
    }
  }

  /**
   * Completes a waiting step whose time came — a sleep due, a wait whose signal was read (or whose timeout passed) —
   * recording the change; false while it waits on.
   */
  #wakeIfDue(step: StepDefinition, record: StepRecord, changes: StepRecord[]): boolean {
    const now = this.#deps.now();
    const target = step.target;
    if (target.kind !== 'signal') {
      if (sleepDueAt(record) > now) return false;
      changes.push(this.#settle({ name: record.name, ok: true, output: sleepOutput(record, now) }));
      return true;
    }
    const timeoutAt = waitTimeoutAt(record);
    // A signal sent after the timeout does not count, even when the run that acts on the timeout comes later.
    const received = this.#inbox.take(target, now, timeoutAt, (signal, error) =>
      this.#deps.logger.warn({ err: error, workflowId: this.id, step: step.name, signalId: signal.signalId }, 'signal payload fails the wait schema: dropped'),
    );
    if (received !== undefined) {
      changes.push(this.#settle({ name: record.name, ok: true, output: received }));
      return true;
    }
    if (timeoutAt === undefined || timeoutAt > now) return false;
    const result: StepResult =
      target.onTimeout === 'continue' ? { name: record.name, ok: true, output: timedOut(now) } : { name: record.name, ok: false, error: waitTimeoutError(step, target, timeoutAt) };
    if (!result.ok) this.#steps.set(record.name, { ...record, attemptErrors: [...record.attemptErrors, this.#wire(result.error)] });
    changes.push(this.#settle(result));
    return true;
  }

  /** True while a wait for a signal is running, or pending (it may start in this pass). */
  #hasOpenWait(): boolean {
    for (const step of this.#signalWaits) {
      const status = this.#steps.get(step.name)!.status;
      if (status === StepStatus.Running || status === StepStatus.Pending) return true;
    }
    return false;
  }

  /** Reads the signals accepted since the last read into the inbox (a store failure halts the run, resumably). */
  async #readSignals(): Promise<void> {
    this.#checkHalted();
    const target = this.#knownSeq;
    let fresh: Awaited<ReturnType<WorkflowStore['signals']>>;
    try {
      fresh = await this.#deps.store.signals(this.id, this.#loadedSeq);
    } catch (error) {
      this.halt('store', error);
      throw new RunHalted();
    }
    this.#checkHalted();
    this.#inbox.add(fresh, consumedSignalIds(this.#steps.values(), this.#signalWaits));
    const last = fresh.length === 0 ? this.#loadedSeq : fresh[fresh.length - 1]!.seq;
    this.#loadedSeq = Math.max(this.#loadedSeq, last, target);
    if (last > this.#knownSeq) this.#knownSeq = last;
  }

  /** True while a wait for a signal is running. */
  #waitingForSignal(): boolean {
    for (const step of this.#signalWaits) if (this.#steps.get(step.name)!.status === StepStatus.Running) return true;
    return false;
  }

  /**
   * The earliest time a waiting step is due — a sleep's wake-up, a wait's timeout — or {@link NEVER} when only
   * waits without a timeout wait; undefined when nothing waits.
   */
  #nextWake(): number | undefined {
    let earliest: number | undefined;
    for (const step of this.#definition.steps) {
      const record = this.#steps.get(step.name)!;
      if (record.status !== StepStatus.Running || !isWait(step)) continue;
      const dueAt = step.target.kind === 'signal' ? (waitTimeoutAt(record) ?? NEVER) : sleepDueAt(record);
      if (earliest === undefined || dueAt < earliest) earliest = dueAt;
    }
    return earliest;
  }

  /** While other steps are in flight, one timer wakes the loop for the first wait due; it dies with the run. */
  #armSleepTimer(): void {
    const wakeAt = this.#nextWake();
    if (wakeAt === undefined || wakeAt >= NEVER) return;
    this.#sleepTimer = setTimeout(() => this.#wake?.(), Math.min(Math.max(0, wakeAt - this.#deps.now()), MAX_TIMER_MS));
    this.#sleepTimer.unref();
  }

  /**
   * Parks the workflow until `wakeAt` (or its deadline, when earlier: the deadline is enforced by the run that
   * wakes it): the wake-up time and the pending changes are committed, and the run halts `parked`, so the engine
   * releases the workflow and keeps nothing of it in memory.
   */
  async #park(wakeAt: number, changes: readonly StepRecord[]): Promise<never> {
    const deadlineAt = this.#record.deadlineAt;
    const at = deadlineAt === undefined ? wakeAt : Math.min(wakeAt, deadlineAt);
    // Waiting for a signal: the store parks it due at once if a signal came after the last one read.
    const seen = this.#waitingForSignal() ? { seenSignalSeq: this.#loadedSeq } : {};
    await this.#commit({ workflow: { wakeAt: at, ...seen }, steps: changes });
    this.halt('parked');
    throw new RunHalted();
  }

  /** Turns a step's final result into its record, and decides whether the workflow must stop. */
  #settle(result: StepResult): StepRecord {
    const record = this.#steps.get(result.name)!;
    const step = this.#byName.get(result.name)!;
    const now = this.#deps.now();
    // One spread, first in its literal: V8 clones such a literal on a fast path (a second spread copies key by key).
    const base: StepRecord = result.childId === undefined ? record : { ...record, childWorkflowId: result.childId };
    let next: StepRecord;
    if (result.ok) {
      this.#seq += 1;
      next = { ...base, status: StepStatus.Completed, output: result.output, finishedAt: now, completionSeq: this.#seq };
    } else {
      // The peer's own deadline may fire a hair before the workflow's timer: that is the workflow timing out.
      const deadlineAt = this.#record.deadlineAt;
      if (deadlineAt !== undefined && now >= deadlineAt) this.#stopWith({ kind: 'timed_out' });
      const error = this.#wire(result.error);
      const cancelled = this.#stop !== undefined && (result.error.code === ErrorCode.Cancelled || result.error.code === ErrorCode.Timeout);
      next = { ...base, status: cancelled ? StepStatus.Cancelled : StepStatus.Failed, error, finishedAt: now };
      if (!cancelled && !step.continueOnError) this.#stopWith({ kind: 'failed', step: step.name, error });
    }
    this.#steps.set(result.name, next);
    return next;
  }

  /** Runs one step with its retry policy; never rejects. Retries are persisted as they happen. */
  async #runStep(step: StepDefinition, input: unknown): Promise<StepResult> {
    const signal = this.#steps$.signal;
    if (step.target.kind === 'workflow') return this.#runChildStep(step, input, signal);
    const target = step.target;
    if (target.kind === 'sleep' || target.kind === 'signal') return { name: step.name, ok: false, error: new OnexError(ErrorCode.Internal, `Step '${step.name}' waits, it makes no call`) };
    const client = this.#deps.peers.get(target.peer);
    if (client === undefined) return { name: step.name, ok: false, error: new OnexError(ErrorCode.Contract, `Unknown peer '${target.peer}'`) };
    const breaker = this.#deps.breakers.get(`peer:${target.peer}`);
    const idempotencyKey = `${this.id}:${step.name}`;
    const errors: RecordedError[] = [...(this.#steps.get(step.name)?.attemptErrors ?? [])];
    const firstAttempt = this.#steps.get(step.name)?.attempts ?? 1;
    const correlationId = this.#record.correlationId;
    try {
      const output = await step.retry.execute(
        async (attempt) => {
          if (attempt > 1) {
            const current = this.#steps.get(step.name)!;
            await this.#commit({ steps: [{ ...current, attempts: firstAttempt + attempt - 1, attemptErrors: errors.slice() }] });
            if (!this.#deps.canDispatch()) this.halt('lease');
            this.#checkHalted();
          }
          this.#deps.counters.stepAttempts += 1;
          const deadlineAt = this.#attemptDeadline(step);
          const ctx: StepCallContext = {
            workflowId: this.id,
            step: step.name,
            attempt: firstAttempt + attempt - 1,
            peer: target.peer,
            idempotencyKey,
            correlationId,
            signal,
            ...(deadlineAt === undefined ? {} : { deadlineAt }),
          };
          // The step's deadline does the timing (the orchestrator's breakers have no timeout of their own), so the
          // breaker's signal never aborts and the workflow's signal is the one to honour.
          const send = (sent: unknown): Promise<unknown> =>
            breaker.execute(() => client.call(sent, { signal, idempotencyKey, correlationId, ...(deadlineAt === undefined ? {} : { deadlineAt }) }).then(valueOf));
          const startedAt = this.#deps.now();
          try {
            return await runInSpan(this.#span(`step ${step.name}`, step.name, ctx.attempt, idempotencyKey), () => step.call(input, ctx, send), this.#trace);
          } finally {
            this.#deps.durations.recordStep(this.#record.type, step.name, this.#deps.now() - startedAt);
          }
        },
        {
          signal,
          now: this.#deps.now,
          ...(this.#record.deadlineAt === undefined ? {} : { deadlineAt: this.#record.deadlineAt }),
          onRetry: ({ error }) => {
            this.#deps.counters.stepRetries += 1;
            errors.push(this.#wire(error));
          },
        },
      );
      return { name: step.name, ok: true, output };
    } catch (error) {
      const onex = signal.aborted && !(error instanceof OnexError) ? abortReasonToOnexError(signal) : toOnexError(error);
      const current = this.#steps.get(step.name)!;
      this.#steps.set(step.name, { ...current, attemptErrors: [...errors, this.#wire(onex)] });
      return { name: step.name, ok: false, error: onex };
    }
  }

  /** A nested-workflow step: starts the child (idempotently) and waits for its durable outcome. */
  async #runChildStep(step: StepDefinition, input: unknown, signal: AbortSignal): Promise<StepResult> {
    if (step.target.kind !== 'workflow') throw new OnexError(ErrorCode.Internal, `Step '${step.name}' is not a nested workflow`);
    this.#deps.counters.stepAttempts += 1;
    const startedAt = this.#deps.now();
    try {
      const definition = step.target.workflow;
      // The child's own `workflow <type>` span is a child of this one: the whole tree is one trace.
      const { childId, outcome } = await runInSpan(
        this.#span(`step ${step.name}`, step.name, 1, `child:${this.id}.${step.name}`),
        () =>
          this.#deps.children.runChild({
            parent: this.record,
            step,
            definition,
            input,
            deadlineAt: this.#attemptDeadline(step),
            signal,
            cancelsChild: () => this.#stop !== undefined && this.#halted === undefined,
          }),
        this.#trace,
      );
      if (outcome.status === WorkflowStatus.Completed) return { name: step.name, ok: true, output: outcome.output, childId };
      const childError = outcome.error;
      return {
        name: step.name,
        ok: false,
        childId,
        error: new OnexError(childError.code, `Child workflow ${childId} ended ${outcome.status}: ${childError.message}`, {
          context: { childWorkflowId: childId, childStatus: outcome.status, ...(childError.step === undefined ? {} : { childStep: childError.step }) },
        }),
      };
    } catch (error) {
      return { name: step.name, ok: false, error: toOnexError(error) };
    } finally {
      this.#deps.durations.recordStep(this.#record.type, step.name, this.#deps.now() - startedAt);
    }
  }

  #attemptDeadline(step: StepDefinition): number | undefined {
    const stepDeadline = step.timeoutMs === undefined ? undefined : this.#deps.now() + step.timeoutMs;
    const wf = this.#record.deadlineAt;
    if (stepDeadline === undefined) return wf;
    return wf === undefined ? stepDeadline : Math.min(stepDeadline, wf);
  }

  async #complete(): Promise<RunOutcome> {
    const outputs: Record<string, unknown> = {};
    for (const [name, record] of this.#steps) if (record.status === StepStatus.Completed) outputs[name] = record.output;
    let output: unknown;
    try {
      const parsed = this.#definition.output.safeParse(this.#definition.result({ workflowId: this.id, input: this.#record.input, steps: outputs }));
      if (!parsed.success) throw toOnexError(parsed.error);
      output = parsed.data;
    } catch (error) {
      const failure = new OnexError(ErrorCode.Contract, `Workflow '${this.#definition.type}' produced an invalid output`, { cause: error });
      return this.#compensateAndFinish({ kind: 'failed', error: this.#wire(failure) });
    }
    await this.#commit({ workflow: { status: WorkflowStatus.Completed, output }, steps: this.#takeUnsaved() });
    return { status: WorkflowStatus.Completed, output };
  }

  /**
   * Saga: compensate completed (and possibly-applied) steps in reverse completion order, then end. A compensation
   * whose peer is unavailable parks the workflow (the run halts `parked`); the saga goes on, in the same order,
   * when it is claimed again.
   */
  async #compensateAndFinish(reason: StopReason): Promise<RunOutcome> {
    const error: WorkflowError =
      reason.kind === 'failed'
        ? this.#failureOf(reason)
        : this.#wire(reason.kind === 'cancelled' ? new OnexError(ErrorCode.Cancelled, 'Workflow cancelled') : new OnexError(ErrorCode.Timeout, 'Workflow deadline exceeded'));
    const candidates = [...this.#steps.values()].filter((record) => this.#needsCompensation(record));
    // Completed steps in reverse completion order; steps whose outcome is uncertain (no answer) first: they ran last.
    candidates.sort((a, b) => (b.completionSeq ?? Number.MAX_SAFE_INTEGER) - (a.completionSeq ?? Number.MAX_SAFE_INTEGER));
    if (candidates.length > 0 && this.#record.status !== WorkflowStatus.Compensating) {
      await this.#commit({ workflow: { status: WorkflowStatus.Compensating, error }, steps: this.#takeUnsaved() });
    }
    let compensationFailed = false;
    for (const candidate of candidates) {
      const ok = await this.#compensate(this.#steps.get(candidate.name)!);
      if (!ok) compensationFailed = true;
    }
    const steps = [...this.#steps.values()];
    let status: Extract<RunOutcome, { readonly error: WorkflowError }>['status'];
    if (compensationFailed || steps.some((s) => s.status === StepStatus.CompensationFailed)) status = WorkflowStatus.CompensationFailed;
    else if (reason.kind === 'cancelled') status = WorkflowStatus.Cancelled;
    else if (reason.kind === 'timed_out') status = WorkflowStatus.TimedOut;
    else if (steps.some((s) => s.status === StepStatus.Compensated)) status = WorkflowStatus.Compensated;
    else status = WorkflowStatus.Failed;
    // Steps never started are closed as cancelled, so every step ends in a final status.
    const now = this.#deps.now();
    const closing = steps
      .filter((s) => s.status === StepStatus.Pending || s.status === StepStatus.Running)
      .map((s): StepRecord => ({ ...s, status: StepStatus.Cancelled, finishedAt: now }));
    const unsaved = this.#takeUnsaved().filter((u) => !closing.some((c) => c.name === u.name));
    await this.#commit({ workflow: { status, error }, steps: [...unsaved, ...closing] });
    return { status, error };
  }

  /** The workflow's error for a step that failed for good: the step's error, naming it, with its attempts. */
  #failureOf(reason: Extract<StopReason, { kind: 'failed' }>): WorkflowError {
    if (reason.step === undefined) return reason.error;
    const record = this.#steps.get(reason.step);
    const attemptErrors = record?.attemptErrors ?? [];
    return {
      ...reason.error,
      step: reason.step,
      attempts: record?.attempts ?? 0,
      attemptErrors: attemptErrors.slice(-MAX_OUTCOME_ATTEMPT_ERRORS),
    };
  }

  #needsCompensation(record: StepRecord): boolean {
    const step = this.#byName.get(record.name);
    if (step?.compensate === undefined) return false;
    if (record.status === StepStatus.Completed || record.status === StepStatus.Compensating) return true;
    if (record.status === StepStatus.Failed || record.status === StepStatus.Cancelled || record.status === StepStatus.Running || record.status === StepStatus.Pending) {
      // Any attempt that may have reached the peer may have taken effect, not only the last one (a timeout after
      // the peer acted, then CIRCUIT_OPEN on the retry, must still be undone). Compensations are safe either way.
      const errors = record.attemptErrors.length > 0 ? record.attemptErrors : record.error === undefined ? [] : [record.error];
      return record.attempts > 0 && (errors.length === 0 || errors.some(mayHaveApplied));
    }
    return false;
  }

  /**
   * Runs one compensation with its retry policy. True when it is compensated, false when the peer refused it
   * definitely (`compensation_failed`). An unavailable peer (retryable errors, an open breaker) parks the workflow:
   * the wake-up time is committed and the run halts, holding nothing in memory while it waits.
   */
  async #compensate(record: StepRecord): Promise<boolean> {
    const step = this.#byName.get(record.name)!;
    const spec = step.compensate!;
    const client = this.#deps.peers.get(spec.peer);
    if (record.status !== StepStatus.Compensating) {
      await this.#commit({ steps: [{ ...record, status: StepStatus.Compensating, compensationStartedAt: record.compensationStartedAt ?? this.#deps.now() }] });
    }
    this.#deps.counters.compensationsRun += 1;
    const ctx = { ...this.#stepContext(step), output: record.status === StepStatus.Completed || record.completionSeq !== undefined ? record.output : undefined };
    const breaker = this.#deps.breakers.get(`peer:${spec.peer}`);
    const signal = this.#haltSignal();
    let attempts = record.compensationAttempts ?? 0;
    let failure: OnexError;
    try {
      if (client === undefined) throw new OnexError(ErrorCode.Contract, `Unknown peer '${spec.peer}'`);
      const input = spec.input(ctx);
      // Compensations run even when the workflow was cancelled or timed out: they get their own deadlines. An open
      // breaker ends the attempts at once: the wait until it half-opens is spent parked, not in memory.
      const open = await spec.retry.execute(
        async () => {
          if (!this.#deps.canDispatch()) this.halt('lease');
          this.#checkHalted();
          attempts += 1;
          const idempotencyKey = `${this.id}:${step.name}:compensate${record.compensationRetries === undefined ? '' : `:retry-${record.compensationRetries}`}`;
          try {
            await runInSpan(
              this.#span(`compensate ${step.name}`, step.name, attempts, idempotencyKey),
              () =>
                breaker.execute(() =>
                  client
                    .call(input, {
                      signal,
                      idempotencyKey,
                      correlationId: this.#record.correlationId,
                      ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
                    })
                    .then(valueOf),
                ),
              this.#trace,
            );
            return undefined;
          } catch (error) {
            if (isOnexError(error) && error.code === ErrorCode.CircuitOpen) return error;
            throw error;
          }
        },
        { signal, now: this.#deps.now },
      );
      if (open === undefined) {
        await this.#commit({ steps: [{ ...this.#steps.get(step.name)!, status: StepStatus.Compensated, compensationAttempts: attempts, compensationFinishedAt: this.#deps.now() }] });
        return true;
      }
      failure = open;
    } catch (error) {
      this.#checkHalted();
      failure = toOnexError(error);
    }
    const current = this.#steps.get(step.name)!;
    // Only a definite refusal ends the compensation: an unavailable peer, or an answer after which the undo may have
    // happened (a garbled answer, an internal error), parks it for another try under the same idempotency key.
    if (isUnavailable(failure) || mayHaveApplied(this.#wire(failure))) {
      const waits = (current.compensationWaits ?? 0) + 1;
      const backoff = spec.retry.delayFor(Math.min(waits, 32));
      const delayMs = Math.max(1, backoff, failure.retryAfterMs ?? 0);
      this.#deps.counters.compensationsParked += 1;
      this.#deps.logger.warn({ err: failure, workflowId: this.id, step: step.name, waits, delayMs }, 'compensation peer unavailable: workflow parked');
      await this.#commit({
        workflow: { wakeAt: this.#deps.now() + delayMs },
        steps: [{ ...current, compensationAttempts: attempts, compensationWaits: waits, compensationError: this.#wire(failure) }],
      });
      this.halt('parked');
      throw new RunHalted();
    }
    this.#deps.counters.compensationsFailed += 1;
    this.#deps.logger.error({ err: failure, workflowId: this.id, step: step.name }, 'compensation refused');
    await this.#commit({ steps: [{ ...current, status: StepStatus.CompensationFailed, compensationAttempts: attempts, compensationError: this.#wire(failure), compensationFinishedAt: this.#deps.now() }] });
    return false;
  }
}
