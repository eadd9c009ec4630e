import { randomUUID } from 'node:crypto';
import {
  CircuitBreakerRegistry,
  ErrorCode,
  HealthStatus,
  LatencyHistogram,
  NodeService,
  OnexAttribute,
  OnexError,
  toOnexError,
  type CallContext,
  type ComponentHealth,
  type LatencyStats,
  type NodeClient,
  type NodeContract,
} from '@onex/core';
import { failSpan, isTraced, onAbort, onexTracer, packageVersion, traceCarrierOf } from '@onex/core/internal';
import { context, trace, type Tracer } from '@opentelemetry/api';
import type { z } from 'zod';
import { MemoryWorkflowStore } from '../store/memory-store.js';
import { isTerminalStatus, StepStatus, WorkflowStatus, type StepRecord, type WorkflowAdmission, type WorkflowFilter, type WorkflowRecord, type WorkflowSummary } from '../store/workflow-record.js';
import type { WorkflowEvent, WorkflowStore } from '../store/workflow-store.js';
import type { AnyWorkflowDefinition, WorkflowInputOf, WorkflowOutputOf } from '../workflow/definition.js';
import { Admission } from './admission.js';
import {
  orchestratorContract,
  orchestratorNodeContract,
  outcomeOf,
  type RunWorkflowInput,
  type WorkflowId,
  type WorkflowOutcome,
  type WorkflowOutcomeSchema,
} from './orchestrator-contract.js';
import type { OrchestratorDefinition } from './orchestrator-definition.js';
import { resolveLimits, type OrchestratorLimits, type OrchestratorOptions, type ResultOptions, type StartOptions } from './orchestrator-options.js';
import { registerOrchestratorMetrics, WorkflowDurations } from './orchestrator-metrics.js';
import { OutcomeWaiters } from './outcome-waiters.js';
import { isScheduleStore } from '../store/schedule-store.js';
import { Scheduler, tickKey } from './scheduler.js';
import { Schedules } from './schedules.js';
import { checkSignal, signalAck, signalIdOf, type SignalAck, type SignalOptions } from './signals.js';
import { limitedKeyOf } from '../store/concurrency.js';
import { Takeover } from './takeover.js';
import { WorkflowChanges, type WorkflowChange } from './workflow-changes.js';
import { WorkflowRegistry } from './workflow-registry.js';
import { WorkflowRun, type ChildRunner, type RunCounters, type RunEnd, type RunOutcome } from './workflow-run.js';
import { newWorkflowId } from './workflow-id.js';

/**
 * What an orchestrator counts, as {@link Orchestrator.stats} answers it (and `GET /metrics.json` under
 * `extra.workflows`; `GET /metrics` has the same figures in Prometheus families, see {@link Orchestrator}).
 *
 * @example
 * ```ts
 * const stats: OrchestratorStats = orchestrator.stats();
 * console.log(`${stats.running} running, ${stats.finished['completed'] ?? 0} completed`);
 * ```
 */
export interface OrchestratorStats {
  readonly running: number;
  readonly queued: number;
  readonly started: number;
  readonly finished: Readonly<Record<string, number>>;
  readonly stepAttempts: number;
  readonly stepRetries: number;
  readonly compensationsRun: number;
  readonly compensationsFailed: number;
  /** Compensations that met an unavailable peer and parked their workflow for a later try. */
  readonly compensationsParked: number;
  /** Workflows this instance claimed: resumed after a restart, taken over from an expired lease, or woken. */
  readonly recovered: number;
  /** Runs stopped because a renewal reported their lease lost, or the instance could not prove it (self-fencing). */
  readonly leaseLosses: number;
  /** Writes the store refused because another epoch holds the workflow (or it is finished). */
  readonly fencedWrites: number;
  readonly workflowLatency: LatencyStats;
  /** Per peer breaker: its state and how many times it opened. */
  readonly breakers: Readonly<Record<string, { readonly state: string; readonly openings: number }>>;
}

/** The version of `@onex/orchestrator`, for its tracer. */
const VERSION = packageVersion(import.meta.url);

/** How often `result()` reads the store for a workflow not run here (another instance, or parked). */
const RESULT_POLL_MS = 250;

/** The same, when the store announces finished workflows (`subscribe`): a safety net for a lost notification. */
const RESULT_POLL_SUBSCRIBED_MS = 5_000;

/**
 * A durable workflow engine over ONEX nodes. Workflows are DAGs of steps calling peers (or nested workflows); every
 * transition is persisted before it is acted on, so an orchestrator restarted after a crash resumes every
 * unfinished workflow where it stopped. Steps retry per their policy, each peer has its own circuit breaker, a
 * step that fails for good triggers the saga (compensations in reverse completion order).
 *
 * Constructed like every ONEX node, `new Orchestrator(definition, options)`: the definition
 * ({@link defineOrchestrator}) says what it runs, the options what it runs with. It is itself a node: serve it
 * with `serveOrchestrator` (adds `/v1/workflows` routes to `serveNode`).
 *
 * Metrics: `GET /metrics` answers Prometheus families labelled `node` — beside the core node ones,
 * `onex_orchestrator_workflows_started_total`, `_workflows_finished_total{status}`, `_step_attempts_total`,
 * `_step_retries_total`, `_compensations_total{result}` (`run`, `failed`, `parked`), `_takeovers_total`,
 * `_lease_losses_total`, `_fenced_writes_total`, the gauges `_workflows_running` and `_workflows_queued`, the
 * histograms `_step_duration_seconds{workflow,step}` and `_workflow_duration_seconds{workflow}` (label values only
 * from registered definitions), and `onex_circuit_breaker_*{breaker}` for each peer's breaker. `GET /metrics.json`
 * carries {@link OrchestratorStats} under `extra.workflows`.
 *
 * Protected hooks: `NodeService`'s `onInitialize`, `onShutdown`, `componentHealth` and `extraMetrics` (call
 * `super` in each).
 *
 * @example
 * ```ts
 * import { createInProcessClient, defineContract, NodeKind, NodeService } from '@onex/core';
 * import { defineOrchestrator, defineWorkflow, Orchestrator, peer } from '@onex/orchestrator';
 * import { z } from 'zod';
 *
 * const doubler = defineContract({ name: 'doubler', kind: NodeKind.Compute, version: '1.0.0', input: z.number(), output: z.number() });
 * class Doubler extends NodeService<typeof doubler.input, typeof doubler.output, typeof doubler.config> {
 *   constructor() { super(doubler); }
 *   protected async process(n: number) { return n * 2; }
 * }
 * const twice = defineWorkflow({ type: 'twice', version: '1.0.0', input: z.number(), output: z.number() })
 *   .step('once', { target: peer('doubler', doubler), input: ({ input }) => input })
 *   .step('again', { target: peer('doubler', doubler), dependsOn: ['once'], input: ({ steps }) => steps.once })
 *   .returns(({ steps }) => steps.again);
 *
 * const node = new Doubler();
 * await node.initialize();
 * const orchestrator = new Orchestrator(defineOrchestrator({ workflows: [twice] }), { peers: { doubler: createInProcessClient(node) } });
 * await orchestrator.initialize(); // resumes unfinished workflows
 * const outcome = await orchestrator.result(await orchestrator.start(twice, 3));
 * if (outcome.status === 'completed') console.log(outcome.output); // 12
 * await orchestrator.shutdown();
 * await node.shutdown();
 * ```
 */
export class Orchestrator extends NodeService<typeof orchestratorContract.input, typeof orchestratorContract.output, typeof orchestratorContract.config> implements ChildRunner {
  /** The store the workflows live in. */
  readonly store: WorkflowStore;
  readonly #registry = new WorkflowRegistry();
  readonly #breakers: CircuitBreakerRegistry;
  readonly #ownsBreakers: boolean;
  readonly #instanceId: string;
  readonly #limits: OrchestratorLimits;
  readonly #waiters = new OutcomeWaiters();
  readonly #admission: Admission;
  readonly #takeover: Takeover;
  readonly #scheduler: Scheduler | undefined;
  /** Cron schedules that start workflows (kept in the store; every instance on it runs them, each tick once). */
  readonly schedules: Schedules;
  readonly #changes: WorkflowChanges;
  #unsubscribe: (() => Promise<void>) | undefined;
  readonly #latency = new LatencyHistogram();
  readonly #durations = new WorkflowDurations();
  readonly #finished = new Map<string, number>();
  readonly #tracer: Tracer;
  readonly #counters: RunCounters = { stepAttempts: 0, stepRetries: 0, compensationsRun: 0, compensationsFailed: 0, compensationsParked: 0, fencedWrites: 0 };
  #started = 0;
  #accepting = false;
  #closed = false;

  /**
   * @throws OnexError `CONTRACT` when a workflow is invalid or names a peer missing from `options.peers`;
   *   `VALIDATION` for invalid options.
   */
  constructor(definition: OrchestratorDefinition, options: OrchestratorOptions = {}) {
    const name = definition.name ?? orchestratorContract.name;
    super(orchestratorNodeContract(name, definition.version ?? orchestratorContract.version, definition.description), options);
    this.#limits = resolveLimits(options);
    this.#tracer = onexTracer(this.tracerProvider, '@onex/orchestrator', VERSION);
    this.store = options.store ?? new MemoryWorkflowStore();
    this.#ownsBreakers = options.breakers === undefined;
    // Step deadlines do the timing, so breakers have no timeout of their own (and cost no timer per call).
    this.#breakers = options.breakers ?? new CircuitBreakerRegistry({ defaults: { timeoutMs: false, ...options.breakerDefaults } });
    this.#instanceId = options.instanceId ?? `${name}-${randomUUID().slice(0, 8)}`;
    this.#changes = new WorkflowChanges(this.logger);
    this.#admission = new Admission({
      maxConcurrent: this.#limits.maxConcurrentWorkflows,
      maxQueued: this.#limits.maxQueuedWorkflows,
      createRun: (record) => this.#createRun(record),
      onEnd: (record, run, end) => this.#ended(record, run, end),
      onLeft: (id) => this.#waiters.settle(id, undefined),
    });
    this.#takeover = new Takeover({
      store: this.store,
      instanceId: this.#instanceId,
      leaseMs: this.#limits.leaseMs,
      clock: this.clock,
      logger: this.logger,
      admission: this.#admission,
      runnable: () => this.#registry.runnable,
      onCancel: (id) => this.#admission.cancel(id),
      onSignals: (signals) => {
        for (const [id, seq] of Object.entries(signals)) this.#admission.run(id)?.notifySignals(seq);
      },
    });
    const scheduleStore = options.scheduleStore ?? (isScheduleStore(this.store) ? this.store : undefined);
    // A store with events tells of schedules made elsewhere at once: its poll is only the fallback for a lost event.
    const schedulePollMs = options.schedulePollMs ?? (this.store.subscribe === undefined ? 60_000 : 600_000);
    if (!(Number.isFinite(schedulePollMs) && schedulePollMs > 0)) throw new OnexError(ErrorCode.Validation, `schedulePollMs must be a positive number (got ${String(schedulePollMs)})`);
    this.#scheduler =
      scheduleStore === undefined
        ? undefined
        : new Scheduler({
            store: scheduleStore,
            clock: this.clock,
            logger: this.logger,
            pollMs: schedulePollMs,
            runs: (schedule) => this.#registry.runnable.some((r) => r.type === schedule.workflow && (schedule.version === undefined || r.version === schedule.version)),
            start: (schedule, tickAt) =>
              this.start(schedule.workflow, schedule.input, {
                ...(schedule.version === undefined ? {} : { version: schedule.version }),
                idempotencyKey: tickKey(schedule.id, tickAt),
              }),
            finished: async (id) => {
              const record = this.#admission.run(id)?.record ?? (await this.store.get(id));
              return record === undefined || isTerminalStatus(record.status);
            },
          });
    this.schedules = new Schedules({ store: scheduleStore, clock: this.clock, scheduler: this.#scheduler, definition: (type, version) => this.definition(type, version) });
    for (const [peerName, client] of Object.entries(options.peers ?? {})) this.#registry.registerPeer(peerName, client);
    for (const workflow of definition.workflows) {
      this.#registry.register(workflow);
      this.#durations.add(workflow);
    }
    registerOrchestratorMetrics(this.prometheus, {
      breakers: this.#breakers,
      durations: this.#durations,
      counters: this.#counters,
      started: () => this.#started,
      finished: () => this.#finished,
      running: () => this.#admission.running,
      queued: () => this.#admission.queued,
      recovered: () => this.#takeover.recovered,
      leaseLosses: () => this.#takeover.leaseLosses,
    });
  }

  /** This instance's name: the owner of the workflows it holds. */
  get instanceId(): string {
    return this.#instanceId;
  }

  /** Adds a peer node clients can be addressed by in steps. */
  registerPeer(name: string, client: NodeClient<NodeContract>): void {
    this.#registry.registerPeer(name, client);
  }

  /**
   * Registers one more workflow definition (and the nested workflows it uses) besides the definition's. Checks the
   * DAG and that every peer a step or compensation names is registered; errors name the step. The instance claims
   * only workflows of registered types and versions.
   *
   * @throws OnexError `CONTRACT` naming the step at fault.
   */
  register(definition: AnyWorkflowDefinition): void {
    this.#registry.register(definition);
    this.#durations.add(definition);
  }

  /**
   * The definition for a type (and version, default the highest).
   *
   * @throws OnexError `NOT_FOUND` for a type or version not registered.
   */
  definition(type: string, version?: string): AnyWorkflowDefinition {
    return this.#registry.definition(type, version);
  }

  /**
   * Starts a workflow and returns its id at once. Started from its definition, the id is typed: `result(id)`
   * answers the workflow's typed output. Input is validated first (VALIDATION error, nothing stored). With an
   * idempotency key already used, returns the existing workflow's id. Past the queue limit: OVERLOADED. With
   * `startAt` or `delayMs` it is stored at once and runs when due (see {@link StartOptions.startAt}).
   *
   * @throws OnexError `VALIDATION` (invalid input), `NOT_FOUND` (type or version not registered), `OVERLOADED`,
   *   `LIFECYCLE` (not initialized, or shutting down).
   */
  async start<W extends AnyWorkflowDefinition>(workflow: W, input: WorkflowInputOf<W>, options?: StartOptions): Promise<WorkflowId<WorkflowOutputOf<W>>>;
  async start(type: string, input: unknown, options?: StartOptions): Promise<WorkflowId>;
  async start(type: string | AnyWorkflowDefinition, input: unknown, options: StartOptions = {}): Promise<WorkflowId> {
    if (!this.#accepting) throw new OnexError(ErrorCode.Lifecycle, `Orchestrator is ${this.status}, not accepting workflows`);
    const definition = typeof type === 'string' ? this.definition(type, options.version) : this.definition(type.type, type.version);
    const parsed = definition.input.safeParse(input);
    if (!parsed.success) throw toOnexError(parsed.error);
    if (this.#admission.overloaded) throw new OnexError(ErrorCode.Overloaded, 'Orchestrator queue is full', { retryAfterMs: 1_000 });
    const now = this.clock.now();
    const startAt = startTimeOf(options, now);
    const delayed = startAt !== undefined && startAt > now;
    const timeoutMs = options.timeoutMs ?? definition.timeoutMs;
    const relative = timeoutMs === undefined ? undefined : Math.max(now, startAt ?? now) + timeoutMs;
    const deadlineAt = relative === undefined ? options.deadlineAt : options.deadlineAt === undefined ? relative : Math.min(relative, options.deadlineAt);
    const admission = admissionOf(options);
    const keyed = limitedKeyOf({ ...admission, ...(options.parentId === undefined ? {} : { parentId: options.parentId }) }) !== undefined;
    // The workflow's trace: a `workflow <type>` span for the start, in the caller's context (an HTTP request's, a
    // parent workflow's step), stored with the workflow so that every run of it, here or on another instance after a
    // takeover, is a child of it. It covers the start only: a run may outlive this process.
    const parent = context.active();
    const span = this.#tracer.startSpan(`workflow ${definition.type}`, undefined, parent);
    const traceContext = isTraced(span) ? traceCarrierOf(trace.setSpan(parent, span)) : undefined;
    const record: WorkflowRecord = {
      // Time-ordered (UUIDv7): new workflows append to the id indexes and step tables, so a commit writes the same few
      // pages as its neighbours' instead of one random page per index (SQLite WAL frames, PostgreSQL B-tree pages).
      id: options.id ?? newWorkflowId(),
      type: definition.type,
      version: definition.version,
      status: WorkflowStatus.Pending,
      input: parsed.data,
      correlationId: options.correlationId ?? randomUUID(),
      createdAt: now,
      updatedAt: now,
      // A delayed start is parked, held by nobody: claimable (here or elsewhere) once due. So is one with a concurrency
      // key: it runs once a claim finds its key under the limit across every instance (the store counts the slots).
      ...(delayed ? { wakeAt: startAt } : keyed ? {} : { owner: this.#instanceId, leaseExpiresAt: now + this.#limits.leaseMs }),
      epoch: 1,
      steps: {},
      ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
      ...(options.parentId === undefined ? {} : { parentId: options.parentId }),
      ...(deadlineAt === undefined ? {} : { deadlineAt }),
      ...admission,
      ...(traceContext === undefined ? {} : { traceContext }),
    };
    // Run here at once: the create also records the first pass (the workflow running, its first steps dispatched
    // with their inputs), so it is that pass's write-ahead commit. Otherwise it is stored pending, and admitted.
    let reserved = !delayed && !keyed && this.#admission.reserve(record);
    const run = reserved ? this.#createRun(record) : undefined;
    const planned = run?.planStart();
    if (reserved && planned === undefined) {
      // Nothing to fold into the create: it is admitted like any other once stored.
      this.#admission.unreserve();
      reserved = false;
    }
    try {
      const { created, record: stored } = await this.store.create(planned ?? record);
      if (span.isRecording()) {
        span.setAttribute(OnexAttribute.WorkflowId, stored.id);
        span.setAttribute(OnexAttribute.WorkflowType, stored.type);
        span.setAttribute(OnexAttribute.CorrelationId, stored.correlationId);
        if (options.idempotencyKey !== undefined) span.setAttribute(OnexAttribute.IdempotencyKey, options.idempotencyKey);
      }
      if (created) {
        this.#started += 1;
        this.#changes.emit(stored.id, stored.status);
        if (delayed) this.#takeover.scheduleClaim(startAt - now);
        else if (keyed) this.#takeover.scheduleClaim(0);
        else if (planned !== undefined) {
          reserved = false;
          this.#admission.launchReserved(stored, run!);
        } else this.#admission.admit(stored);
      }
      return stored.id;
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      if (reserved) this.#admission.unreserve();
      span.end();
    }
  }

  /**
   * Waits until the workflow is finished and returns its outcome, wherever it runs: a run here is awaited; a
   * workflow run elsewhere, parked, or whose run here stopped unfinished is read from the store until it ends. The
   * id `start` answered for a definition types the output.
   *
   * @throws OnexError `NOT_FOUND` when the workflow does not exist, `CANCELLED` when `signal` aborts, `LIFECYCLE`
   *   when the orchestrator shuts down meanwhile (the workflow stays resumable).
   */
  async result<TOutput = unknown>(id: WorkflowId<TOutput>, options: ResultOptions = {}): Promise<WorkflowOutcome<TOutput>> {
    const signal = options.signal;
    let failures = 0;
    for (;;) {
      if (signal?.aborted === true) throw new OnexError(ErrorCode.Cancelled, 'Stopped waiting for the workflow');
      if (this.#closed) throw new OnexError(ErrorCode.Lifecycle, `Orchestrator shut down while waiting for workflow ${id}; it stays resumable`, { context: { id } });
      if (this.#admission.holds(id)) {
        const outcome = await this.#waiters.local(id, signal);
        if (outcome !== undefined) return outcome as WorkflowOutcome<TOutput>;
        continue;
      }
      // Listening before reading: a `finished` event sent while the read is on its way is not missed.
      const poll = this.#unsubscribe === undefined ? RESULT_POLL_MS : RESULT_POLL_SUBSCRIBED_MS;
      const ended = this.#waiters.remote(id, Math.min(poll * 2 ** Math.min(failures, 5), 30_000), signal);
      let record: WorkflowRecord | undefined;
      try {
        record = await this.store.get(id);
        failures = 0;
      } catch (error) {
        // The store is down: keep waiting (the workflow is not lost), backing off.
        failures += 1;
        this.logger.warn({ err: error, workflowId: id }, 'could not read workflow while waiting for it');
      }
      if (failures === 0) {
        const done = record === undefined || isTerminalStatus(record.status) || this.#admission.holds(id);
        if (done) ended.cancel();
        if (record === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`, { context: { id } });
        if (isTerminalStatus(record.status)) return outcomeOf<TOutput>(record);
        if (done) continue;
      }
      await ended.wait;
    }
  }

  /**
   * The workflow with its steps.
   *
   * @throws OnexError `NOT_FOUND`.
   */
  async get(id: string): Promise<WorkflowRecord> {
    const running = this.#admission.run(id);
    if (running !== undefined) return running.record;
    const record = await this.store.get(id);
    if (record === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`, { context: { id } });
    return record;
  }

  /** Summaries of workflows, newest first. */
  async list(filter: WorkflowFilter = {}): Promise<readonly WorkflowSummary[]> {
    return this.store.list(filter);
  }

  /**
   * Cancels a workflow and waits for its end: running steps are aborted, completed ones compensated; it ends
   * `cancelled`. The request is durable first, so it holds wherever the workflow runs: a run here stops at once,
   * a workflow held by another instance is cancelled by it at its next lease renewal, a parked one when it is
   * claimed (at once). Cancelling a finished workflow changes nothing. Returns the outcome.
   *
   * @throws OnexError `NOT_FOUND`, or as {@link Orchestrator.result}.
   */
  async cancel<TOutput = unknown>(id: WorkflowId<TOutput>, options: ResultOptions = {}): Promise<WorkflowOutcome<TOutput>> {
    const record = await this.store.requestCancel(id);
    if (record === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`, { context: { id } });
    if (isTerminalStatus(record.status)) return outcomeOf<TOutput>(record);
    this.#changes.emit(id, record.status);
    this.#admission.cancel(id);
    if (!this.#admission.runsOrQueued(id)) this.#takeover.scheduleClaim(0);
    return this.result(id, options);
  }

  /**
   * Sends a signal to a workflow: its payload is checked by the schema of the workflow's waits for `name`, then it
   * is stored durably (deduplicated by `options.signalId`) and delivered to the first wait for it, now or when the
   * workflow reaches one; a parked workflow is woken, here or on any instance. Resolves once stored.
   *
   * @throws OnexError `NOT_FOUND` (no such workflow), `VALIDATION` (the workflow waits for no such signal, or the
   *   payload fails the schema: nothing stored), `CONFLICT` (the workflow is finished), `OVERLOADED` (it holds the
   *   most signals a workflow may), `LIFECYCLE` (not initialized).
   * @example
   * ```ts
   * declare const orderId: string;
   * await orchestrator.signal(orderId, 'shipped', { trackingId: 'TRK-1' }, { signalId: 'warehouse-8812' });
   * ```
   */
  async signal(id: string, name: string, payload: unknown, options: SignalOptions = {}): Promise<SignalAck> {
    if (!this.#accepting) throw new OnexError(ErrorCode.Lifecycle, `Orchestrator is ${this.status}, not accepting signals`);
    const signalId = signalIdOf(options);
    const record = this.#admission.run(id)?.record ?? (await this.store.get(id));
    if (record === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`, { context: { id } });
    const value = checkSignal(this.#registry.definition(record.type, record.version), id, name, payload);
    const result = await this.store.sendSignal(id, { signalId, name, payload: value, sentAt: this.clock.now() });
    const ack = signalAck(result, id, signalId);
    if (result.status === 'accepted') {
      const run = this.#admission.run(id);
      if (run !== undefined) run.notifySignals(result.seq);
      else if (result.woke) this.#takeover.scheduleClaim(0);
    }
    return ack;
  }

  /**
   * Tries the compensations of a `compensation_failed` workflow again, once whatever a peer refused has been fixed.
   * The workflow goes back to `compensating`, held by nobody, and any instance claims it at once (this one is asked
   * to): each refused compensation runs again under a fresh idempotency key (`<id>:<step>:compensate:retry-<n>`: the
   * peer may have recorded the refusal under the old one), those already compensated are not repeated, and the
   * workflow ends as its saga would have — `compensated`, `cancelled`, `timed_out` — or `compensation_failed` again.
   * Resolves once the retry is durable; `result(id)` waits for the new end.
   *
   * @throws OnexError `NOT_FOUND`; `CONFLICT` when the workflow is not `compensation_failed` (or changed meanwhile);
   *   `CONTRACT` when the store cannot reopen a workflow (no `reopen`); `LIFECYCLE` when not accepting workflows.
   * @example
   * ```ts
   * const failed = await orchestrator.list({ status: 'compensation_failed' });
   * for (const w of failed) await orchestrator.retryCompensation(w.id);
   * ```
   */
  async retryCompensation(id: string): Promise<void> {
    if (!this.#accepting) throw new OnexError(ErrorCode.Lifecycle, `Orchestrator is ${this.status}, not accepting workflows`);
    if (this.store.reopen === undefined) throw new OnexError(ErrorCode.Contract, 'This workflow store cannot reopen a workflow (it has no reopen)');
    const record = await this.store.get(id);
    if (record === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`, { context: { id } });
    if (record.status !== WorkflowStatus.CompensationFailed) {
      throw new OnexError(ErrorCode.Conflict, `Workflow ${id} is ${record.status}, not ${WorkflowStatus.CompensationFailed}`, { context: { id, status: record.status } });
    }
    const steps = Object.values(record.steps)
      .filter((step) => step.status === StepStatus.CompensationFailed)
      .map(({ compensationFinishedAt: _finished, ...step }): StepRecord => ({ ...step, status: StepStatus.Compensating, compensationRetries: (step.compensationRetries ?? 0) + 1 }));
    const change = { workflow: { status: WorkflowStatus.Compensating, updatedAt: this.clock.now() }, steps };
    if (!(await this.store.reopen(id, WorkflowStatus.CompensationFailed, change))) {
      throw new OnexError(ErrorCode.Conflict, `Workflow ${id} changed meanwhile: it is not ${WorkflowStatus.CompensationFailed} any more`, { context: { id } });
    }
    this.#changes.emit(id, WorkflowStatus.Compensating);
    this.#takeover.scheduleClaim(0);
  }

  /**
   * Calls `listener` after each change to a workflow this instance makes (start, every commit of a run here, cancel
   * request) and for each store event of another instance's write: the in-process feed the dashboard's live updates
   * read. The listener runs synchronously in the writer's turn: take note, do no I/O there. Returns the function that
   * stops it.
   *
   * @throws OnexError `OVERLOADED` past 256 watchers.
   * @example
   * ```ts
   * const stop = orchestrator.watch((change) => console.log(change.id, change.status));
   * stop();
   * ```
   */
  watch(listener: (change: WorkflowChange) => void): () => void {
    return this.#changes.watch(listener);
  }

  /** What the orchestrator counted so far. */
  stats(): OrchestratorStats {
    return {
      running: this.#admission.running,
      queued: this.#admission.queued,
      started: this.#started,
      finished: Object.fromEntries(this.#finished),
      ...this.#counters,
      recovered: this.#takeover.recovered,
      leaseLosses: this.#takeover.leaseLosses,
      workflowLatency: this.#latency.stats(),
      breakers: Object.fromEntries(this.#breakers.stats().map((b) => [b.key, { state: b.state, openings: b.openings }])),
    };
  }

  /** @internal runs a nested workflow for a step (ChildRunner). */
  async runChild(options: Parameters<ChildRunner['runChild']>[0]): Promise<{ readonly childId: string; readonly outcome: RunOutcome }> {
    const childId = `${options.parent.id}.${options.step.name}`;
    await this.start(options.definition, options.input, {
      id: childId,
      idempotencyKey: `child:${childId}`,
      parentId: options.parent.id,
      correlationId: options.parent.correlationId,
      ...(options.deadlineAt === undefined ? {} : { deadlineAt: options.deadlineAt }),
    });
    // The parent waits on the child's durable outcome; it cancels the child only when it stops for good (not when
    // its run merely halts: the child goes on, and the resumed parent waits for it again). A parent stopped while
    // the child was being created cancels it at once.
    const stopListening = onAbort(options.signal, () => {
      if (!options.cancelsChild()) return;
      this.store.requestCancel(childId).then(
        () => this.#admission.cancel(childId),
        (error: unknown) => this.logger.warn({ err: error, childId }, 'could not cancel child workflow'),
      );
    });
    try {
      return { childId, outcome: runOutcomeOf(await this.result(childId, { signal: options.signal })) };
    } catch (error) {
      // Stopped waiting because the parent stopped for good: the child's compensated end is the step's outcome.
      if (options.cancelsChild() && !this.#closed) return { childId, outcome: runOutcomeOf(await this.result(childId)) };
      throw error;
    } finally {
      stopListening();
    }
  }

  /** Runs one workflow to completion (the node's `POST /v1/process`). */
  protected async process(input: z.output<typeof RunWorkflowInput>, ctx: CallContext): Promise<z.input<typeof WorkflowOutcomeSchema>> {
    // The caller's call deadline bounds its wait for the result, not the workflow: a workflow's deadline is its
    // definition's (or a start's explicit one), never how long one caller chose to wait.
    const idempotencyKey = input.idempotencyKey ?? ctx.idempotencyKey;
    const id = await this.start(input.type, input.input, {
      ...(input.version === undefined ? {} : { version: input.version }),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      correlationId: ctx.correlationId,
    });
    return this.result(id, { signal: ctx.signal });
  }

  /** Starts taking workflows: resumes the unfinished ones it may take (its own, free or expired), then renews. */
  protected override async onInitialize(): Promise<void> {
    await this.store.init();
    this.#accepting = true;
    this.#admission.open();
    this.#takeover.open();
    if (this.store.subscribe !== undefined) {
      try {
        this.#unsubscribe = await this.store.subscribe((event) => this.#onEvent(event));
      } catch (error) {
        this.logger.warn({ err: error }, 'store events unavailable: waiting and claiming by polling');
      }
    }
    await this.#takeover.resume();
    this.#scheduler?.open();
  }

  /**
   * Stops taking workflows, aborts the runs here (their workflows stay resumable), waits for them to unwind
   * (bounded by `shutdownTimeoutMs`), gives their leases up so another instance may take over at once, then closes
   * the store.
   */
  protected override async onShutdown(): Promise<void> {
    this.#accepting = false;
    await this.#scheduler?.close();
    this.#admission.close();
    this.#takeover.close();
    await this.#unsubscribe?.().catch(() => undefined);
    const held = this.#admission.held();
    this.#admission.clearQueue();
    this.#admission.haltAll('shutdown');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#admission.settled(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#limits.shutdownTimeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (this.#admission.running > 0) this.logger.warn({ running: this.#admission.running }, 'runs still unwinding at shutdown: closing the store under them');
    await Promise.all(held.map((run) => this.store.release(this.#instanceId, run).catch(() => undefined)));
    this.#closed = true;
    this.#waiters.closeAll();
    if (this.#ownsBreakers) this.#breakers.shutdown();
    await this.store.close();
  }

  protected override async componentHealth(): Promise<Record<string, ComponentHealth>> {
    const store = await this.store.health().catch((error: unknown): ComponentHealth => ({
      status: HealthStatus.Unhealthy,
      detail: this.sanitizer.sanitizeText(toOnexError(error).message),
    }));
    const states = this.#breakers.states();
    const open = Object.entries(states).filter(([, s]) => s !== 'closed').map(([k]) => k);
    const proven = this.#takeover.leaseHealthy;
    const admission = this.#admission;
    return {
      store,
      peers: { status: open.length === 0 ? HealthStatus.Healthy : HealthStatus.Degraded, data: { breakers: states }, ...(open.length === 0 ? {} : { detail: `open: ${open.join(', ')}` }) },
      capacity: {
        status: admission.queueFull ? HealthStatus.Degraded : HealthStatus.Healthy,
        data: { running: admission.running, maxConcurrent: this.#limits.maxConcurrentWorkflows, queued: admission.queued, maxQueued: this.#limits.maxQueuedWorkflows },
      },
      lease: {
        status: proven ? HealthStatus.Healthy : HealthStatus.Unhealthy,
        data: { instanceId: this.#instanceId, leaseMs: this.#limits.leaseMs, provenUntil: this.#takeover.provenUntil },
        ...(proven ? {} : { detail: 'leases cannot be renewed: no run is dispatched until they are' }),
      },
    };
  }

  protected override extraMetrics(): Record<string, unknown> {
    return { workflows: this.stats() };
  }

  /** An event of some instance's write: wake what waits on it, instead of at the next poll or tick. */
  #onEvent(event: WorkflowEvent): void {
    if ('id' in event) this.#changes.emit(event.id);
    switch (event.kind) {
      case 'finished':
        this.#waiters.wake(event.id);
        break;
      case 'claimable':
        if (!this.#admission.runsOrQueued(event.id)) this.#takeover.scheduleClaim(0);
        break;
      case 'cancel':
        this.#admission.cancel(event.id);
        break;
      case 'wake':
        this.#takeover.scheduleClaim(event.at - this.clock.now());
        break;
      case 'signal':
        this.#admission.run(event.id)?.notifySignals(event.seq);
        break;
      case 'schedules':
        this.#scheduler?.poke();
        break;
      case 'resync':
        this.#waiters.wakeAll();
        this.#takeover.resync();
        this.#scheduler?.poke();
        break;
    }
  }

  #createRun(record: WorkflowRecord): WorkflowRun | undefined {
    let definition: AnyWorkflowDefinition;
    try {
      definition = this.#registry.definition(record.type, record.version);
    } catch (error) {
      // Claims filter on the registered types, so this is a start racing a registration: let another take it.
      this.logger.error({ err: error, workflowId: record.id }, 'workflow definition missing: releasing it');
      this.store.release(this.#instanceId, { id: record.id, epoch: record.epoch }).catch(() => undefined);
      return undefined;
    }
    return new WorkflowRun(record, definition, {
      store: this.store,
      peers: this.#registry.peers,
      breakers: this.#breakers,
      sanitizer: this.sanitizer,
      logger: this.logger,
      now: () => this.clock.now(),
      maxParallelSteps: this.#limits.maxParallelSteps,
      counters: this.#counters,
      durations: this.#durations,
      children: this,
      canDispatch: () => this.#takeover.canDispatch(),
      changed: (id, status) => this.#changes.emit(id, status),
      tracer: this.#tracer,
    });
  }

  #ended(record: WorkflowRecord, run: WorkflowRun, end: RunEnd): void {
    const id = record.id;
    // A keyed run that ended freed a slot of its key: claim what waits for it (other instances do at their tick).
    if (limitedKeyOf(record) !== undefined && (end.kind === 'finished' || end.reason === 'parked')) this.#takeover.scheduleClaim(0);
    if (end.kind === 'finished') {
      const durationMs = this.clock.now() - record.createdAt;
      this.#latency.record(durationMs);
      this.#durations.recordWorkflow(record.type, durationMs);
      this.#finished.set(end.outcome.status, (this.#finished.get(end.outcome.status) ?? 0) + 1);
      this.#waiters.settle(id, { id, ...end.outcome });
      return;
    }
    switch (end.reason) {
      case 'fenced':
        this.logger.warn({ err: end.error, workflowId: id }, 'workflow is held by another epoch now: run stopped');
        break;
      case 'lease':
        this.logger.warn({ workflowId: id }, 'lease lost or unproven: run stopped');
        this.#takeover.scheduleClaim(this.#takeover.backoff());
        break;
      case 'parked':
        this.store
          .release(this.#instanceId, { id, epoch: run.epoch })
          .then(
            () => this.#takeover.armWake(),
            (error: unknown) => this.logger.warn({ err: error, workflowId: id }, 'could not release a parked workflow (its lease will expire)'),
          )
          .catch((error: unknown) => this.logger.warn({ err: error }, 'could not arm the wake-up timer'));
        break;
      case 'shutdown':
        // `shutdown()` gives the leases up once every run has unwound.
        break;
      case 'store':
        this.#takeover.noteStoreFailure();
        this.logger.error({ err: end.error, workflowId: id }, 'workflow run stopped: its state could not be saved; it will be resumed');
        // Give the lease up if the store answers again (else it expires, unrenewed), and claim it back after a backoff.
        this.store.release(this.#instanceId, { id, epoch: run.epoch }).catch(() => undefined);
        this.#takeover.scheduleClaim(this.#takeover.backoff());
        break;
    }
    // Waiters here go on waiting through the store: the workflow is not finished.
    this.#waiters.settle(id, undefined);
  }
}

/** When a start asked to run, epoch ms (`startAt` or `delayMs`), or undefined for at once. */
function startTimeOf(options: StartOptions, now: number): number | undefined {
  if (options.startAt !== undefined && options.delayMs !== undefined) throw new OnexError(ErrorCode.Validation, 'A start takes startAt or delayMs, not both');
  const at = options.startAt instanceof Date ? options.startAt.getTime() : options.startAt ?? (options.delayMs === undefined ? undefined : now + options.delayMs);
  if (at !== undefined && !Number.isFinite(at)) throw new OnexError(ErrorCode.Validation, `Invalid start time (startAt ${String(options.startAt)}, delayMs ${String(options.delayMs)})`);
  if (options.delayMs !== undefined && !(options.delayMs >= 0)) throw new OnexError(ErrorCode.Validation, `delayMs must be >= 0 (got ${options.delayMs})`);
  return at;
}

/** The admission fields a start asked for, checked (none when it asked for defaults). */
function admissionOf(options: StartOptions): Pick<WorkflowRecord, 'admission'> {
  const { priority, concurrencyKey, concurrencyLimit } = options;
  if (priority !== undefined && !Number.isSafeInteger(priority)) throw new OnexError(ErrorCode.Validation, `priority must be an integer (got ${String(priority)})`);
  if (concurrencyKey !== undefined && (typeof concurrencyKey !== 'string' || concurrencyKey.length === 0 || concurrencyKey.length > 256)) {
    throw new OnexError(ErrorCode.Validation, 'concurrencyKey must be a string of 1 to 256 characters');
  }
  if (concurrencyLimit !== undefined && !(Number.isSafeInteger(concurrencyLimit) && concurrencyLimit >= 1)) {
    throw new OnexError(ErrorCode.Validation, `concurrencyLimit must be an integer >= 1 (got ${String(concurrencyLimit)})`);
  }
  if (concurrencyLimit !== undefined && concurrencyKey === undefined) throw new OnexError(ErrorCode.Validation, 'concurrencyLimit needs a concurrencyKey');
  const admission: WorkflowAdmission = {
    ...(priority === undefined || priority === 0 ? {} : { priority }),
    ...(concurrencyKey === undefined ? {} : { concurrencyKey, concurrencyLimit: concurrencyLimit ?? 1 }),
  };
  return Object.keys(admission).length === 0 ? {} : { admission };
}

/** A child's outcome as the parent's step sees it. */
function runOutcomeOf(outcome: WorkflowOutcome): RunOutcome {
  return outcome.status === WorkflowStatus.Completed ? { status: outcome.status, output: outcome.output } : { status: outcome.status, error: outcome.error };
}
