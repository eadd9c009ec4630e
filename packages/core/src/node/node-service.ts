import { randomUUID } from 'node:crypto';
import { context, SpanKind, trace, type Context, type SpanOptions, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { Registry, RegistryContentType } from 'prom-client';
import type { z } from 'zod';
import type { NodeContract, Schema } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { ErrorSanitizer } from '../errors/error-sanitizer.js';
import { abortReasonToOnexError, isOnexError, OnexError, toOnexError, validationDetails } from '../errors/onex-error.js';
import { childLogger, createLogger, type Logger } from '../logging/logger.js';
import { DEFAULT_DURATION_BUCKETS } from '../metrics/bucket-histogram.js';
import { CallMetrics, type CallStats } from '../metrics/call-metrics.js';
import { OperationSeries } from '../metrics/call-series.js';
import { registerNodeFamilies } from '../metrics/node-families.js';
import { PrometheusMetrics } from '../metrics/prometheus-metrics.js';
import { MAX_TIMEOUT_MS } from '../transport/headers.js';
import { onAbort } from '../internal/abort.js';
import { CORE_VERSION, failSpan, isTraced, OnexAttribute, onexTracer } from '../telemetry/tracing.js';
import type { CallContext, CallerIdentity, CallOptions } from './call-context.js';
import { composeInterceptors, type CallInterceptor, type Interceptor, type NodeInterceptor } from './interceptor.js';
import { assessPerformance, resolvePerformanceOptions, PerformanceTier, type PerformanceOptions, type PerformanceReport, type ResolvedPerformanceOptions } from './performance-tier.js';
import type { Result } from './result.js';

/**
 * Lifecycle of a node: `created` → `initializing` → `ready` → `draining` → `stopped`; `failed` when
 * initialisation threw.
 */
export const LifecycleStatus = {
  Created: 'created',
  Initializing: 'initializing',
  Ready: 'ready',
  Draining: 'draining',
  Stopped: 'stopped',
  Failed: 'failed',
} as const;
/** One of the {@link LifecycleStatus} values. */
export type LifecycleStatus = (typeof LifecycleStatus)[keyof typeof LifecycleStatus];

/** Health of a node or of one of its components. */
export const HealthStatus = { Healthy: 'healthy', Degraded: 'degraded', Unhealthy: 'unhealthy' } as const;
/** One of the {@link HealthStatus} values. */
export type HealthStatus = (typeof HealthStatus)[keyof typeof HealthStatus];

/** Health of one dependency or part of a node (a store, a peer, a breaker). */
export interface ComponentHealth {
  readonly status: HealthStatus;
  readonly detail?: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/**
 * What `health()` and `GET /health` answer.
 *
 * - `status`: `unhealthy` when the node is not ready or a component is unhealthy; `degraded` when a component is
 *   degraded, when at least 10 recent calls succeeded less than half the time, or when the performance tier is
 *   `poor`; else `healthy`.
 * - `capacity`: calls in flight against `maxConcurrency` (`utilization` is 0 when unlimited).
 * - `recent`: the calls of the recent window (one to two `metricsWindowMs`), their success rate and latency.
 * - `performance`: the recent p95 against the configured target and the {@link PerformanceTier} it makes.
 * - `components`: each dependency's own health (a store, the peers' breakers, …).
 *
 * @example
 * ```ts
 * import type { NodeHealth } from '@onex/core';
 * const summary = (h: NodeHealth) =>
 *   `${h.status} · ${h.performance.tier} (p95 ${h.performance.p95Ms.toFixed(1)} / ${h.performance.targetLatencyMs} ms) · ${Math.round(h.capacity.utilization * 100)}% busy`;
 * ```
 */
export interface NodeHealth {
  readonly status: HealthStatus;
  readonly lifecycle: LifecycleStatus;
  readonly node: { readonly name: string; readonly kind: string; readonly version: string };
  readonly uptimeMs: number;
  readonly components: Readonly<Record<string, ComponentHealth>>;
  readonly capacity: { readonly inFlight: number; readonly maxConcurrency: number | null; readonly utilization: number };
  readonly recent: {
    readonly calls: number;
    readonly successRate: number;
    readonly p50Ms: number;
    readonly p95Ms: number;
    readonly p99Ms: number;
    /** Length of one window, ms: `recent` covers the current and the previous one. */
    readonly windowMs: number;
  };
  readonly performance: PerformanceReport;
}

/** What `GET /metrics.json` answers (`GET /metrics` is the Prometheus view, from {@link NodeService.metricsRegistry}). */
export interface NodeMetrics extends CallStats {
  readonly node: string;
  readonly lifecycle: LifecycleStatus;
  /** Extra figures a node kind adds (cache hits, breaker states, …). */
  readonly extra: Readonly<Record<string, unknown>>;
}

/**
 * Where and how a node exposes its Prometheus metrics.
 *
 * Each node has a registry of its own by default (never prom-client's global one), served at its `GET /metrics`.
 * Several nodes in one process can share one registry instead, to be scraped at one endpoint: every series carries
 * a `node` label (the node's name by default), and two live nodes with the same label in one registry are refused.
 *
 * Any prom-client `Registry` will do (`new Registry()`, with `collectDefaultMetrics({ register })` once per process
 * for CPU, memory and event-loop figures), or the registry of another node:
 *
 * @example
 * ```ts
 * import type { NodeMetricsOptions } from '@onex/core';
 * // A second node of the process reports next to `node`: one scrape shows both, told apart by their `node` label.
 * const options: NodeMetricsOptions = { registry: node.metricsRegistry, node: 'greeter-eu' };
 * ```
 */
export interface NodeMetricsOptions {
  /** The prom-client registry the node's metrics are registered in. Default: one of its own. */
  readonly registry?: Registry<RegistryContentType>;
  /** The `node` label of the node's series. Default: the contract's name. */
  readonly node?: string;
  /** Upper bounds, seconds, of `onex_node_call_duration_seconds`. Default {@link DEFAULT_DURATION_BUCKETS}. */
  readonly durationBuckets?: readonly number[];
}

/** A clock, injectable for tests. */
export interface Clock {
  now(): number;
}

/**
 * The interceptors a node's options take: typed by the node's contract when its input and output schemas are given
 * ({@link NodeInterceptor}), else interceptors that fit every node ({@link CallInterceptor}).
 *
 * @example
 * ```ts
 * import type { NodeInterceptors } from '@onex/core';
 * const none: NodeInterceptors<never, never> = [];
 * ```
 */
export type NodeInterceptors<TInput extends Schema, TOutput extends Schema> = readonly ([TInput] extends [never] ? CallInterceptor : NodeInterceptor<TInput, TOutput>)[];

/**
 * Options every node accepts. Dependencies are injected here, never looked up globally. `TInput` and `TOutput` (the
 * contract's schemas) type the `interceptors`; without them only interceptors that fit every node are accepted.
 *
 * @example
 * ```ts
 * import { createSilentLogger, type CallInterceptor, type NodeServiceOptions } from '@onex/core';
 * const logCalls: CallInterceptor = (input, ctx, next) => {
 *   ctx.logger.debug('call');
 *   return next(input);
 * };
 * const options: NodeServiceOptions<never> = { logger: createSilentLogger(), defaultTimeoutMs: 5_000, interceptors: [logCalls] };
 * ```
 */
export interface NodeServiceOptions<TConfig extends Schema, TInput extends Schema = never, TOutput extends Schema = never> {
  /** Raw configuration, validated against the contract's config schema in the constructor. */
  readonly config?: z.input<TConfig>;
  /** Root logger; a child per call carries the correlation id. Default: a pino logger named after the node. */
  readonly logger?: Logger;
  /** Masks secrets in every error that leaves the node or is logged. */
  readonly sanitizer?: ErrorSanitizer;
  /** Clock. Default `Date`. */
  readonly clock?: Clock;
  /** Deadline applied to calls that bring none, ms. Default 30 000. */
  readonly defaultTimeoutMs?: number;
  /** Calls running at once before new ones fail fast with OVERLOADED. Default unlimited. */
  readonly maxConcurrency?: number;
  /** How long `shutdown()` waits for in-flight calls, ms. Default 10 000. */
  readonly drainTimeoutMs?: number;
  /** Length of the recent-metrics window, ms. Default 60 000. */
  readonly metricsWindowMs?: number;
  /** The latency target `health()` grades the recent p95 against (its performance tier). Default 1 000 ms. */
  readonly performance?: PerformanceOptions;
  /** Prometheus metrics: a shared registry, the `node` label, the duration buckets. */
  readonly metrics?: NodeMetricsOptions;
  /**
   * Run around `process` on every call, composed once here: the first is the outermost; each may change the input,
   * hand the rest of the chain another context (`next(input, withSignal(ctx, signal))`), answer without calling
   * `next`, or throw. They run inside `handle()`: after input validation, under the call's deadline, before output
   * validation — so whatever they answer is still checked against the contract.
   */
  readonly interceptors?: NodeInterceptors<TInput, TOutput>;
  /**
   * Where the node's spans go (`process <node>` for every call, and the spans of its kind). Default: the global
   * provider — a no-op until an OpenTelemetry SDK is registered (e.g. `NodeTracerProvider.register()`), then that
   * SDK's, also when it is registered after the node is made.
   */
  readonly tracerProvider?: TracerProvider;
}

const SYSTEM_CLOCK: Clock = { now: () => Date.now() };

/** A call from another process (its parent span is remote: `serveNode` extracted it) is a server span. */
const SERVER_SPAN: SpanOptions = Object.freeze({ kind: SpanKind.SERVER });
const INTERNAL_SPAN: SpanOptions = Object.freeze({ kind: SpanKind.INTERNAL });
const spanOptionsFor = (parent: Context): SpanOptions => (trace.getSpanContext(parent)?.isRemote === true ? SERVER_SPAN : INTERNAL_SPAN);

/**
 * A composed chain, held as a method: methods compare bivariantly, so a node of a specific contract stays assignable
 * to `NodeService<Schema, Schema, Schema>` (a function-typed private field would make the class invariant).
 */
interface CallChain<TInput, TOutput> {
  run(input: TInput, ctx: CallContext): Promise<TOutput>;
}

/** Names the operation a validated input calls; a method for the same reason as {@link CallChain}. */
interface OperationLabeler<TInput> {
  operationOf(input: TInput): string | undefined;
}

/**
 * The base of every ONEX node. Subclasses implement {@link NodeService.process}; {@link NodeService.handle} wraps
 * it with input/output validation, the call's deadline, concurrency limits, metrics, logging and error
 * normalisation, and never throws.
 *
 * Cross-cutting behaviour goes in `interceptors` (options), composed once around `process`. Protected hooks:
 * `onInitialize`, `onShutdown`, `invoke` (the interceptors and `process`; the breaker mixin wraps it),
 * `componentHealth` and `extraMetrics`. A kind adds Prometheus metrics of its own through `prometheus`, and
 * labels its calls by operation with `labelCallsByOperation`, both from its constructor.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { NodeService, defineContract, NodeKind, type CallContext } from '@onex/core';
 * const contract = defineContract({ name: 'greeter', kind: NodeKind.Compute, version: '1.0.0',
 *   input: z.object({ name: z.string() }), output: z.object({ greeting: z.string() }) });
 * class Greeter extends NodeService<typeof contract.input, typeof contract.output, typeof contract.config> {
 *   constructor() { super(contract); }
 *   protected async process(input: { name: string }, _ctx: CallContext) { return { greeting: `Hello ${input.name}` }; }
 * }
 * const node = new Greeter();
 * await node.initialize();
 * const r = await node.handle({ name: 'Ada' }); // { ok: true, value: { greeting: 'Hello Ada' } }
 * ```
 */
export abstract class NodeService<TInput extends Schema, TOutput extends Schema, TConfig extends Schema> {
  /** The node's contract. */
  readonly contract: NodeContract<TInput, TOutput, TConfig>;
  /** Validated configuration. */
  readonly config: z.output<TConfig>;
  /** The node's root logger. */
  protected readonly logger: Logger;
  /** The sanitizer applied to every outgoing or logged error (transports use it for wire errors too). */
  readonly sanitizer: ErrorSanitizer;
  /** The node's clock. */
  protected readonly clock: Clock;
  /**
   * The node's Prometheus metrics: a kind adds its own families here, in its constructor, read at scrape time
   * (`this.prometheus.counter({...})`, `gauge`, `histogram`, `breakers(registry)`).
   */
  protected readonly prometheus: PrometheusMetrics;
  /**
   * Where the node's spans go (its options' `tracerProvider`, else the global one): a kind makes its own tracer from
   * it, `this.tracerProvider.getTracer('@my/kind', version)`.
   */
  protected readonly tracerProvider: TracerProvider;

  readonly #tracer: Tracer;
  /** `process <node>`, made once. */
  readonly #spanName: string;
  readonly #metrics: CallMetrics;
  /** Calls by operation, for Prometheus. */
  readonly #calls: OperationSeries;
  #operations: OperationLabeler<z.output<TInput>> | undefined;
  readonly #defaultTimeoutMs: number;
  readonly #maxConcurrency: number;
  readonly #drainTimeoutMs: number;
  readonly #performance: ResolvedPerformanceOptions;
  /** `process` behind the interceptors of the options, composed once. */
  readonly #chain: CallChain<z.output<TInput>, z.input<TOutput>>;
  #status: LifecycleStatus = LifecycleStatus.Created;
  #startedAt = 0;
  #drained: (() => void) | undefined;

  constructor(contract: NodeContract<TInput, TOutput, TConfig>, options: NodeServiceOptions<TConfig, TInput, TOutput> = {}) {
    this.contract = contract;
    const parsed = contract.config.safeParse(options.config ?? {});
    if (!parsed.success) {
      const details = validationDetails(parsed.error.issues);
      const first = details[0];
      throw new OnexError(
        ErrorCode.Validation,
        `Invalid config for node '${contract.name}': ${first === undefined ? 'invalid' : `${first.path}: ${first.message}`}`,
        { details },
      );
    }
    this.config = parsed.data;
    this.sanitizer = options.sanitizer ?? new ErrorSanitizer();
    this.logger = options.logger ?? createLogger({ name: contract.name, sanitizer: this.sanitizer });
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
    this.#tracer = onexTracer(this.tracerProvider, '@onex/core', CORE_VERSION);
    this.#spanName = `process ${contract.name}`;
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
    this.#maxConcurrency = options.maxConcurrency ?? Number.POSITIVE_INFINITY;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.#performance = resolvePerformanceOptions(options.performance);
    this.#metrics = new CallMetrics({ windowMs: options.metricsWindowMs ?? 60_000, now: () => this.clock.now() });
    this.#calls = new OperationSeries(options.metrics?.durationBuckets ?? DEFAULT_DURATION_BUCKETS);
    this.prometheus = new PrometheusMetrics({
      node: options.metrics?.node ?? contract.name,
      live: () => this.#status !== LifecycleStatus.Stopped && this.#status !== LifecycleStatus.Failed,
      ...(options.metrics?.registry === undefined ? {} : { registry: options.metrics.registry }),
    });
    registerNodeFamilies(this.prometheus, {
      kind: contract.kind,
      version: contract.version,
      lifecycleStatuses: Object.values(LifecycleStatus),
      healthStatuses: Object.values(HealthStatus),
      maxConcurrency: Number.isFinite(this.#maxConcurrency) ? this.#maxConcurrency : null,
      calls: this.#calls,
      lifecycle: () => this.#status,
      uptimeSeconds: () => (this.#status === LifecycleStatus.Ready ? (this.clock.now() - this.#startedAt) / 1_000 : 0),
      inFlight: () => this.#metrics.inFlight,
      health: () => this.health(),
    });
    // Either kind of NodeInterceptors fits this node's chain: a CallInterceptor is generic in input and output.
    const interceptors = (options.interceptors ?? []) as readonly Interceptor<z.output<TInput>, z.input<TOutput>, CallContext>[];
    this.#chain = { run: composeInterceptors(interceptors, (input, ctx) => this.process(input, ctx)) };
  }

  /** The node's name (from its contract). */
  get name(): string {
    return this.contract.name;
  }

  /** Where the node is in its lifecycle. */
  get status(): LifecycleStatus {
    return this.#status;
  }

  /** Calls running now. */
  get inFlight(): number {
    return this.#metrics.inFlight;
  }

  /**
   * The prom-client registry holding the node's Prometheus metrics (its own, or the shared one of its options):
   * `GET /metrics` answers `await registry.metrics()`.
   *
   * @example
   * ```ts
   * const text = await node.metricsRegistry.metrics(); // onex_node_calls_total{node="greeter",operation="",outcome="success"} 1 ...
   * ```
   */
  get metricsRegistry(): Registry<RegistryContentType> {
    return this.prometheus.registry;
  }

  /** Brings the node to `ready`, running `onInitialize`. Idempotent once ready. */
  async initialize(): Promise<void> {
    if (this.#status === LifecycleStatus.Ready) return;
    if (this.#status !== LifecycleStatus.Created && this.#status !== LifecycleStatus.Failed) {
      throw new OnexError(ErrorCode.Lifecycle, `Cannot initialize node '${this.name}' in status ${this.#status}`);
    }
    this.#status = LifecycleStatus.Initializing;
    try {
      await this.onInitialize();
    } catch (error) {
      this.#status = LifecycleStatus.Failed;
      const onex = toOnexError(error);
      this.logger.error({ err: error }, `node ${this.name} failed to initialize`);
      throw onex;
    }
    this.#startedAt = this.clock.now();
    this.#status = LifecycleStatus.Ready;
  }

  /**
   * Stops taking calls, waits for in-flight calls to finish (up to the drain timeout), then runs `onShutdown`.
   */
  async shutdown(): Promise<void> {
    if (this.#status === LifecycleStatus.Stopped || this.#status === LifecycleStatus.Draining) return;
    this.#status = LifecycleStatus.Draining;
    if (this.#metrics.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#drainTimeoutMs);
        timer.unref();
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#drained = undefined;
    }
    try {
      await this.onShutdown();
    } finally {
      this.#status = LifecycleStatus.Stopped;
    }
  }

  /**
   * Runs one call: validates `raw` against the input schema, runs `process` under the call's deadline, validates
   * the output. Never throws: failures come back as a typed, sanitized-on-the-wire {@link OnexError}.
   */
  async handle(raw: unknown, options: CallOptions = {}): Promise<Result<z.output<TOutput>>> {
    const correlationId = options.correlationId ?? randomUUID();
    if (this.#status !== LifecycleStatus.Ready) {
      return this.#reject(ErrorCode.Lifecycle, `Node '${this.name}' is ${this.#status}, not ready`, correlationId);
    }
    if (this.#metrics.inFlight >= this.#maxConcurrency) {
      return this.#reject(ErrorCode.Overloaded, `Node '${this.name}' is at its concurrency limit`, correlationId);
    }
    let series = this.#calls.unlabeled;
    const startedAt = this.#metrics.begin();
    const now = this.clock.now();
    const relative = now + (options.timeoutMs ?? this.#defaultTimeoutMs);
    const deadlineAt = options.deadlineAt === undefined ? relative : Math.min(relative, options.deadlineAt);
    const call = new CallState(this.name, this.logger, correlationId, deadlineAt, deadlineAt - now, options);
    const parent = context.active();
    const span = this.#tracer.startSpan(this.#spanName, spanOptionsFor(parent), parent);
    if (span.isRecording()) {
      span.setAttribute(OnexAttribute.Node, this.name);
      span.setAttribute(OnexAttribute.CorrelationId, correlationId);
      if (options.idempotencyKey !== undefined) span.setAttribute(OnexAttribute.IdempotencyKey, options.idempotencyKey);
    }
    try {
      const input = this.contract.input.safeParse(raw);
      if (!input.success) {
        const details = validationDetails(input.error.issues);
        const first = details[0];
        throw new OnexError(ErrorCode.Validation, `Invalid input: ${first === undefined ? 'invalid' : `${first.path}: ${first.message}`}`, {
          correlationId,
          details,
        });
      }
      if (this.#operations !== undefined) series = this.#calls.of(this.#operations.operationOf(input.data));
      // `process` runs with the span current (its logs carry its ids; its calls are its children). Without an SDK the
      // span has no trace and making it current would only cost a context.
      const valid = input.data;
      const produced = await call.race(isTraced(span) ? context.with(trace.setSpan(parent, span), () => this.invoke(valid, call)) : this.invoke(valid, call));
      const output = this.contract.output.safeParse(produced);
      if (!output.success) {
        throw new OnexError(ErrorCode.Contract, `Node '${this.name}' produced output that breaks its contract`, {
          correlationId,
          details: validationDetails(output.error.issues),
        });
      }
      series.succeed(this.#metrics.end(startedAt));
      return { ok: true, value: output.data };
    } catch (error) {
      const onex = toOnexError(error, { correlationId });
      series.fail(this.#metrics.end(startedAt, onex.code), onex.code);
      failSpan(span, onex);
      // Logged in the span, so the line carries its trace and span ids.
      if (isTraced(span)) context.with(trace.setSpan(parent, span), () => this.#logFailure(call.logger, onex, error));
      else this.#logFailure(call.logger, onex, error);
      return { ok: false, error: onex };
    } finally {
      span.end();
      call.dispose();
      if (this.#drained !== undefined && this.#metrics.inFlight === 0) this.#drained();
    }
  }

  /**
   * Health: lifecycle, components, capacity and recent performance, graded into a {@link PerformanceTier} against
   * the options' `performance.targetLatencyMs` (see {@link NodeHealth} for how `status` is decided).
   */
  async health(): Promise<NodeHealth> {
    const components = await this.componentHealth().catch(
      (error: unknown): Record<string, ComponentHealth> => ({
        health: { status: HealthStatus.Unhealthy, detail: this.sanitizer.sanitizeText(toOnexError(error).message) },
      }),
    );
    const snapshot = this.#metrics.stats();
    const latency = snapshot.recent.latency;
    const performance = assessPerformance({ p95Ms: latency.p95Ms, calls: snapshot.recent.calls }, this.#performance);
    const statuses = Object.values(components).map((c) => c.status);
    let status: HealthStatus = HealthStatus.Healthy;
    if (this.#status !== LifecycleStatus.Ready || statuses.includes(HealthStatus.Unhealthy)) status = HealthStatus.Unhealthy;
    else if (
      statuses.includes(HealthStatus.Degraded) ||
      (snapshot.recent.calls >= 10 && snapshot.recent.successRate < 0.5) ||
      performance.tier === PerformanceTier.Poor
    ) {
      status = HealthStatus.Degraded;
    }
    const max = Number.isFinite(this.#maxConcurrency) ? this.#maxConcurrency : null;
    return {
      status,
      lifecycle: this.#status,
      node: { name: this.name, kind: this.contract.kind, version: this.contract.version },
      uptimeMs: this.#status === LifecycleStatus.Ready ? this.clock.now() - this.#startedAt : 0,
      components,
      capacity: { inFlight: snapshot.inFlight, maxConcurrency: max, utilization: max === null ? 0 : snapshot.inFlight / max },
      recent: {
        calls: snapshot.recent.calls,
        successRate: snapshot.recent.successRate,
        p50Ms: latency.p50Ms,
        p95Ms: latency.p95Ms,
        p99Ms: latency.p99Ms,
        windowMs: snapshot.recent.windowMs,
      },
      performance,
    };
  }

  /**
   * Counts, success rate and latency percentiles from bounded histograms, plus the kind's extra figures: the JSON
   * view (`GET /metrics.json`). Prometheus reads {@link NodeService.metricsRegistry}.
   */
  metrics(): NodeMetrics {
    return { ...this.#metrics.stats(), node: this.name, lifecycle: this.#status, extra: this.extraMetrics() };
  }

  /** The one method a node implements: turn a validated input into an output. Honour `ctx.signal`. */
  protected abstract process(input: z.output<TInput>, ctx: CallContext): Promise<z.input<TOutput>>;

  /**
   * Runs the options' interceptors around `process`. Prefer `interceptors` for behaviour around every call; override
   * this where the behaviour belongs to the class (the breaker mixin does: its breaker runs outside the interceptors).
   */
  protected invoke(input: z.output<TInput>, ctx: CallContext): Promise<z.input<TOutput>> {
    return this.#chain.run(input, ctx);
  }

  /** Runs once in `initialize()`: open connections, warm caches. */
  protected async onInitialize(): Promise<void> {}

  /** Runs once in `shutdown()` after in-flight calls drained: close connections. */
  protected async onShutdown(): Promise<void> {}

  /** Health of the node's dependencies, reported by `health()`. */
  protected async componentHealth(): Promise<Record<string, ComponentHealth>> {
    return {};
  }

  /** Extra figures for `metrics()`. */
  protected extraMetrics(): Record<string, unknown> {
    return {};
  }

  /**
   * Labels this node's calls by operation in its Prometheus metrics (`operation` of `onex_node_calls_total`,
   * `onex_node_call_errors_total` and `onex_node_call_duration_seconds`). `operations` is the bounded set, the names
   * in the kind's definition; `operationOf` names the one a validated input calls. A name outside the set, and a call
   * that fails before its input is valid, count under `operation=""` (no label): a caller cannot grow the series.
   * Call it once, from the kind's constructor.
   *
   * @throws OnexError `LIFECYCLE` when called a second time.
   * @example
   * ```ts
   * import { z } from 'zod';
   * import { defineContract, NodeKind, NodeService, type CallContext } from '@onex/core';
   * const contract = defineContract({ name: 'math', kind: NodeKind.Compute, version: '1.0.0',
   *   input: z.object({ op: z.string(), a: z.number(), b: z.number() }), output: z.number() });
   * class MathNode extends NodeService<typeof contract.input, typeof contract.output, typeof contract.config> {
   *   constructor() {
   *     super(contract);
   *     this.labelCallsByOperation(['add', 'mul'], (input) => input.op);
   *   }
   *   protected async process(input: { op: string; a: number; b: number }, _ctx: CallContext) {
   *     return input.op === 'add' ? input.a + input.b : input.a * input.b;
   *   }
   * }
   * const node = new MathNode();
   * await node.initialize();
   * await node.handle({ op: 'add', a: 1, b: 2 });
   * console.log(await node.metricsRegistry.metrics()); // ... onex_node_calls_total{node="math",operation="add",outcome="success"} 1
   * await node.shutdown();
   * ```
   */
  protected labelCallsByOperation(operations: readonly string[], operationOf: (input: z.output<TInput>) => string | undefined): void {
    if (this.#operations !== undefined) throw new OnexError(ErrorCode.Lifecycle, `Calls of node '${this.name}' are already labelled by operation`);
    this.#calls.label(operations);
    this.#operations = { operationOf };
  }

  #reject(code: ErrorCode, message: string, correlationId: string): Result<never> {
    this.#metrics.reject(code);
    this.#calls.unlabeled.reject(code);
    return { ok: false, error: new OnexError(code, message, { correlationId }) };
  }

  #logFailure(logger: Logger, error: OnexError, original: unknown): void {
    if (error.httpStatus >= 500 && error.code !== ErrorCode.CircuitOpen && error.code !== ErrorCode.Overloaded) {
      logger.error({ err: original, code: error.code }, `call failed: ${error.message}`);
    } else {
      logger.warn({ code: error.code }, `call rejected: ${error.message}`);
    }
  }
}

/**
 * The per-call machinery of `handle()`: the deadline timer, the link to the caller's signal, and the context handed
 * to `process`. The AbortController and the child logger are made only when `process` asks for them: most calls
 * finish without either, and both cost more than the rest of the call.
 */
class CallState implements CallContext {
  readonly correlationId: string;
  readonly deadlineAt: number | undefined;
  readonly idempotencyKey: string | undefined;
  readonly caller: CallerIdentity | undefined;
  readonly #node: string;
  readonly #rootLogger: Logger;
  #logger: Logger | undefined;
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;
  #reject: ((error: OnexError) => void) | undefined;
  readonly #timer: NodeJS.Timeout;
  /** Stops listening to the caller's signal. */
  readonly #stopExternal: () => void;

  constructor(node: string, rootLogger: Logger, correlationId: string, deadlineAt: number, delayMs: number, options: CallOptions) {
    this.correlationId = correlationId;
    this.deadlineAt = deadlineAt;
    this.idempotencyKey = options.idempotencyKey;
    this.caller = options.caller;
    this.#node = node;
    this.#rootLogger = rootLogger;
    // Node fires timers longer than 2^31-1 ms at once: clamp (a call cannot usefully run ~25 days anyway).
    this.#timer = setTimeout(() => this.#abort(new DOMException('Deadline exceeded', 'TimeoutError')), Math.min(Math.max(0, delayMs), MAX_TIMEOUT_MS));
    this.#stopExternal = onAbort(options.signal, (reason) => this.#abort(reason));
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get logger(): Logger {
    this.#logger ??= childLogger(this.#rootLogger, { correlationId: this.correlationId, node: this.#node });
    return this.#logger;
  }

  /** Settles with `work`, or rejects with TIMEOUT/CANCELLED as soon as the call is aborted (even if `work` ignores it). */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.#aborted) {
      work.catch(() => undefined);
      return Promise.reject(this.#abortError());
    }
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      work.then(resolve, (error: unknown) => {
        // Whatever process() threw goes on to toOnexError unchanged (it may not be an Error).
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(this.#aborted && !isOnexError(error) ? this.#abortError() : error);
      });
    });
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#stopExternal();
    this.#reject = undefined;
  }

  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#reject?.(this.#abortError());
  }

  #abortError(): OnexError {
    return abortReasonToOnexError(this.signal, this.correlationId);
  }
}
