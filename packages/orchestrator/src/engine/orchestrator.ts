import { randomUUID } from 'node:crypto';
import {
  CircuitBreakerRegistry,
  defineContract,
  ErrorCode,
  HealthStatus,
  isOnexError,
  LatencyHistogram,
  NodeKind,
  NodeService,
  OnexError,
  sleep,
  toOnexError,
  type CallContext,
  type CircuitBreakerOptions,
  type ComponentHealth,
  type LatencySummary,
  type NodeClient,
  type NodeContract,
  type NodeServiceOptions,
} from '@onex/core';
import { z } from 'zod';
import {
  isTerminalStatus,
  WorkflowStatus,
  type RecordedError,
  type WorkflowFilter,
  type WorkflowRecord,
  type WorkflowSummary,
} from '../store/workflow-record.js';
import type { WorkflowStore } from '../store/workflow-store.js';
import { validateWorkflowDefinition, type AnyWorkflowDefinition, type WorkflowInputOf } from '../workflow/definition.js';
import { WorkflowRun, type ChildRunner, type RunCounters, type RunOutcome } from './workflow-run.js';

/** Input of the orchestrator's `POST /v1/process`: run one workflow to completion. */
export const RunWorkflowInput = z.object({
  type: z.string().min(1),
  version: z.string().optional(),
  input: z.unknown(),
  idempotencyKey: z.string().min(1).max(256).optional(),
});

const RecordedErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  correlationId: z.string().optional(),
  retryAfterMs: z.number().optional(),
  details: z.array(z.unknown()).readonly().optional(),
  context: z.record(z.string(), z.unknown()).optional(),
});

/** Output of the orchestrator's `POST /v1/process`. */
export const WorkflowOutcomeSchema = z.object({
  id: z.string(),
  status: z.enum(Object.values(WorkflowStatus) as [WorkflowStatus, ...WorkflowStatus[]]),
  output: z.unknown().optional(),
  error: RecordedErrorSchema.optional(),
});

/** The final state of a workflow, as `result(id)` answers it. */
export interface WorkflowOutcome {
  readonly id: string;
  readonly status: WorkflowStatus;
  readonly output?: unknown;
  readonly error?: RecordedError;
}

/** The orchestrator's node contract (`POST /v1/process` runs a workflow to completion). */
export const orchestratorContract = defineContract({
  name: 'orchestrator',
  kind: NodeKind.Orchestrator,
  version: '0.1.0',
  description: 'Runs durable workflows over ONEX nodes',
  input: RunWorkflowInput,
  output: WorkflowOutcomeSchema,
});

/** Options of {@link Orchestrator}. */
export interface OrchestratorOptions extends Omit<NodeServiceOptions<typeof orchestratorContract.config>, 'config'> {
  /** Node name (kebab-case) in health, metrics, logs and `GET /contract`. Default `orchestrator`. */
  readonly name?: string;
  /** Where workflows are persisted (write-ahead). */
  readonly store: WorkflowStore;
  /** Peer nodes by name; steps and compensations name them. */
  readonly peers?: Readonly<Record<string, NodeClient<NodeContract>>>;
  /** Workflow definitions to register at construction. */
  readonly workflows?: readonly AnyWorkflowDefinition[];
  /** Name of this instance: owner of the workflows it runs. Stable across restarts to resume at once. Default `orchestrator`. */
  readonly instanceId?: string;
  /** Workflows running at once. Default 256. */
  readonly maxConcurrentWorkflows?: number;
  /** Workflows waiting behind them; past it `start` fails with OVERLOADED. Default 10 000. */
  readonly maxQueuedWorkflows?: number;
  /** Steps of one workflow running at once. Default 16. */
  readonly maxParallelSteps?: number;
  /** The breaker registry (one breaker per peer, `peer:<name>`). Default: its own, with `breakerDefaults`. */
  readonly breakers?: CircuitBreakerRegistry;
  /** Defaults of the breakers the orchestrator creates (default: no breaker timeout — step deadlines apply). */
  readonly breakerDefaults?: CircuitBreakerOptions;
  /** Lease on claimed workflows, ms; renewed every third of it. Default 30 000. */
  readonly leaseMs?: number;
}

/** Options of {@link Orchestrator.start}. */
export interface StartOptions {
  /** Registered version; default the highest registered. */
  readonly version?: string;
  /** A start with a key already used returns the existing workflow's id. */
  readonly idempotencyKey?: string;
  /** Whole-workflow deadline from now, ms (default: the definition's `timeoutMs`). */
  readonly timeoutMs?: number;
  /** Absolute deadline, epoch ms. */
  readonly deadlineAt?: number;
  /** Correlation id every step call carries. */
  readonly correlationId?: string;
  /** @internal parent workflow of a nested run. */
  readonly parentId?: string;
  /** Explicit id (e.g. derived from a parent); default a random UUID. */
  readonly id?: string;
}

/** Figures of {@link Orchestrator.metrics}'s `extra`. */
export interface OrchestratorFigures {
  readonly running: number;
  readonly queued: number;
  readonly started: number;
  readonly finished: Readonly<Record<string, number>>;
  readonly stepAttempts: number;
  readonly stepRetries: number;
  readonly compensationsRun: number;
  readonly compensationsFailed: number;
  readonly recovered: number;
  readonly workflowLatency: LatencySummary;
  /** Per peer breaker: its state and how many times it opened. */
  readonly breakers: Readonly<Record<string, { readonly state: string; readonly openings: number }>>;
}

interface Waiter {
  readonly resolve: (outcome: WorkflowOutcome) => void;
  readonly reject: (error: OnexError) => void;
}

/** How long after a store failure a stopped workflow is resumed. */
const RESUME_DELAY_MS = 1_000;

/** How often `result()` reads the store for a workflow another instance runs. */
const RESULT_POLL_MS = 250;

function semverCompare(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < 3; i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * A durable workflow engine over ONEX nodes. Workflows are DAGs of steps calling peers (or nested workflows); every
 * transition is persisted before it is acted on, so an orchestrator restarted after a crash resumes every
 * unfinished workflow where it stopped. Steps retry per their policy, each peer has its own circuit breaker, a
 * step that fails for good triggers the saga (compensations in reverse completion order).
 *
 * It is itself a node: serve it with `serveOrchestrator` (adds `/v1/workflows` routes to `serveNode`).
 *
 * @example
 * ```ts
 * const orchestrator = new Orchestrator({ store: new SqliteWorkflowStore({ path: 'wf.db' }), peers, workflows: [fulfil] });
 * await orchestrator.initialize(); // resumes unfinished workflows
 * const id = await orchestrator.start('fulfil', order, { idempotencyKey: order.id });
 * const outcome = await orchestrator.result(id);
 * ```
 */
export class Orchestrator extends NodeService<typeof orchestratorContract.input, typeof orchestratorContract.output, typeof orchestratorContract.config> implements ChildRunner {
  /** The store the workflows live in. */
  readonly store: WorkflowStore;
  readonly #peers = new Map<string, NodeClient<NodeContract>>();
  readonly #definitions = new Map<string, Map<string, AnyWorkflowDefinition>>();
  readonly #breakers: CircuitBreakerRegistry;
  readonly #ownsBreakers: boolean;
  readonly #instanceId: string;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #maxParallelSteps: number;
  readonly #leaseMs: number;
  readonly #running = new Map<string, WorkflowRun>();
  readonly #queue: WorkflowRecord[] = [];
  readonly #queued = new Set<string>();
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #latency = new LatencyHistogram();
  readonly #finished = new Map<string, number>();
  readonly #counters: RunCounters = { stepAttempts: 0, stepRetries: 0, compensationsRun: 0, compensationsFailed: 0 };
  #started = 0;
  #recovered = 0;
  #leaseTimer: NodeJS.Timeout | undefined;
  #accepting = false;

  constructor(options: OrchestratorOptions) {
    super(
      options.name === undefined
        ? orchestratorContract
        : defineContract({
            name: options.name,
            kind: NodeKind.Orchestrator,
            version: orchestratorContract.version,
            description: orchestratorContract.description ?? 'Runs durable workflows over ONEX nodes',
            input: RunWorkflowInput,
            output: WorkflowOutcomeSchema,
          }),
      options,
    );
    this.store = options.store;
    this.#ownsBreakers = options.breakers === undefined;
    // Step deadlines do the timing, so breakers have no timeout of their own (and cost no timer per call).
    this.#breakers = options.breakers ?? new CircuitBreakerRegistry({ defaults: { timeoutMs: false, ...options.breakerDefaults } });
    this.#instanceId = options.instanceId ?? 'orchestrator';
    this.#maxConcurrent = options.maxConcurrentWorkflows ?? 256;
    this.#maxQueued = options.maxQueuedWorkflows ?? 10_000;
    this.#maxParallelSteps = options.maxParallelSteps ?? 16;
    this.#leaseMs = options.leaseMs ?? 30_000;
    for (const [name, client] of Object.entries(options.peers ?? {})) this.#peers.set(name, client);
    for (const definition of options.workflows ?? []) this.register(definition);
  }

  /** Adds a peer node clients can be addressed by in steps. */
  registerPeer(name: string, client: NodeClient<NodeContract>): void {
    this.#peers.set(name, client);
  }

  /**
   * Registers a workflow definition (and the nested workflows it uses). Checks the DAG and that every peer a step or
   * compensation names is registered; errors name the step.
   */
  register(definition: AnyWorkflowDefinition): void {
    validateWorkflowDefinition(definition);
    for (const step of definition.steps) {
      const peers = [step.target.kind === 'peer' ? step.target.peer : undefined, step.compensate?.peer];
      for (const name of peers) {
        if (name !== undefined && !this.#peers.has(name)) {
          throw new OnexError(ErrorCode.Contract, `Invalid workflow '${definition.type}': step '${step.name}' names unknown peer '${name}'`, {
            context: { workflow: definition.type, step: step.name, peer: name },
          });
        }
      }
      if (step.target.kind === 'workflow') this.register(step.target.workflow);
    }
    let versions = this.#definitions.get(definition.type);
    if (versions === undefined) {
      versions = new Map();
      this.#definitions.set(definition.type, versions);
    }
    versions.set(definition.version, definition);
  }

  /** The definition for a type (and version, default the highest). */
  definition(type: string, version?: string): AnyWorkflowDefinition {
    const versions = this.#definitions.get(type);
    if (versions === undefined) throw new OnexError(ErrorCode.NotFound, `Unknown workflow type '${type}'`, { context: { type } });
    if (version !== undefined) {
      const found = versions.get(version);
      if (found === undefined) throw new OnexError(ErrorCode.NotFound, `Unknown version ${version} of workflow '${type}'`, { context: { type, version } });
      return found;
    }
    const latest = [...versions.keys()].sort(semverCompare).at(-1)!;
    return versions.get(latest)!;
  }

  /**
   * Starts a workflow and returns its id at once. Input is validated first (VALIDATION error, nothing stored). With
   * an idempotency key already used, returns the existing workflow's id. Past the queue limit: OVERLOADED.
   */
  async start<W extends AnyWorkflowDefinition>(workflow: W, input: WorkflowInputOf<W>, options?: StartOptions): Promise<string>;
  async start(type: string, input: unknown, options?: StartOptions): Promise<string>;
  async start(type: string | AnyWorkflowDefinition, input: unknown, options: StartOptions = {}): Promise<string> {
    if (!this.#accepting) throw new OnexError(ErrorCode.Lifecycle, `Orchestrator is ${this.status}, not accepting workflows`);
    const definition = typeof type === 'string' ? this.definition(type, options.version) : this.definition(type.type, type.version);
    const parsed = definition.input.safeParse(input);
    if (!parsed.success) throw toOnexError(parsed.error);
    if (this.#queue.length >= this.#maxQueued && this.#running.size >= this.#maxConcurrent) {
      throw new OnexError(ErrorCode.Overloaded, 'Orchestrator queue is full', { retryAfterMs: 1_000 });
    }
    const now = this.clock.now();
    const timeoutMs = options.timeoutMs ?? definition.timeoutMs;
    const relative = timeoutMs === undefined ? undefined : now + timeoutMs;
    const deadlineAt = relative === undefined ? options.deadlineAt : options.deadlineAt === undefined ? relative : Math.min(relative, options.deadlineAt);
    const record: WorkflowRecord = {
      id: options.id ?? randomUUID(),
      type: definition.type,
      version: definition.version,
      status: WorkflowStatus.Pending,
      input: parsed.data,
      correlationId: options.correlationId ?? randomUUID(),
      createdAt: now,
      updatedAt: now,
      owner: this.#instanceId,
      leaseExpiresAt: now + this.#leaseMs,
      epoch: 1,
      steps: {},
      ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
      ...(options.parentId === undefined ? {} : { parentId: options.parentId }),
      ...(deadlineAt === undefined ? {} : { deadlineAt }),
    };
    const { created, record: stored } = await this.store.create(record);
    if (created) {
      this.#started += 1;
      this.#admit(stored);
    }
    return stored.id;
  }

  /** Waits until the workflow is finished and returns its outcome. */
  async result(id: string, options: { readonly signal?: AbortSignal } = {}): Promise<WorkflowOutcome> {
    const signal = options.signal;
    // Not run by this instance (finished, unknown, or run by another one): read the store, polling while it runs.
    while (!this.#running.has(id) && !this.#queued.has(id)) {
      const record = await this.store.get(id);
      if (record === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`, { context: { id } });
      if (isTerminalStatus(record.status)) return outcomeOf(record);
      if (this.#running.has(id) || this.#queued.has(id)) break;
      await sleep(RESULT_POLL_MS, signal);
    }
    // Run here: #finish resolves the waiter (registered synchronously, so the end cannot slip past it).
    return new Promise<WorkflowOutcome>((resolve, reject) => {
      let waiters = this.#waiters.get(id);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiters.set(id, waiters);
      }
      const waiter: Waiter = {
        resolve: (outcome) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      const onAbort = (): void => {
        waiters.delete(waiter);
        reject(new OnexError(ErrorCode.Cancelled, 'Stopped waiting for the workflow'));
      };
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  /** The workflow with its steps, or NOT_FOUND. */
  async get(id: string): Promise<WorkflowRecord> {
    const running = this.#running.get(id);
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
   * Cancels a workflow: running steps are aborted, completed ones compensated; it ends `cancelled`. A queued
   * workflow ends `cancelled` at once. Cancelling a finished workflow changes nothing. Returns the outcome.
   */
  async cancel(id: string): Promise<WorkflowOutcome> {
    const run = this.#running.get(id);
    if (run !== undefined) {
      run.cancel();
      return this.result(id);
    }
    const record = await this.get(id);
    if (isTerminalStatus(record.status)) return outcomeOf(record);
    if (this.#queued.has(id)) {
      const error: RecordedError = { code: ErrorCode.Cancelled, message: 'Workflow cancelled', retryable: false };
      await this.store.commit(id, record.epoch, { workflow: { status: WorkflowStatus.Cancelled, error, updatedAt: this.clock.now() } });
      // Only once the cancellation is durable does it leave the queue (a failed commit leaves it queued).
      this.#queued.delete(id);
      const at = this.#queue.findIndex((queued) => queued.id === id);
      if (at !== -1) this.#queue.splice(at, 1);
      const outcome: WorkflowOutcome = { id, status: WorkflowStatus.Cancelled, error };
      this.#finish(id, outcome, record.createdAt);
      return outcome;
    }
    throw new OnexError(ErrorCode.Conflict, `Workflow ${id} is run by another instance (${record.owner ?? 'none'})`);
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
    const onAbort = (): void => {
      this.cancel(childId).catch((error: unknown) => this.logger.warn({ err: error, childId }, 'could not cancel child workflow'));
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    // The parent may have been stopped while the child was being created.
    if (options.signal.aborted) onAbort();
    try {
      const outcome = await this.result(childId);
      return { childId, outcome };
    } finally {
      options.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Runs one workflow to completion (the node's `POST /v1/process`). */
  protected async process(input: z.output<typeof RunWorkflowInput>, ctx: CallContext): Promise<z.input<typeof WorkflowOutcomeSchema>> {
    const id = await this.start(input.type, input.input, {
      ...(input.version === undefined ? {} : { version: input.version }),
      ...((input.idempotencyKey ?? ctx.idempotencyKey) === undefined ? {} : { idempotencyKey: input.idempotencyKey ?? ctx.idempotencyKey! }),
      ...(ctx.deadlineAt === undefined ? {} : { deadlineAt: ctx.deadlineAt }),
      correlationId: ctx.correlationId,
    });
    return this.result(id, { signal: ctx.signal });
  }

  /** Starts taking workflows and resumes the unfinished ones this instance (or an expired lease) left. */
  protected override async onInitialize(): Promise<void> {
    await this.store.init();
    this.#accepting = true;
    const claimed = await this.store.claim({ owner: this.#instanceId, leaseMs: this.#leaseMs, now: this.clock.now(), limit: 100_000 });
    for (const record of claimed) {
      this.#recovered += 1;
      this.#admit(record);
    }
    if (claimed.length > 0) this.logger.info({ count: claimed.length }, 'resuming unfinished workflows');
    this.#leaseTimer = setInterval(() => {
      this.store.renewLeases(this.#instanceId, this.clock.now() + this.#leaseMs).catch((error: unknown) => this.logger.error({ err: error }, 'lease renewal failed'));
      this.#takeOverExpired().catch((error: unknown) => this.logger.error({ err: error }, 'taking over expired workflows failed'));
    }, Math.max(1_000, Math.floor(this.#leaseMs / 3)));
    this.#leaseTimer.unref();
  }

  /** Claims the unfinished workflows of instances whose lease ran out (crashed or partitioned), as far as capacity allows. */
  async #takeOverExpired(): Promise<void> {
    const room = this.#maxConcurrent + this.#maxQueued - this.#running.size - this.#queue.length;
    if (!this.#accepting || room <= 0) return;
    const claimed = await this.store.claim({ owner: this.#instanceId, leaseMs: this.#leaseMs, now: this.clock.now(), limit: room, includeOwn: false });
    for (const record of claimed) {
      if (this.#running.has(record.id) || this.#queued.has(record.id)) continue;
      this.#recovered += 1;
      this.#admit(record);
    }
    if (claimed.length > 0) this.logger.warn({ count: claimed.length }, 'took over workflows whose owner stopped renewing its lease');
  }

  /** Stops taking workflows, waits for running ones (they are resumable anyway), closes the store. */
  protected override async onShutdown(): Promise<void> {
    this.#accepting = false;
    if (this.#leaseTimer !== undefined) clearInterval(this.#leaseTimer);
    const running = [...this.#running.keys()].map((id) => this.result(id).catch(() => undefined));
    await Promise.race([Promise.all(running), new Promise((r) => setTimeout(r, 5_000).unref())]);
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
    const queueFull = this.#queue.length >= this.#maxQueued;
    return {
      store,
      peers: { status: open.length === 0 ? HealthStatus.Healthy : HealthStatus.Degraded, data: { breakers: states }, ...(open.length === 0 ? {} : { detail: `open: ${open.join(', ')}` }) },
      capacity: {
        status: queueFull ? HealthStatus.Degraded : HealthStatus.Healthy,
        data: { running: this.#running.size, maxConcurrent: this.#maxConcurrent, queued: this.#queue.length, maxQueued: this.#maxQueued },
      },
    };
  }

  protected override extraMetrics(): Record<string, unknown> {
    const figures: OrchestratorFigures = {
      running: this.#running.size,
      queued: this.#queue.length,
      started: this.#started,
      finished: Object.fromEntries(this.#finished),
      ...this.#counters,
      recovered: this.#recovered,
      workflowLatency: this.#latency.summary(),
      breakers: Object.fromEntries(this.#breakers.stats().map((b) => [b.key, { state: b.state, openings: b.openings }])),
    };
    return { workflows: figures };
  }

  #admit(record: WorkflowRecord): void {
    // Children bypass the limit: a parent holding a slot while its child waits for one would deadlock.
    if (this.#running.size < this.#maxConcurrent || record.parentId !== undefined) this.#launch(record);
    else {
      this.#queue.push(record);
      this.#queued.add(record.id);
    }
  }

  #launch(record: WorkflowRecord): void {
    let definition: AnyWorkflowDefinition;
    try {
      definition = this.definition(record.type, record.version);
    } catch (error) {
      this.logger.error({ err: error, workflowId: record.id }, 'workflow definition missing: cannot resume');
      this.#failWaiters(record.id, toOnexError(error));
      return;
    }
    const run = new WorkflowRun(record, definition, {
      store: this.store,
      peers: this.#peers,
      breakers: this.#breakers,
      sanitizer: this.sanitizer,
      logger: this.logger,
      now: () => this.clock.now(),
      maxParallelSteps: this.#maxParallelSteps,
      counters: this.#counters,
      children: this,
    });
    this.#running.set(record.id, run);
    run.run().then(
      (outcome) => this.#finish(record.id, { id: record.id, ...outcome }, record.createdAt),
      (error: unknown) => {
        // A store failure (or a fencing conflict: another instance took over). The workflow stays resumable.
        this.logger.error({ err: error, workflowId: record.id }, 'workflow run stopped');
        this.#running.delete(record.id);
        this.#failWaiters(
          record.id,
          new OnexError(ErrorCode.Unavailable, `Workflow ${record.id} stopped: its state could not be saved; it will be resumed`, { cause: error }),
        );
        if (!isOnexError(error) || error.code !== ErrorCode.Conflict) this.#resumeLater(record.id);
        this.#next();
      },
    );
  }

  #finish(id: string, outcome: WorkflowOutcome, createdAt: number): void {
    this.#running.delete(id);
    this.#latency.record(this.clock.now() - createdAt);
    this.#finished.set(outcome.status, (this.#finished.get(outcome.status) ?? 0) + 1);
    const waiters = this.#waiters.get(id);
    if (waiters !== undefined) {
      this.#waiters.delete(id);
      for (const waiter of waiters) waiter.resolve(outcome);
    }
    this.#next();
  }

  /** After a run stopped on a store failure (not a fencing conflict), resume the workflow from its stored state. */
  #resumeLater(id: string): void {
    const timer = setTimeout(() => {
      if (!this.#accepting || this.#running.has(id)) return;
      this.store.get(id).then(
        (stored) => {
          if (stored !== undefined && !isTerminalStatus(stored.status) && stored.owner === this.#instanceId && !this.#running.has(id)) this.#admit(stored);
        },
        (error: unknown) => this.logger.error({ err: error, workflowId: id }, 'could not reload workflow to resume it'),
      );
    }, RESUME_DELAY_MS);
    timer.unref();
  }

  #failWaiters(id: string, error: OnexError): void {
    const waiters = this.#waiters.get(id);
    if (waiters === undefined) return;
    this.#waiters.delete(id);
    for (const waiter of waiters) waiter.reject(error);
  }

  #next(): void {
    // Shutting down: queued workflows stay pending in the store and start on the next run.
    if (!this.#accepting) return;
    while (this.#running.size < this.#maxConcurrent && this.#queue.length > 0) {
      const record = this.#queue.shift()!;
      if (!this.#queued.delete(record.id)) continue; // cancelled while queued
      this.#launch(record);
    }
  }
}

function outcomeOf(record: WorkflowRecord): WorkflowOutcome {
  return {
    id: record.id,
    status: record.status,
    ...(record.output === undefined ? {} : { output: record.output }),
    ...(record.error === undefined ? {} : { error: record.error }),
  };
}
