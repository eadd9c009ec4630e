import { randomUUID } from 'node:crypto';
import {
  CircuitBreakerRegistry,
  defineContract,
  ErrorCode,
  HealthStatus,
  LatencyHistogram,
  NodeKind,
  NodeService,
  OnexError,
  toOnexError,
  type CallContext,
  type CircuitBreakerOptions,
  type ComponentHealth,
  type LatencyStats,
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
import type { HeldRun, RunnableType, WorkflowEvent, WorkflowStore } from '../store/workflow-store.js';
import { validateWorkflowDefinition, type AnyWorkflowDefinition, type WorkflowInputOf } from '../workflow/definition.js';
import { WorkflowRun, type ChildRunner, type RunCounters, type RunEnd, type RunOutcome } from './workflow-run.js';

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
  /**
   * Name of this instance: owner of the workflows it runs. Unique per instance: two instances must never share
   * one. Default `<name>-<random>`, new at each construction, so a restarted instance takes its predecessor's
   * workflows over once their leases expire. Set a stable id (unique per replica) to resume at once after a
   * restart.
   */
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
  /**
   * Lease on held workflows, ms; renewed every quarter of it. An instance that cannot renew stops dispatching and
   * aborts its runs a quarter of a lease before the lease could expire elsewhere. Default 30 000.
   */
  readonly leaseMs?: number;
  /** How long `shutdown()` waits for aborted runs to unwind before closing the store, ms. Default 10 000. */
  readonly shutdownTimeoutMs?: number;
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

/** A local wait for a run: resolved with the outcome, or with undefined when the run stopped unfinished. */
type Waiter = (outcome: WorkflowOutcome | undefined) => void;

/** First delay before claiming again after a run stopped on a store failure; doubles up to a third of a lease. */
const RESUME_DELAY_MS = 100;

/** How often `result()` reads the store for a workflow not run here (another instance, or parked). */
const RESULT_POLL_MS = 250;

/** The same, when the store announces finished workflows (`subscribe`): a safety net for a lost notification. */
const RESULT_POLL_SUBSCRIBED_MS = 5_000;

/**
 * Leases are renewed every quarter of a lease, and an instance fences itself a quarter of a lease before the last
 * proven lease ends: a renewal has half a lease to complete, and aborted runs a quarter to unwind before another
 * instance may take over.
 */
const RENEW_EVERY = 1 / 4;
const FENCE_MARGIN = 1 / 4;

/** Most workflows one claim takes (repeated while full batches come back and there is room). */
const CLAIM_BATCH = 256;

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
  #runnable: readonly RunnableType[] = [];
  readonly #breakers: CircuitBreakerRegistry;
  readonly #ownsBreakers: boolean;
  readonly #instanceId: string;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #maxParallelSteps: number;
  readonly #leaseMs: number;
  readonly #shutdownTimeoutMs: number;
  readonly #running = new Map<string, WorkflowRun>();
  /** How each running run ends (its promise never rejects). */
  readonly #ends = new Map<string, Promise<void>>();
  readonly #queue: WorkflowRecord[] = [];
  readonly #queued = new Map<string, WorkflowRecord>();
  /** Claimed again while the old run here still unwinds: launched once it has. */
  readonly #relaunch = new Map<string, WorkflowRecord>();
  readonly #waiters = new Map<string, Set<Waiter>>();
  /** `result()` calls waiting, through the store, for workflows not run here: woken by a `finished` event. */
  readonly #remoteWaiters = new Map<string, Set<() => void>>();
  #unsubscribe: (() => Promise<void>) | undefined;
  readonly #latency = new LatencyHistogram();
  readonly #finished = new Map<string, number>();
  readonly #counters: RunCounters = { stepAttempts: 0, stepRetries: 0, compensationsRun: 0, compensationsFailed: 0, compensationsParked: 0, fencedWrites: 0 };
  #started = 0;
  #recovered = 0;
  #leaseLosses = 0;
  /** Until when every lease this instance holds is proven (the start of the last successful renewal + a lease). */
  #provenUntil = 0;
  #leaseTimer: NodeJS.Timeout | undefined;
  #fenceTimer: NodeJS.Timeout | undefined;
  #claimTimer: NodeJS.Timeout | undefined;
  #claimAt = Number.POSITIVE_INFINITY;
  #claiming = false;
  #claimAgain = false;
  #storeFailures = 0;
  #renewing = false;
  /** The last renewal failed: the store cannot be reached to prove the leases. */
  #renewFailing = false;
  #accepting = false;
  #closed = false;

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
    this.#instanceId = options.instanceId ?? `${options.name ?? 'orchestrator'}-${randomUUID().slice(0, 8)}`;
    this.#maxConcurrent = options.maxConcurrentWorkflows ?? 256;
    this.#maxQueued = options.maxQueuedWorkflows ?? 10_000;
    this.#maxParallelSteps = options.maxParallelSteps ?? 16;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
    for (const [name, client] of Object.entries(options.peers ?? {})) this.#peers.set(name, client);
    for (const definition of options.workflows ?? []) this.register(definition);
  }

  /** This instance's name: the owner of the workflows it holds. */
  get instanceId(): string {
    return this.#instanceId;
  }

  /** Adds a peer node clients can be addressed by in steps. */
  registerPeer(name: string, client: NodeClient<NodeContract>): void {
    this.#peers.set(name, client);
  }

  /**
   * Registers a workflow definition (and the nested workflows it uses). Checks the DAG and that every peer a step or
   * compensation names is registered; errors name the step. The instance claims only workflows of registered
   * types and versions.
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
    this.#runnable = [...this.#definitions].flatMap(([type, byVersion]) => [...byVersion.keys()].map((version) => ({ type, version })));
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

  /**
   * Waits until the workflow is finished and returns its outcome, wherever it runs: a run here is awaited; a
   * workflow run elsewhere, parked, or whose run here stopped unfinished is read from the store until it ends.
   * Rejects only when the workflow does not exist (NOT_FOUND) or `signal` aborts (CANCELLED).
   */
  async result(id: string, options: { readonly signal?: AbortSignal } = {}): Promise<WorkflowOutcome> {
    const signal = options.signal;
    let failures = 0;
    for (;;) {
      if (signal?.aborted === true) throw new OnexError(ErrorCode.Cancelled, 'Stopped waiting for the workflow');
      if (this.#closed) throw new OnexError(ErrorCode.Lifecycle, `Orchestrator shut down while waiting for workflow ${id}; it stays resumable`, { context: { id } });
      if (this.#running.has(id) || this.#queued.has(id) || this.#relaunch.has(id)) {
        const outcome = await this.#localEnd(id, signal);
        if (outcome !== undefined) return outcome;
        continue;
      }
      // Listening before reading: a `finished` event sent while the read is on its way is not missed.
      const poll = this.#unsubscribe === undefined ? RESULT_POLL_MS : RESULT_POLL_SUBSCRIBED_MS;
      const ended = this.#remoteEnd(id, Math.min(poll * 2 ** Math.min(failures, 5), 30_000), signal);
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
        const done = record === undefined || isTerminalStatus(record.status) || this.#running.has(id) || this.#queued.has(id) || this.#relaunch.has(id);
        if (done) ended.cancel();
        if (record === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`, { context: { id } });
        if (isTerminalStatus(record.status)) return outcomeOf(record);
        if (done) continue;
      }
      await ended.wait;
    }
  }

  /** Ends when the store announces the workflow finished, after `ms` at the latest, or when `signal` aborts. */
  #remoteEnd(id: string, ms: number, signal: AbortSignal | undefined): { readonly wait: Promise<void>; readonly cancel: () => void } {
    let cancel: () => void = () => undefined;
    const wait = new Promise<void>((resolve) => {
      let waiters = this.#remoteWaiters.get(id);
      if (waiters === undefined) {
        waiters = new Set();
        this.#remoteWaiters.set(id, waiters);
      }
      const set = waiters;
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.#remoteWaiters.get(id) === set) this.#remoteWaiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
      cancel = done;
    });
    return { wait, cancel };
  }

  /** An event of some instance's write: wake what waits on it, instead of at the next poll or tick. */
  #onEvent(event: WorkflowEvent): void {
    switch (event.kind) {
      case 'finished':
        for (const done of [...(this.#remoteWaiters.get(event.id) ?? [])]) done();
        break;
      case 'claimable':
        if (!this.#running.has(event.id) && !this.#queued.has(event.id)) this.#scheduleClaim(0);
        break;
      case 'cancel':
        this.#cancelHere(event.id);
        break;
      case 'wake':
        this.#scheduleClaim(event.at - this.clock.now());
        break;
    }
  }

  /** Resolves with the outcome of the run here, or undefined once it stopped unfinished. */
  #localEnd(id: string, signal: AbortSignal | undefined): Promise<WorkflowOutcome | undefined> {
    return new Promise<WorkflowOutcome | undefined>((resolve, reject) => {
      let waiters = this.#waiters.get(id);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiters.set(id, waiters);
      }
      const set = waiters;
      const waiter: Waiter = (outcome) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      const onAbort = (): void => {
        set.delete(waiter);
        if (set.size === 0 && this.#waiters.get(id) === set) this.#waiters.delete(id);
        reject(new OnexError(ErrorCode.Cancelled, 'Stopped waiting for the workflow'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(waiter);
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
   * Cancels a workflow and waits for its end: running steps are aborted, completed ones compensated; it ends
   * `cancelled`. The request is durable first, so it holds wherever the workflow runs: a run here stops at once,
   * a workflow held by another instance is cancelled by it at its next lease renewal, a parked one when it is
   * claimed (at once). Cancelling a finished workflow changes nothing. Returns the outcome.
   */
  async cancel(id: string, options: { readonly signal?: AbortSignal } = {}): Promise<WorkflowOutcome> {
    const record = await this.store.requestCancel(id);
    if (record === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`, { context: { id } });
    if (isTerminalStatus(record.status)) return outcomeOf(record);
    this.#cancelHere(id);
    if (!this.#running.has(id) && !this.#queued.has(id)) this.#scheduleClaim(0);
    return this.result(id, options);
  }

  /** Acts on a durable cancel request for a workflow held here; false when it is not held here. */
  #cancelHere(id: string): boolean {
    const run = this.#running.get(id);
    if (run !== undefined) {
      run.cancel();
      return true;
    }
    const queued = this.#queued.get(id);
    if (queued === undefined) return false;
    // A queued workflow runs at once, past the concurrency limit: its run only records the cancellation.
    this.#queued.delete(id);
    const at = this.#queue.indexOf(queued);
    if (at !== -1) this.#queue.splice(at, 1);
    this.#launch({ ...queued, cancelRequested: true });
    return true;
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
    // its run merely halts: the child goes on, and the resumed parent waits for it again).
    const onAbort = (): void => {
      if (!options.cancelsChild()) return;
      this.store.requestCancel(childId).then(
        () => this.#cancelHere(childId),
        (error: unknown) => this.logger.warn({ err: error, childId }, 'could not cancel child workflow'),
      );
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    // The parent may have been stopped while the child was being created.
    if (options.signal.aborted) onAbort();
    try {
      const outcome = await this.result(childId, { signal: options.signal });
      return { childId, outcome };
    } catch (error) {
      // Stopped waiting because the parent stopped for good: the child's compensated end is the step's outcome.
      if (options.cancelsChild() && !this.#closed) return { childId, outcome: await this.result(childId) };
      throw error;
    } finally {
      options.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Runs one workflow to completion (the node's `POST /v1/process`). */
  protected async process(input: z.output<typeof RunWorkflowInput>, ctx: CallContext): Promise<z.input<typeof WorkflowOutcomeSchema>> {
    // The caller's call deadline bounds its wait for the result, not the workflow: a workflow's deadline is its
    // definition's (or a start's explicit one), never how long one caller chose to wait.
    const id = await this.start(input.type, input.input, {
      ...(input.version === undefined ? {} : { version: input.version }),
      ...((input.idempotencyKey ?? ctx.idempotencyKey) === undefined ? {} : { idempotencyKey: input.idempotencyKey ?? ctx.idempotencyKey! }),
      correlationId: ctx.correlationId,
    });
    return this.result(id, { signal: ctx.signal });
  }

  /** Starts taking workflows: resumes the unfinished ones it may take (its own, free or expired), then renews. */
  protected override async onInitialize(): Promise<void> {
    await this.store.init();
    this.#accepting = true;
    this.#provenUntil = this.clock.now() + this.#leaseMs;
    if (this.store.subscribe !== undefined) {
      try {
        this.#unsubscribe = await this.store.subscribe((event) => this.#onEvent(event));
      } catch (error) {
        this.logger.warn({ err: error }, 'store events unavailable: waiting and claiming by polling');
      }
    }
    // An instance restarted under a stable id takes its own workflows back at once, as far as its room allows (one
    // claim: with `includeOwn` a second one would take the same ones again). Own workflows past the room expire,
    // unrenewed, and are claimed like any others.
    const room = this.#room();
    if (room > 0) {
      this.#adopt(await this.store.claim({ owner: this.#instanceId, leaseMs: this.#leaseMs, now: this.clock.now(), limit: room, runnable: this.#runnable, includeOwn: true }));
    }
    if (this.#recovered > 0) this.logger.info({ count: this.#recovered }, 'resuming unfinished workflows');
    this.#leaseTimer = setInterval(() => this.#tick(), Math.max(1, Math.floor(this.#leaseMs * RENEW_EVERY)));
    this.#leaseTimer.unref();
    this.#armFence();
    await this.#armWake();
  }

  /** Every quarter of a lease: renew the held runs, then claim what is free, expired or due. */
  #tick(): void {
    // A renewal still waiting on a slow store is not stacked with another one.
    if (this.#renewing) return;
    this.#renewing = true;
    this.#renew()
      .then(
        () => {
          this.#renewFailing = false;
          this.#scheduleClaim(0);
        },
        (error: unknown) => {
          this.#renewFailing = true;
          this.logger.error({ err: error }, 'lease renewal failed');
        },
      )
      .finally(() => {
        this.#renewing = false;
      });
  }

  async #renew(): Promise<void> {
    const held: HeldRun[] = [];
    for (const run of this.#running.values()) held.push({ id: run.id, epoch: run.epoch });
    for (const record of this.#queue) held.push({ id: record.id, epoch: record.epoch });
    const startedAt = this.clock.now();
    // Also with nothing held: the round trip proves the store reachable (and so the next claims' leases).
    const { lost, cancelRequested } = await this.store.renew(this.#instanceId, held, startedAt + this.#leaseMs);
    this.#provenUntil = Math.max(this.#provenUntil, startedAt + this.#leaseMs);
    this.#armFence();
    for (const id of lost) this.#drop(id, 'lease');
    for (const id of cancelRequested) this.#cancelHere(id);
  }

  /** A held workflow is not ours any more: stop its run (or take it off the queue) without another write. */
  #drop(id: string, reason: 'lease' | 'fenced'): void {
    const run = this.#running.get(id);
    if (run !== undefined) {
      if (reason === 'lease') this.#leaseLosses += 1;
      run.halt(reason);
      return;
    }
    const queued = this.#queued.get(id);
    if (queued === undefined) return;
    if (reason === 'lease') this.#leaseLosses += 1;
    this.#queued.delete(id);
    this.#queue.splice(this.#queue.indexOf(queued), 1);
    this.#settleWaiters(id, undefined);
  }

  /** True while every held lease is proven with a quarter of a lease to spare: new calls may go out. */
  #canDispatch(): boolean {
    return this.clock.now() < this.#provenUntil - this.#leaseMs * FENCE_MARGIN;
  }

  /** One timer: when the leases can no longer be proven in time, every run here halts (self-fencing). */
  #armFence(): void {
    if (this.#fenceTimer !== undefined) clearTimeout(this.#fenceTimer);
    if (!this.#accepting) return;
    const delay = this.#provenUntil - this.#leaseMs * FENCE_MARGIN - this.clock.now();
    this.#fenceTimer = setTimeout(() => this.#selfFence(), Math.max(0, Math.min(delay, 2_147_483_647)));
    this.#fenceTimer.unref();
  }

  #selfFence(): void {
    if (this.#canDispatch()) {
      this.#armFence();
      return;
    }
    if (this.#running.size + this.#queue.length === 0) return;
    this.logger.error({ running: this.#running.size, queued: this.#queue.length }, 'cannot prove the lease: stopping every run here');
    for (const run of this.#running.values()) {
      this.#leaseLosses += 1;
      run.halt('lease');
    }
    for (const record of this.#queue.splice(0)) {
      this.#queued.delete(record.id);
      this.#settleWaiters(record.id, undefined);
    }
  }

  /** Claims soon: at most one timer, at the earliest time asked for. */
  #scheduleClaim(delayMs: number): void {
    if (!this.#accepting) return;
    const at = this.clock.now() + Math.max(0, delayMs);
    if (this.#claimTimer !== undefined && at >= this.#claimAt) return;
    if (this.#claimTimer !== undefined) clearTimeout(this.#claimTimer);
    this.#claimAt = at;
    this.#claimTimer = setTimeout(() => {
      this.#claimTimer = undefined;
      this.#claimAt = Number.POSITIVE_INFINITY;
      void this.#claimDue();
    }, Math.min(Math.max(0, delayMs), 2_147_483_647));
    this.#claimTimer.unref();
  }

  /**
   * Claims free, expired and due workflows (crashed peers', released ones, parked ones whose time came) in batches
   * while there is room, then arms the wake-up timer for the next parked one. Failures back off.
   */
  async #claimDue(): Promise<void> {
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    this.#claiming = true;
    try {
      do {
        this.#claimAgain = false;
        for (;;) {
          const room = this.#room();
          if (!this.#accepting || room <= 0 || !this.#canDispatch()) break;
          const limit = Math.min(room, CLAIM_BATCH);
          const claimed = await this.store.claim({ owner: this.#instanceId, leaseMs: this.#leaseMs, now: this.clock.now(), limit, runnable: this.#runnable });
          this.#adopt(claimed);
          if (claimed.length > 0) this.logger.info({ count: claimed.length }, 'claimed workflows (taken over, released or due)');
          if (claimed.length < limit) break;
        }
        await this.#armWake();
      } while (this.#claimAgain);
      this.#storeFailures = 0;
    } catch (error) {
      this.#storeFailures += 1;
      this.logger.error({ err: error }, 'claiming workflows failed');
      this.#scheduleClaim(this.#backoff());
    } finally {
      this.#claiming = false;
    }
  }

  /** One timer for the earliest parked workflow this instance could run. */
  async #armWake(): Promise<void> {
    if (!this.#accepting) return;
    const wakeAt = await this.store.nextWakeAt(this.#runnable);
    // A wake-up time already past belongs to a workflow claimed but not run yet (it clears at its first commit), or
    // one the last claim had no room for: the lease tick's claim covers both, so no claim loop on it here.
    const delay = wakeAt === undefined ? undefined : wakeAt - this.clock.now();
    if (delay !== undefined && delay > 0) this.#scheduleClaim(delay);
  }

  #backoff(): number {
    return Math.min(RESUME_DELAY_MS * 2 ** Math.min(this.#storeFailures, 16), Math.max(RESUME_DELAY_MS, this.#leaseMs / 3));
  }

  #room(): number {
    return this.#maxConcurrent + this.#maxQueued - this.#running.size - this.#queue.length - this.#relaunch.size;
  }

  #adopt(claimed: readonly WorkflowRecord[]): void {
    for (const record of claimed) {
      this.#recovered += 1;
      const old = this.#running.get(record.id);
      if (old !== undefined) {
        // Our own run's lease expired under it (a stall) and we claimed it again: the old run's epoch is stale.
        this.#leaseLosses += 1;
        old.halt('lease');
        this.#relaunch.set(record.id, record);
        continue;
      }
      const queued = this.#queued.get(record.id);
      if (queued !== undefined) {
        this.#queue[this.#queue.indexOf(queued)] = record;
        this.#queued.set(record.id, record);
        continue;
      }
      this.#admit(record);
    }
  }

  /**
   * Stops taking workflows, aborts the runs here (their workflows stay resumable), waits for them to unwind
   * (bounded by `shutdownTimeoutMs`), gives their leases up so another instance may take over at once, then closes
   * the store.
   */
  protected override async onShutdown(): Promise<void> {
    this.#accepting = false;
    for (const timer of [this.#leaseTimer, this.#fenceTimer, this.#claimTimer]) if (timer !== undefined) clearTimeout(timer);
    await this.#unsubscribe?.().catch(() => undefined);
    const held: HeldRun[] = [...this.#queue, ...this.#running.values()].map((held) => ({ id: held.id, epoch: held.epoch }));
    for (const record of this.#queue.splice(0)) {
      this.#queued.delete(record.id);
      this.#settleWaiters(record.id, undefined);
    }
    for (const run of this.#running.values()) run.halt('shutdown');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.#ends.values()),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#shutdownTimeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (this.#running.size > 0) this.logger.warn({ running: this.#running.size }, 'runs still unwinding at shutdown: closing the store under them');
    await Promise.all(held.map((run) => this.store.release(this.#instanceId, run).catch(() => undefined)));
    this.#closed = true;
    for (const id of [...this.#waiters.keys()]) this.#settleWaiters(id, undefined);
    for (const waiters of [...this.#remoteWaiters.values()]) for (const done of [...waiters]) done();
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
    const proven = !this.#renewFailing && (this.#canDispatch() || this.#running.size + this.#queue.length === 0);
    return {
      store,
      peers: { status: open.length === 0 ? HealthStatus.Healthy : HealthStatus.Degraded, data: { breakers: states }, ...(open.length === 0 ? {} : { detail: `open: ${open.join(', ')}` }) },
      capacity: {
        status: queueFull ? HealthStatus.Degraded : HealthStatus.Healthy,
        data: { running: this.#running.size, maxConcurrent: this.#maxConcurrent, queued: this.#queue.length, maxQueued: this.#maxQueued },
      },
      lease: {
        status: proven ? HealthStatus.Healthy : HealthStatus.Unhealthy,
        data: { instanceId: this.#instanceId, leaseMs: this.#leaseMs, provenUntil: this.#provenUntil },
        ...(proven ? {} : { detail: 'leases cannot be renewed: no run is dispatched until they are' }),
      },
    };
  }

  protected override extraMetrics(): Record<string, unknown> {
    const figures: OrchestratorStats = {
      running: this.#running.size,
      queued: this.#queue.length,
      started: this.#started,
      finished: Object.fromEntries(this.#finished),
      ...this.#counters,
      recovered: this.#recovered,
      leaseLosses: this.#leaseLosses,
      workflowLatency: this.#latency.stats(),
      breakers: Object.fromEntries(this.#breakers.stats().map((b) => [b.key, { state: b.state, openings: b.openings }])),
    };
    return { workflows: figures };
  }

  #admit(record: WorkflowRecord): void {
    // Children bypass the limit: a parent holding a slot while its child waits for one would deadlock.
    if (this.#running.size < this.#maxConcurrent || record.parentId !== undefined || record.cancelRequested === true) this.#launch(record);
    else {
      this.#queue.push(record);
      this.#queued.set(record.id, record);
    }
  }

  #launch(record: WorkflowRecord): void {
    let definition: AnyWorkflowDefinition;
    try {
      definition = this.definition(record.type, record.version);
    } catch (error) {
      // Claims filter on the registered types, so this is a start racing a registration: let another take it.
      this.logger.error({ err: error, workflowId: record.id }, 'workflow definition missing: releasing it');
      this.store.release(this.#instanceId, { id: record.id, epoch: record.epoch }).catch(() => undefined);
      this.#settleWaiters(record.id, undefined);
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
      canDispatch: () => this.#canDispatch(),
    });
    this.#running.set(record.id, run);
    this.#ends.set(
      record.id,
      run.run().then(
        (end) => this.#ended(record, run, end),
        // run() never rejects; should it, the workflow stays resumable like any stopped run.
        (error: unknown) => this.#ended(record, run, { kind: 'stopped', reason: 'store', error }),
      ),
    );
  }

  #ended(record: WorkflowRecord, run: WorkflowRun, end: RunEnd): void {
    const id = record.id;
    if (this.#running.get(id) === run) {
      this.#running.delete(id);
      this.#ends.delete(id);
    }
    if (end.kind === 'finished') {
      this.#latency.record(this.clock.now() - record.createdAt);
      this.#finished.set(end.outcome.status, (this.#finished.get(end.outcome.status) ?? 0) + 1);
      this.#settleWaiters(id, { id, ...end.outcome });
    } else {
      this.#stopped(id, run, end);
    }
    const again = this.#relaunch.get(id);
    if (again !== undefined) {
      this.#relaunch.delete(id);
      if (this.#accepting) this.#admit(again);
    }
    this.#next();
  }

  /** A run stopped unfinished: give its lease up where that is ours to do, and have it resumed. */
  #stopped(id: string, run: WorkflowRun, end: Extract<RunEnd, { kind: 'stopped' }>): void {
    switch (end.reason) {
      case 'fenced':
        this.logger.warn({ err: end.error, workflowId: id }, 'workflow is held by another epoch now: run stopped');
        break;
      case 'lease':
        this.logger.warn({ workflowId: id }, 'lease lost or unproven: run stopped');
        this.#scheduleClaim(this.#backoff());
        break;
      case 'parked':
        this.store.release(this.#instanceId, { id, epoch: run.epoch }).then(
          () => this.#armWake(),
          (error: unknown) => this.logger.warn({ err: error, workflowId: id }, 'could not release a parked workflow (its lease will expire)'),
        ).catch((error: unknown) => this.logger.warn({ err: error }, 'could not arm the wake-up timer'));
        break;
      case 'shutdown':
        // `shutdown()` gives the leases up once every run has unwound.
        break;
      case 'store':
        this.#storeFailures += 1;
        this.logger.error({ err: end.error, workflowId: id }, 'workflow run stopped: its state could not be saved; it will be resumed');
        // Give the lease up if the store answers again (else it expires, unrenewed), and claim it back after a backoff.
        this.store.release(this.#instanceId, { id, epoch: run.epoch }).catch(() => undefined);
        this.#scheduleClaim(this.#backoff());
        break;
    }
    // Waiters here go on waiting through the store: the workflow is not finished.
    this.#settleWaiters(id, undefined);
  }

  #settleWaiters(id: string, outcome: WorkflowOutcome | undefined): void {
    const waiters = this.#waiters.get(id);
    if (waiters === undefined) return;
    this.#waiters.delete(id);
    for (const waiter of waiters) waiter(outcome);
  }

  #next(): void {
    // Shutting down: queued workflows stay pending in the store and start on the next run.
    if (!this.#accepting) return;
    while (this.#running.size < this.#maxConcurrent && this.#queue.length > 0) {
      const record = this.#queue.shift()!;
      if (!this.#queued.delete(record.id)) continue;
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
