import {
  BucketHistogram,
  ErrorCode,
  errorCodeInfo,
  HealthStatus,
  LatencyHistogram,
  NodeService,
  OnexError,
  OnexWarning,
  parseWireError,
  toOnexError,
  toWireError,
  type CallContext,
  type CallOptions,
  type ComponentHealth,
  type EmptyConfig,
  type LatencyStats,
  type Result,
} from '@onex/core';
import { deepFreeze, validationDetails } from '@onex/core/internal';
import { mapConcurrent } from '../batch/map-concurrent.js';
import { stableKey } from '../cache/stable-key.js';
import { TtlLruCache, type CacheStats } from '../cache/ttl-lru-cache.js';
import type {
  AnyComputation,
  ComputationInput,
  ComputationName,
  ComputationNamed,
  ComputationOutput,
  ComputeContext,
} from '../computation/computation.js';
import { computationsByName, computeContract, type ComputeContract } from '../contract/compute-contract.js';
import {
  checkComputationDefaults,
  resolveComputationSettings,
  type AnyComputeNodeDefinition,
  type ComputationsOf,
} from './define-compute-node.js';
import { batchLimits, type ComputeBatchOptions, type NodeComputeOptions } from './node-compute-options.js';
import type { BatchItemError, BatchItemResult, ComputeRequest, ComputeResponse } from './compute-protocol.js';

/**
 * Figures of one computation, in `metrics().extra.computations`.
 *
 * @example
 * ```ts
 * const add = node.stats().computations['add'];
 * console.log(add?.runs, add?.slow, add?.latency.p99Ms);
 * ```
 */
export interface ComputationStats {
  /** Times the function ran (cache hits are not runs). */
  readonly runs: number;
  /** Runs that threw or produced output breaking the output schema. */
  readonly failures: number;
  /** Runs slower than the threshold. */
  readonly slow: number;
  /** The threshold, ms; `null` when slow runs are not reported. */
  readonly slowThresholdMs: number | null;
  /** Duration of runs (bounded histogram). */
  readonly latency: LatencyStats;
}

/**
 * Cache figures of one cached computation, in `metrics().extra.cache`.
 *
 * @example
 * ```ts
 * const c = node.stats().cache['add'];
 * const hitRate = c === undefined ? 0 : c.hits / Math.max(1, c.hits + c.misses);
 * ```
 */
export interface ComputationCacheStats extends CacheStats {
  /** Calls whose input had no canonical form (a function, a `Map`, a cycle…), computed without the cache. */
  readonly uncacheable: number;
}

/**
 * What a compute node adds to `metrics().extra`: figures per computation, and per cached computation.
 *
 * @example
 * ```ts
 * const { computations, cache } = node.stats();
 * ```
 */
export interface ComputeStats {
  readonly computations: Readonly<Record<string, ComputationStats>>;
  readonly cache: Readonly<Record<string, ComputationCacheStats>>;
}

/** One registered computation and its mutable figures. */
interface Registration {
  readonly computation: AnyComputation;
  /** Boxed values, so that a cached `undefined` is still a hit. */
  readonly cache: TtlLruCache<{ readonly value: unknown }> | undefined;
  readonly slowThresholdMs: number;
  readonly latency: LatencyHistogram;
  /** The same runs in Prometheus buckets. */
  readonly duration: BucketHistogram;
  runs: number;
  failures: number;
  slow: number;
  uncacheable: number;
}

/** Batch items whose 5xx failure is logged with its cause, per batch (the rest are only counted). */
const LOGGED_ITEM_FAILURES = 3;
/** The warning code of a slow run. */
const SLOW_COMPUTATION = 'SLOW_COMPUTATION';

type RequestSchema = typeof ComputeRequest;
type ResponseSchema = typeof ComputeResponse;
type ResponseBody = ComputeResponse;

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Echoed names are client text: keep them short in messages. */
function quoteName(name: string): string {
  return `'${name.length > 128 ? `${name.slice(0, 128)}…` : name}'`;
}

function prefixPath(prefix: string, path: string): string {
  return path === '(root)' ? prefix : `${prefix}.${path}`;
}

/**
 * The ONEX compute node: pure, deterministic transforms served by name. A request names a computation and gives
 * one `input` or a `batch` of them (see {@link ComputeRequest}); each input is validated against the computation's
 * own schema, answered from its result cache when it has one, else computed and its output validated. Batches run
 * concurrently up to a limit and report per-item errors in input order. Runs slower than the threshold are logged
 * as `SLOW_COMPUTATION` warnings. `metrics().extra` carries per-computation and per-cache figures
 * ({@link ComputeStats}); in Prometheus (`GET /metrics`) calls are labelled by computation
 * (`onex_node_calls_total{operation="add"}`), beside `onex_compute_runs_total`, `_run_failures_total`,
 * `_slow_runs_total`, `_run_duration_seconds` and, per cached computation, `onex_compute_cache_hits_total`,
 * `_misses_total`, `_evictions_total`, `_expirations_total`, `_uncacheable_total`, `_entries`, `_max_entries`, each
 * labelled `computation`.
 *
 * Construct it from a definition and runtime options: `new NodeCompute(definition, options)`, the definition made
 * by `defineComputeNode`. Extend it for behaviour of your own:
 * `class X extends NodeCompute<typeof definition> { constructor(o) { super(definition, o); } }`. Protected hooks:
 * {@link NodeCompute.execute} (wrap every run), {@link NodeCompute.onSlowComputation} (report slow runs), plus
 * `NodeService`'s `onInitialize`, `onShutdown`, `componentHealth` and `extraMetrics` (call `super` in the last three).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { createSilentLogger, serveNode, type OnexWarning, type CallContext } from '@onex/core';
 * import { NodeCompute, defineComputation, defineComputeNode, type NodeComputeOptions } from '@onex/compute';
 *
 * const add = defineComputation({
 *   name: 'add', input: z.object({ a: z.number(), b: z.number() }), output: z.number(),
 *   compute: ({ a, b }) => a + b, cache: { maxEntries: 1_000 },
 * });
 * const math = defineComputeNode({ name: 'math', version: '1.0.0', computations: [add] });
 *
 * // The common case: the definition says it all.
 * const node = new NodeCompute(math, { logger: createSilentLogger() });
 * await node.initialize();
 * await node.compute('add', { a: 1, b: 2 }); // { ok: true, value: 3 }
 * await node.shutdown();
 *
 * // Behaviour of your own: extend it, typed by the definition.
 * class MathNode extends NodeCompute<typeof math> {
 *   readonly slowRuns: string[] = [];
 *   constructor(options: NodeComputeOptions = {}) {
 *     super(math, options);
 *   }
 *   protected override onSlowComputation(warning: OnexWarning, ctx: CallContext): void {
 *     super.onSlowComputation(warning, ctx);
 *     this.slowRuns.push(warning.message);
 *   }
 * }
 * const served = await serveNode(new MathNode({ logger: createSilentLogger() }), { port: 0 }); // POST /v1/process {"computation":"add","input":{"a":1,"b":2}}
 * await served.close();
 * ```
 */
export class NodeCompute<const TDefinition extends AnyComputeNodeDefinition = AnyComputeNodeDefinition> extends NodeService<
  RequestSchema,
  ResponseSchema,
  EmptyConfig
> {
  readonly #registry: ReadonlyMap<string, Registration>;
  readonly #maxBatchSize: number;
  readonly #batchConcurrency: number;

  /** The node's contract: the wire envelope, and {@link ComputeContract.computation} for one computation's typed contract. */
  declare readonly contract: ComputeContract<ComputationsOf<TDefinition>>;

  constructor(definition: TDefinition, options: NodeComputeOptions = {}) {
    const { maxBatchSize: _maxBatchSize, batchConcurrency: _batchConcurrency, ...service } = options;
    const contract = computeContract<ComputationsOf<TDefinition>>(definition);
    super(contract, service);
    checkComputationDefaults(definition.name, definition.defaults);
    const limits = batchLimits(options);
    this.#maxBatchSize = limits.maxBatchSize;
    this.#batchConcurrency = limits.batchConcurrency;
    const registry = new Map<string, Registration>();
    for (const computation of computationsByName(definition.name, definition.computations).values()) {
      const settings = resolveComputationSettings(computation, definition.defaults);
      registry.set(computation.name, {
        computation,
        cache: settings.cache === undefined ? undefined : new TtlLruCache<{ readonly value: unknown }>({ ...settings.cache, now: () => this.clock.now() }),
        slowThresholdMs: settings.slowThresholdMs,
        latency: new LatencyHistogram(),
        duration: new BucketHistogram(),
        runs: 0,
        failures: 0,
        slow: 0,
        uncacheable: 0,
      });
    }
    this.#registry = registry;
    this.labelCallsByOperation([...registry.keys()], (request) => request.computation);
    this.#registerMetrics();
  }

  /** Names of the registered computations, in registration order. */
  get computations(): readonly ComputationName<ComputationsOf<TDefinition>>[] {
    return [...this.#registry.keys()];
  }

  /**
   * Runs one computation in process, typed by the registry. It goes through `handle()` — lifecycle, deadline,
   * concurrency limit, node metrics and logging — exactly as a call over HTTP would, minus the JSON round-trip.
   *
   * @example
   * ```ts
   * const r = await node.compute('add', { a: 1, b: 2 }, { timeoutMs: 50 });
   * if (r.ok) console.log(r.value); else console.error(r.error.code);
   * ```
   */
  async compute<TName extends ComputationName<ComputationsOf<TDefinition>>>(
    name: TName,
    input: ComputationInput<ComputationNamed<ComputationsOf<TDefinition>, TName>>,
    options: CallOptions = {},
  ): Promise<Result<ComputationOutput<ComputationNamed<ComputationsOf<TDefinition>, TName>>>> {
    const response = await this.handle({ computation: name, input }, options);
    if (!response.ok) return response;
    const value = 'result' in response.value ? response.value.result : undefined;
    // The registry validated `value` with this computation's output schema.
    return { ok: true, value: value as ComputationOutput<ComputationNamed<ComputationsOf<TDefinition>, TName>> };
  }

  /**
   * Runs one computation on many inputs in process: at most `concurrency` at once, results in input order, each
   * item its own {@link Result} (a bad item fails alone). The outer result fails only for the whole call (unknown
   * computation, batch too large, deadline). Item errors are the sanitized errors a remote caller would see.
   *
   * @example
   * ```ts
   * const r = await node.computeBatch('add', [{ a: 1, b: 2 }, { a: 3, b: 4 }], { concurrency: 2 });
   * if (r.ok) for (const item of r.value) console.log(item.ok ? item.value : item.error.code);
   * ```
   */
  async computeBatch<TName extends ComputationName<ComputationsOf<TDefinition>>>(
    name: TName,
    inputs: readonly ComputationInput<ComputationNamed<ComputationsOf<TDefinition>, TName>>[],
    options: ComputeBatchOptions = {},
  ): Promise<Result<Result<ComputationOutput<ComputationNamed<ComputationsOf<TDefinition>, TName>>>[]>> {
    type Output = ComputationOutput<ComputationNamed<ComputationsOf<TDefinition>, TName>>;
    const { concurrency, ...call } = options;
    const response = await this.handle({ computation: name, batch: inputs, ...(concurrency === undefined ? {} : { concurrency }) }, call);
    if (!response.ok) return response;
    const items = 'results' in response.value ? response.value.results : [];
    return {
      ok: true,
      value: items.map((item): Result<Output> => {
        if (item.ok) return { ok: true, value: item.value as Output };
        return { ok: false, error: parseWireError({ error: item.error }, errorCodeInfo(item.error.code).httpStatus) };
      }),
    };
  }

  /** Figures per computation and per cache (also in `metrics().extra`). */
  stats(): ComputeStats {
    const computations: [string, ComputationStats][] = [];
    const cache: [string, ComputationCacheStats][] = [];
    for (const [name, r] of this.#registry) {
      computations.push([
        name,
        {
          runs: r.runs,
          failures: r.failures,
          slow: r.slow,
          slowThresholdMs: Number.isFinite(r.slowThresholdMs) ? r.slowThresholdMs : null,
          latency: r.latency.stats(),
        },
      ]);
      if (r.cache !== undefined) cache.push([name, { ...r.cache.stats(), uncacheable: r.uncacheable }]);
    }
    return { computations: Object.fromEntries(computations), cache: Object.fromEntries(cache) };
  }

  protected async process(request: ComputeRequest, ctx: CallContext): Promise<ResponseBody> {
    const registration = this.#registration(request.computation, ctx.correlationId);
    if (request.batch === undefined) return { result: await this.#run(registration, request.input, 'input', ctx) };
    return { results: await this.#runBatch(registration, request.batch, request.concurrency, ctx) };
  }

  /**
   * Runs one computation on a validated input (cache misses only). Override to wrap every run — tracing,
   * profiling, a worker pool — and call `super.execute(...)` (or `computation.compute`) inside.
   *
   * @example
   * ```ts
   * const add = defineComputation({ name: 'add', input: z.object({ a: z.number(), b: z.number() }), output: z.number(), compute: ({ a, b }) => a + b });
   * const math = defineComputeNode({ name: 'math', version: '1.0.0', computations: [add] });
   * const runs: string[] = []; // a profiler's spans, say
   *
   * class ProfiledNode extends NodeCompute<typeof math> {
   *   protected override execute(computation: AnyComputation, input: unknown, ctx: ComputeContext): unknown {
   *     runs.push(`${computation.name} (call ${ctx.correlationId})`);
   *     return super.execute(computation, input, ctx);
   *   }
   * }
   * const node = new ProfiledNode(math, { logger: createSilentLogger() });
   * await node.initialize();
   * await node.compute('add', { a: 1, b: 2 }); // { ok: true, value: 3 }
   * console.log(runs); // ['add (call <its correlation id>)']
   * await node.shutdown();
   * ```
   */
  protected execute(computation: AnyComputation, input: unknown, ctx: ComputeContext): unknown {
    return computation.compute(input, ctx);
  }

  /**
   * Reports a run slower than its threshold. Default: a `warn` line on the call's logger with the warning's code,
   * computation, `durationMs` and `thresholdMs`. Override to send it elsewhere too; it must not throw.
   *
   * @example
   * ```ts
   * const spin = defineComputation({
   *   name: 'spin', input: z.number(), output: z.number(), slowThresholdMs: 1,
   *   compute: (ms) => { const until = performance.now() + ms; while (performance.now() < until); return ms; }, // busy for `ms`
   * });
   * const spinner = defineComputeNode({ name: 'spinner', version: '1.0.0', computations: [spin] });
   * const slowRuns = new Map<string, number>(); // a counter by computation, as a metrics library offers one
   *
   * class ReportingNode extends NodeCompute<typeof spinner> {
   *   protected override onSlowComputation(warning: OnexWarning, ctx: CallContext): void {
   *     super.onSlowComputation(warning, ctx); // the default warn line
   *     const computation = String(warning.context['computation']);
   *     slowRuns.set(computation, (slowRuns.get(computation) ?? 0) + 1);
   *   }
   * }
   * const node = new ReportingNode(spinner, { logger: createSilentLogger() });
   * await node.initialize();
   * await node.compute('spin', 5); // 5 ms > its 1 ms threshold
   * console.log(slowRuns.get('spin')); // 1
   * await node.shutdown();
   * ```
   */
  protected onSlowComputation(warning: OnexWarning, ctx: CallContext): void {
    ctx.logger.warn({ code: warning.code, ...warning.context }, warning.message);
  }

  /** Adds `computations` (how many, and which are cached) to the node's health. */
  protected override async componentHealth(): Promise<Record<string, ComponentHealth>> {
    const cached = [...this.#registry.values()].filter((r) => r.cache !== undefined).map((r) => r.computation.name);
    return {
      computations: { status: HealthStatus.Healthy, data: { count: this.#registry.size, names: [...this.#registry.keys()], cached } },
    };
  }

  /** Adds {@link ComputeStats} (`computations` and `cache`) to `metrics().extra`. */
  protected override extraMetrics(): Record<string, unknown> {
    return { ...this.stats() };
  }

  /** Drops every cached result. */
  protected override async onShutdown(): Promise<void> {
    for (const r of this.#registry.values()) r.cache?.clear();
  }

  /** The kind's Prometheus families, labelled by computation, read from the registrations at scrape time. */
  #registerMetrics(): void {
    const perComputation = (name: string, help: string, value: (r: Registration) => number): void =>
      this.prometheus.counter({
        name,
        help,
        labelNames: ['computation'],
        collect: (emit) => this.#registry.forEach((r, computation) => emit({ computation }, value(r))),
      });
    const perCache = (name: string, help: string, type: 'counter' | 'gauge', value: (c: ComputationCacheStats) => number): void =>
      this.prometheus[type]({
        name,
        help,
        labelNames: ['computation'],
        collect: (emit) =>
          this.#registry.forEach((r, computation) => {
            if (r.cache !== undefined) emit({ computation }, value({ ...r.cache.stats(), uncacheable: r.uncacheable }));
          }),
      });
    perComputation('onex_compute_runs_total', 'Times each computation ran (answers from the cache are not runs).', (r) => r.runs);
    perComputation('onex_compute_run_failures_total', 'Runs that threw or produced output breaking the output schema.', (r) => r.failures);
    perComputation('onex_compute_slow_runs_total', 'Runs slower than the computation’s slowThresholdMs.', (r) => r.slow);
    this.prometheus.histogram({
      name: 'onex_compute_run_duration_seconds',
      help: 'Duration of each run of a computation function (cache hits, validation and batching excluded).',
      labelNames: ['computation'],
      collect: (emit) => this.#registry.forEach((r, computation) => emit({ computation }, r.duration)),
    });
    perCache('onex_compute_cache_hits_total', 'Calls answered from the computation’s result cache.', 'counter', (c) => c.hits);
    perCache('onex_compute_cache_misses_total', 'Cache lookups that found nothing valid (expired entries included).', 'counter', (c) => c.misses);
    perCache('onex_compute_cache_evictions_total', 'Cache entries dropped to make room for a new one.', 'counter', (c) => c.evictions);
    perCache('onex_compute_cache_expirations_total', 'Cache entries dropped because their TTL had passed.', 'counter', (c) => c.expirations);
    perCache('onex_compute_cache_uncacheable_total', 'Calls whose input had no canonical form, computed without the cache.', 'counter', (c) => c.uncacheable);
    perCache('onex_compute_cache_entries', 'Entries held in the computation’s result cache.', 'gauge', (c) => c.size);
    perCache('onex_compute_cache_max_entries', 'The size bound of the computation’s result cache.', 'gauge', (c) => c.maxEntries);
  }

  #registration(name: string, correlationId: string): Registration {
    const registration = this.#registry.get(name);
    if (registration !== undefined) return registration;
    throw new OnexError(ErrorCode.NotFound, `Unknown computation ${quoteName(name)} on node '${this.name}'`, {
      correlationId,
      context: { computation: name.slice(0, 128) },
    });
  }

  /** Validates, answers from the cache or runs, validates the output. Throws an {@link OnexError}. */
  async #run(registration: Registration, raw: unknown, path: string, ctx: CallContext): Promise<unknown> {
    const { computation, cache } = registration;
    const parsed = computation.input.safeParse(raw);
    if (!parsed.success) {
      const details = validationDetails(parsed.error.issues).map((d) => ({ path: prefixPath(path, d.path), message: d.message }));
      const first = details[0];
      throw new OnexError(
        ErrorCode.Validation,
        `Invalid input for computation '${computation.name}': ${first === undefined ? path : `${first.path}: ${first.message}`}`,
        { correlationId: ctx.correlationId, details, context: { computation: computation.name } },
      );
    }
    let key: string | undefined;
    if (cache !== undefined) {
      key = stableKey(parsed.data);
      if (key === undefined) {
        registration.uncacheable += 1;
      } else {
        const hit = cache.get(key);
        if (hit !== undefined) return hit.value;
      }
    }
    const produced = await this.#execute(registration, parsed.data, ctx);
    const output = computation.output.safeParse(produced);
    if (!output.success) {
      registration.failures += 1;
      throw new OnexError(ErrorCode.Contract, `Computation '${computation.name}' produced output that breaks its schema`, {
        correlationId: ctx.correlationId,
        details: validationDetails(output.error.issues),
        context: { computation: computation.name },
      });
    }
    if (cache === undefined || key === undefined) return output.data;
    // Every later hit hands out this very object: freeze it so no caller can change another's result.
    const value = deepFreeze(output.data);
    cache.set(key, { value });
    return value;
  }

  async #execute(registration: Registration, input: unknown, ctx: CallContext): Promise<unknown> {
    const { computation } = registration;
    const computeContext: ComputeContext = { computation: computation.name, correlationId: ctx.correlationId, signal: ctx.signal, logger: ctx.logger };
    const started = performance.now();
    let failed = true;
    try {
      const pending = this.execute(computation, input, computeContext);
      const produced = isPromiseLike(pending) ? await pending : pending;
      failed = false;
      return produced;
    } finally {
      const durationMs = performance.now() - started;
      registration.runs += 1;
      if (failed) registration.failures += 1;
      registration.latency.record(durationMs);
      registration.duration.record(durationMs);
      if (durationMs > registration.slowThresholdMs) this.#reportSlow(registration, durationMs, ctx);
    }
  }

  #reportSlow(registration: Registration, durationMs: number, ctx: CallContext): void {
    registration.slow += 1;
    const name = registration.computation.name;
    const rounded = Math.round(durationMs * 10) / 10;
    const warning = new OnexWarning(SLOW_COMPUTATION, `computation '${name}' took ${rounded} ms (threshold ${registration.slowThresholdMs} ms)`, {
      computation: name,
      durationMs: rounded,
      thresholdMs: registration.slowThresholdMs,
    });
    try {
      this.onSlowComputation(warning, ctx);
    } catch (error) {
      // Reporting must never fail a computation that succeeded.
      ctx.logger.error({ err: error }, 'onSlowComputation threw');
    }
  }

  async #runBatch(registration: Registration, batch: readonly unknown[], requested: number | undefined, ctx: CallContext): Promise<BatchItemResult[]> {
    const name = registration.computation.name;
    if (batch.length > this.#maxBatchSize) {
      throw new OnexError(ErrorCode.PayloadTooLarge, `Batch of ${batch.length} inputs exceeds the limit of ${this.#maxBatchSize}`, {
        correlationId: ctx.correlationId,
        context: { computation: name, size: batch.length, limit: this.#maxBatchSize },
      });
    }
    const concurrency = Math.min(requested ?? this.#batchConcurrency, this.#batchConcurrency);
    const failuresByCode = new Map<string, number>();
    let failed = 0;
    const results = await mapConcurrent(
      batch,
      async (raw, index): Promise<BatchItemResult> => {
        try {
          return { ok: true, value: await this.#run(registration, raw, `batch.${index}`, ctx) };
        } catch (error) {
          const onex = toOnexError(error, { correlationId: ctx.correlationId });
          failed += 1;
          failuresByCode.set(onex.code, (failuresByCode.get(onex.code) ?? 0) + 1);
          if (onex.httpStatus >= 500 && failed <= LOGGED_ITEM_FAILURES) {
            ctx.logger.error({ err: error, code: onex.code, computation: name, index }, `batch item ${index} failed: ${onex.message}`);
          }
          return { ok: false, error: this.#itemError(onex) };
        }
      },
      { concurrency, signal: ctx.signal },
    );
    if (failed > 0) {
      ctx.logger.warn({ computation: name, failed, total: batch.length, failuresByCode: Object.fromEntries(failuresByCode) }, `batch: ${failed} of ${batch.length} items failed`);
    }
    return results;
  }

  #itemError(error: OnexError): BatchItemError {
    const { details, context, stack: _stack, ...rest } = toWireError(error, { sanitize: this.sanitizer.forWire }).error;
    return { ...rest, ...(details === undefined ? {} : { details: [...details] }), ...(context === undefined ? {} : { context: { ...context } }) };
  }
}
