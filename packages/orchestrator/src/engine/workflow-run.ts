import {
  abortReasonToOnexError,
  ErrorCode,
  OnexError,
  toOnexError,
  toWireError,
  type CircuitBreakerRegistry,
  type ErrorSanitizer,
  type Logger,
  type NodeClient,
  type NodeContract,
} from '@onex/core';
import type { AnyWorkflowDefinition, StepDefinition } from '../workflow/definition.js';
import {
  StepStatus,
  WorkflowStatus,
  type RecordedError,
  type StepRecord,
  type WorkflowCommit,
  type WorkflowPatch,
  type WorkflowRecord,
} from '../store/workflow-record.js';
import type { WorkflowStore } from '../store/workflow-store.js';

/** What a finished run reports to the orchestrator. */
export interface RunOutcome {
  readonly status: WorkflowStatus;
  readonly output?: unknown;
  readonly error?: RecordedError;
}

/** Counters a run adds to; owned by the orchestrator (bounded: plain numbers). */
export interface RunCounters {
  stepAttempts: number;
  stepRetries: number;
  compensationsRun: number;
  compensationsFailed: number;
}

/** Starts a child workflow and waits for it (nested steps). */
export interface ChildRunner {
  runChild(options: {
    readonly parent: WorkflowRecord;
    readonly step: StepDefinition;
    readonly definition: AnyWorkflowDefinition;
    readonly input: unknown;
    readonly deadlineAt: number | undefined;
    readonly signal: AbortSignal;
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
  readonly children: ChildRunner;
}

const MAX_TIMER_MS = 2_147_483_647;

// Step lookup by name, built once per definition rather than once per run.
const STEP_INDEX = new WeakMap<AnyWorkflowDefinition, ReadonlyMap<string, StepDefinition>>();
function stepIndex(definition: AnyWorkflowDefinition): ReadonlyMap<string, StepDefinition> {
  let index = STEP_INDEX.get(definition);
  if (index === undefined) {
    index = new Map(definition.steps.map((s) => [s.name, s]));
    STEP_INDEX.set(definition, index);
  }
  return index;
}

// Outcomes of a step call that may have taken effect on the peer even though no answer came back.
const UNCERTAIN = new Set<string>([ErrorCode.Timeout, ErrorCode.Cancelled, ErrorCode.Unavailable, ErrorCode.Internal]);

type StepResult = { readonly name: string; readonly ok: true; readonly output: unknown; readonly childId?: string } | { readonly name: string; readonly ok: false; readonly error: OnexError; readonly childId?: string };

/** Why a run stops scheduling new steps. */
type StopReason = { readonly kind: 'failed'; readonly step: string; readonly error: RecordedError } | { readonly kind: 'cancelled' } | { readonly kind: 'timed_out' };

/**
 * One workflow execution: schedules the DAG, persists every transition before acting on it, retries steps,
 * runs the saga on failure. Resumable: it starts from whatever state the store holds.
 */
export class WorkflowRun {
  readonly id: string;
  readonly #deps: RunDependencies;
  readonly #definition: AnyWorkflowDefinition;
  readonly #byName: ReadonlyMap<string, StepDefinition>;
  readonly #controller = new AbortController();
  readonly #steps = new Map<string, StepRecord>();
  // Owned by this run and changed in place (commits are frequent; the `record` getter hands out copies).
  readonly #record: { -readonly [K in keyof WorkflowRecord]: WorkflowRecord[K] };
  #seq = 0;
  #stop: StopReason | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** Step records settled but not yet committed: the closing commit carries them. */
  #unsaved: StepRecord[] = [];

  constructor(record: WorkflowRecord, definition: AnyWorkflowDefinition, deps: RunDependencies) {
    this.id = record.id;
    this.#record = { ...record };
    this.#definition = definition;
    this.#deps = deps;
    this.#byName = stepIndex(definition);
    for (const step of definition.steps) {
      const stored = record.steps[step.name];
      this.#steps.set(step.name, stored ?? { name: step.name, status: StepStatus.Pending, attempts: 0, attemptErrors: [] });
      if (stored?.completionSeq !== undefined && stored.completionSeq > this.#seq) this.#seq = stored.completionSeq;
    }
  }

  /** Current record as this run knows it. */
  get record(): WorkflowRecord {
    return { ...this.#record, steps: Object.fromEntries(this.#steps) };
  }

  /** Stops the run: running steps are aborted and completed ones compensated; ends `cancelled`. */
  cancel(): void {
    this.#stopWith({ kind: 'cancelled' });
  }

  /** Runs (or resumes) the workflow to a terminal status. */
  async run(): Promise<RunOutcome> {
    try {
      // A saga interrupted by a crash finishes with the reason it started for, whatever the clock says now.
      if (this.#record.status === WorkflowStatus.Compensating) return await this.#compensateAndFinish(this.#restoredStopReason());
      if (this.#record.deadlineAt !== undefined) this.#armDeadline(this.#record.deadlineAt);
      await this.#execute();
      if (this.#stop !== undefined) return await this.#compensateAndFinish(this.#stop);
      return await this.#complete();
    } finally {
      if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
      // Whatever ended the run (a store failure included), nothing it started may go on calling peers.
      if (!this.#controller.signal.aborted) this.#controller.abort(new OnexError(ErrorCode.Cancelled, 'Workflow run ended'));
    }
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
        : new OnexError(ErrorCode.Cancelled, reason.kind === 'cancelled' ? 'Workflow cancelled' : `Step '${reason.step}' failed`);
    this.#controller.abort(abortReason);
  }

  #restoredStopReason(): StopReason {
    const error = this.#record.error;
    if (error?.code === ErrorCode.Timeout && this.#record.deadlineAt !== undefined) return { kind: 'timed_out' };
    if (error?.code === ErrorCode.Cancelled) return { kind: 'cancelled' };
    const failed = [...this.#steps.values()].find((s) => s.status === StepStatus.Failed);
    return { kind: 'failed', step: failed?.name ?? 'unknown', error: error ?? this.#wire(new OnexError(ErrorCode.Internal, 'Workflow failed')) };
  }

  async #commit(change: WorkflowCommit): Promise<void> {
    const now = this.#deps.now();
    const workflow: WorkflowPatch = change.workflow === undefined ? { updatedAt: now } : { ...change.workflow, updatedAt: now };
    if (change.steps !== undefined) for (const step of change.steps) this.#steps.set(step.name, step);
    Object.assign(this.#record, workflow);
    await this.#deps.store.commit(this.id, this.#record.epoch, { workflow, ...(change.steps === undefined ? {} : { steps: change.steps }) });
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
    const inFlight = new Set<string>();
    const finished: StepResult[] = [];
    let wake: (() => void) | undefined;
    // Steps a crash left `running` are dispatched again: the idempotency key makes the peer not repeat the work.
    const resumed = new Set<string>();
    for (const record of this.#steps.values()) if (record.status === StepStatus.Running) resumed.add(record.name);
    let pendingResults: StepResult[] = [];
    for (;;) {
      const changes: StepRecord[] = [];
      const toDispatch: { step: StepDefinition; input: unknown }[] = [];
      // Record results first, so that dependents see them in this same pass.
      for (const result of pendingResults) changes.push(this.#settle(result));
      if (this.#stop === undefined) {
        let progressed = true;
        while (progressed) {
          progressed = false;
          for (const step of this.#definition.steps) {
            // A step settled in this pass may have stopped the workflow: start nothing more.
            if (this.#stop !== undefined) {
              progressed = false;
              break;
            }
            const record = this.#steps.get(step.name)!;
            const isResumed = resumed.has(step.name) && !inFlight.has(step.name);
            if (record.status !== StepStatus.Pending && !isResumed) continue;
            if (inFlight.size + toDispatch.length >= this.#deps.maxParallelSteps) break;
            const readiness = this.#depsSatisfied(step);
            if (readiness === 'wait') continue;
            resumed.delete(step.name);
            const now = this.#deps.now();
            if (readiness === 'skip') {
              const skipped: StepRecord = { ...record, status: StepStatus.Skipped, finishedAt: now };
              this.#steps.set(step.name, skipped);
              changes.push(skipped);
              progressed = true;
              continue;
            }
            const ctx = this.#stepContext(step);
            let input: unknown;
            try {
              if (step.when !== undefined && !step.when(ctx)) {
                const skipped: StepRecord = { ...record, status: StepStatus.Skipped, finishedAt: now };
                this.#steps.set(step.name, skipped);
                changes.push(skipped);
                progressed = true;
                continue;
              }
              input = step.input(ctx);
            } catch (error) {
              const failure = new OnexError(ErrorCode.Validation, `Step '${step.name}' could not build its input`, { cause: error });
              changes.push(this.#settle({ name: step.name, ok: false, error: failure }));
              progressed = true;
              continue;
            }
            const running: StepRecord = {
              ...record,
              status: StepStatus.Running,
              attempts: isResumed ? record.attempts : record.attempts + 1,
              startedAt: record.startedAt ?? now,
            };
            this.#steps.set(step.name, running);
            changes.push(running);
            toDispatch.push({ step, input });
          }
        }
      }
      const workflowPatch: WorkflowPatch | undefined =
        this.#record.status === WorkflowStatus.Pending ? { status: WorkflowStatus.Running } : undefined;
      if (toDispatch.length === 0 && inFlight.size === 0 && workflowPatch === undefined) {
        // Nothing left to run: the last results go into the workflow's closing commit.
        this.#unsaved = changes;
        return;
      }
      if (changes.length > 0 || workflowPatch !== undefined) {
        // Write-ahead: results and the starts they unlock are durable before any new call goes out.
        await this.#commit({ ...(workflowPatch === undefined ? {} : { workflow: workflowPatch }), steps: changes });
      }
      for (const { step, input } of toDispatch) {
        inFlight.add(step.name);
        void this.#runStep(step, input).then((result) => {
          finished.push(result);
          wake?.();
        });
      }
      if (inFlight.size === 0) return;
      if (finished.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      // Everything that finished meanwhile is recorded in one commit.
      for (const result of finished) inFlight.delete(result.name);
      pendingResults = finished.splice(0);
    }
  }

  /** Turns a step's final result into its record, and decides whether the workflow must stop. */
  #settle(result: StepResult): StepRecord {
    const record = this.#steps.get(result.name)!;
    const step = this.#byName.get(result.name)!;
    const now = this.#deps.now();
    const child = result.childId === undefined ? {} : { childWorkflowId: result.childId };
    let next: StepRecord;
    if (result.ok) {
      this.#seq += 1;
      next = { ...record, ...child, status: StepStatus.Completed, output: result.output, finishedAt: now, completionSeq: this.#seq };
    } else {
      // The peer's own deadline may fire a hair before the workflow's timer: that is the workflow timing out.
      const deadlineAt = this.#record.deadlineAt;
      if (deadlineAt !== undefined && now >= deadlineAt) this.#stopWith({ kind: 'timed_out' });
      const error = this.#wire(result.error);
      const cancelled = this.#stop !== undefined && (result.error.code === ErrorCode.Cancelled || result.error.code === ErrorCode.Timeout);
      next = { ...record, ...child, status: cancelled ? StepStatus.Cancelled : StepStatus.Failed, error, finishedAt: now };
      if (!cancelled && !step.continueOnError) this.#stopWith({ kind: 'failed', step: step.name, error });
    }
    this.#steps.set(result.name, next);
    return next;
  }

  /** Runs one step with its retry policy; never rejects. Retries are persisted as they happen. */
  async #runStep(step: StepDefinition, input: unknown): Promise<StepResult> {
    const signal = this.#controller.signal;
    if (step.target.kind === 'workflow') {
      try {
        const { childId, outcome } = await this.#deps.children.runChild({
          parent: this.record,
          step,
          definition: step.target.workflow,
          input,
          deadlineAt: this.#attemptDeadline(step),
          signal,
        });
        if (outcome.status === WorkflowStatus.Completed) return { name: step.name, ok: true, output: outcome.output, childId };
        const code = outcome.error?.code ?? ErrorCode.Internal;
        return {
          name: step.name,
          ok: false,
          childId,
          error: new OnexError(code, `Child workflow ${childId} ended ${outcome.status}${outcome.error ? `: ${outcome.error.message}` : ''}`, {
            context: { childWorkflowId: childId, childStatus: outcome.status },
          }),
        };
      } catch (error) {
        return { name: step.name, ok: false, error: toOnexError(error) };
      }
    }
    const target = step.target;
    const client = this.#deps.peers.get(target.peer);
    if (client === undefined) return { name: step.name, ok: false, error: new OnexError(ErrorCode.Contract, `Unknown peer '${target.peer}'`) };
    const breaker = this.#deps.breakers.get(`peer:${target.peer}`);
    const idempotencyKey = `${this.id}:${step.name}`;
    const errors: RecordedError[] = [...(this.#steps.get(step.name)?.attemptErrors ?? [])];
    const firstAttempt = this.#steps.get(step.name)?.attempts ?? 1;
    try {
      const output = await step.retry.execute(
        async (attempt) => {
          this.#deps.counters.stepAttempts += 1;
          if (attempt > 1) {
            const current = this.#steps.get(step.name)!;
            await this.#commit({ steps: [{ ...current, attempts: firstAttempt + attempt - 1, attemptErrors: errors.slice() }] });
          }
          // The step's deadline does the timing (the orchestrator's breakers have no timeout of their own), so the
          // breaker's signal never aborts and the workflow's signal is the one to honour.
          return breaker.execute(async () => {
            const options: { signal: AbortSignal; idempotencyKey: string; correlationId: string; deadlineAt?: number } = {
              signal,
              idempotencyKey,
              correlationId: this.#record.correlationId,
            };
            const deadlineAt = this.#attemptDeadline(step);
            if (deadlineAt !== undefined) options.deadlineAt = deadlineAt;
            const result = await client.call(input, options);
            if (!result.ok) throw result.error;
            return result.value;
          });
        },
        {
          signal,
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
      return this.#compensateAndFinish({ kind: 'failed', step: '(result)', error: this.#wire(failure) });
    }
    await this.#commit({ workflow: { status: WorkflowStatus.Completed, output }, steps: this.#takeUnsaved() });
    return { status: WorkflowStatus.Completed, output };
  }

  /** Saga: compensate completed (and possibly-applied) steps in reverse completion order, then end. */
  async #compensateAndFinish(reason: StopReason): Promise<RunOutcome> {
    const error: RecordedError =
      reason.kind === 'failed'
        ? reason.error
        : this.#wire(reason.kind === 'cancelled' ? new OnexError(ErrorCode.Cancelled, 'Workflow cancelled') : new OnexError(ErrorCode.Timeout, 'Workflow deadline exceeded'));
    const candidates = [...this.#steps.values()].filter((record) => this.#needsCompensation(record));
    // Completed steps in reverse completion order; steps whose outcome is uncertain (no answer) first: they ran last.
    candidates.sort((a, b) => (b.completionSeq ?? Number.MAX_SAFE_INTEGER) - (a.completionSeq ?? Number.MAX_SAFE_INTEGER));
    if (candidates.length > 0 && this.#record.status !== WorkflowStatus.Compensating) {
      await this.#commit({ workflow: { status: WorkflowStatus.Compensating, error }, steps: this.#takeUnsaved() });
    }
    let compensationFailed = false;
    for (const record of candidates) {
      const ok = await this.#compensate(record);
      if (!ok) compensationFailed = true;
    }
    const alreadyFailed = [...this.#steps.values()].some((s) => s.status === StepStatus.CompensationFailed);
    let status: WorkflowStatus;
    if (compensationFailed || alreadyFailed) status = WorkflowStatus.CompensationFailed;
    else if (reason.kind === 'cancelled') status = WorkflowStatus.Cancelled;
    else if (reason.kind === 'timed_out') status = WorkflowStatus.TimedOut;
    else if ([...this.#steps.values()].some((s) => s.status === StepStatus.Compensated)) status = WorkflowStatus.Compensated;
    else status = WorkflowStatus.Failed;
    // Steps never started are closed as cancelled, so every step ends in a final status.
    const closing = [...this.#steps.values()]
      .filter((s) => s.status === StepStatus.Pending || s.status === StepStatus.Running)
      .map((s): StepRecord => ({ ...s, status: StepStatus.Cancelled, finishedAt: this.#deps.now() }));
    const unsaved = this.#takeUnsaved().filter((u) => !closing.some((c) => c.name === u.name));
    await this.#commit({ workflow: { status, error }, steps: [...unsaved, ...closing] });
    return { status, error };
  }

  #needsCompensation(record: StepRecord): boolean {
    const step = this.#byName.get(record.name);
    if (step?.compensate === undefined) return false;
    if (record.status === StepStatus.Completed || record.status === StepStatus.Compensating) return true;
    // No answer came back: the peer may have done the work. Compensations must be safe when it did not.
    if (record.status === StepStatus.Failed || record.status === StepStatus.Cancelled || record.status === StepStatus.Running) {
      // Any attempt that ended without an answer may have taken effect, not only the last one (a timeout after the
      // peer acted, then CIRCUIT_OPEN on the retry, must still be undone).
      const errors = record.attemptErrors.length > 0 ? record.attemptErrors : record.error === undefined ? [] : [record.error];
      return record.attempts > 0 && (errors.length === 0 || errors.some((e) => UNCERTAIN.has(e.code)));
    }
    return false;
  }

  async #compensate(record: StepRecord): Promise<boolean> {
    const step = this.#byName.get(record.name)!;
    const spec = step.compensate!;
    const client = this.#deps.peers.get(spec.peer);
    await this.#commit({ steps: [{ ...record, status: StepStatus.Compensating }] });
    this.#deps.counters.compensationsRun += 1;
    const ctx = { ...this.#stepContext(step), output: record.status === StepStatus.Completed || record.completionSeq !== undefined ? record.output : undefined };
    const breaker = this.#deps.breakers.get(`peer:${spec.peer}`);
    let attempts = 0;
    try {
      if (client === undefined) throw new OnexError(ErrorCode.Contract, `Unknown peer '${spec.peer}'`);
      const input = spec.input(ctx);
      // Compensations run even when the workflow was cancelled or timed out: they get their own deadlines.
      await spec.retry.execute(async () => {
        attempts += 1;
        return breaker.execute(async (breakerSignal) => {
          const result = await client.call(input, {
            signal: breakerSignal,
            idempotencyKey: `${this.id}:${step.name}:compensate`,
            correlationId: this.#record.correlationId,
            ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
          });
          if (!result.ok) throw result.error;
          return result.value;
        });
      });
      await this.#commit({ steps: [{ ...this.#steps.get(step.name)!, status: StepStatus.Compensated, compensationAttempts: attempts }] });
      return true;
    } catch (error) {
      this.#deps.counters.compensationsFailed += 1;
      const onex = toOnexError(error);
      this.#deps.logger.error({ err: onex, workflowId: this.id, step: step.name }, 'compensation failed');
      await this.#commit({
        steps: [{ ...this.#steps.get(step.name)!, status: StepStatus.CompensationFailed, compensationAttempts: attempts, compensationError: this.#wire(onex) }],
      });
      return false;
    }
  }
}
