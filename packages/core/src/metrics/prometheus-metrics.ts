import type { Registry, RegistryContentType } from 'prom-client';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { BreakerState, type BreakerStats, type CircuitBreaker } from '../resilience/circuit-breaker.js';
import type { CircuitBreakerRegistry } from '../resilience/circuit-breaker-registry.js';
import { BucketHistogram, DEFAULT_DURATION_BUCKETS, type BucketStats } from './bucket-histogram.js';
import { attachSource, NODE_LABEL, newRegistry, type FamilyShape, type FamilyType } from './shared-family.js';

/**
 * The labels of one series, besides `node` (added for you).
 *
 * @example
 * ```ts
 * import type { MetricLabels } from '@onex/core';
 * const labels: MetricLabels<'computation'> = { computation: 'add' };
 * ```
 */
export type MetricLabels<TLabel extends string> = Readonly<Record<TLabel, string>>;

/**
 * Hands one series' value to a collected counter or gauge at scrape time.
 *
 * @example
 * ```ts
 * import type { MetricEmit } from '@onex/core';
 * const report = (emit: MetricEmit<'computation'>) => emit({ computation: 'add' }, 3);
 * ```
 */
export type MetricEmit<TLabel extends string> = (labels: MetricLabels<TLabel>, value: number) => void;

/**
 * Hands one series' histogram to a collected histogram at scrape time.
 *
 * @example
 * ```ts
 * import { BucketHistogram, type HistogramEmit } from '@onex/core';
 * const latency = new BucketHistogram();
 * const report = (emit: HistogramEmit<'step'>) => emit({ step: 'charge' }, latency);
 * ```
 */
export type HistogramEmit<TLabel extends string> = (labels: MetricLabels<TLabel>, histogram: BucketHistogram) => void;

/**
 * A counter or gauge whose values are read when Prometheus scrapes, from figures the node keeps anyway: nothing is
 * counted twice on the call path. Counters must only go up (a node's own counters since it started).
 *
 * @example
 * ```ts
 * import type { CollectedMetric } from '@onex/core';
 * const figures = { hits: new Map([['add', 3]]) };
 * const hits: CollectedMetric<'computation'> = {
 *   name: 'onex_compute_cache_hits_total',
 *   help: 'Calls answered from the result cache.',
 *   labelNames: ['computation'],
 *   collect: (emit) => figures.hits.forEach((value, computation) => emit({ computation }, value)),
 * };
 * ```
 */
export interface CollectedMetric<TLabel extends string = never> {
  /** A Prometheus metric name (`onex_<kind>_<what>`, `_total` for counters, base units such as `_seconds`). */
  readonly name: string;
  readonly help: string;
  /** Labels besides `node`, each from a bounded set (names in a definition, error codes, states). */
  readonly labelNames?: readonly TLabel[];
  /** Emits every series' current value; runs at each scrape. */
  collect(emit: MetricEmit<TLabel>): void | Promise<void>;
}

/**
 * A histogram read when Prometheus scrapes, from {@link BucketHistogram}s the node records into on its hot path.
 *
 * @example
 * ```ts
 * import { BucketHistogram, type CollectedHistogramMetric } from '@onex/core';
 * const steps = new Map([['charge', new BucketHistogram()]]);
 * const stepDuration: CollectedHistogramMetric<'step'> = {
 *   name: 'onex_orchestrator_step_duration_seconds',
 *   help: 'Duration of step attempts.',
 *   labelNames: ['step'],
 *   collect: (emit) => steps.forEach((histogram, step) => emit({ step }, histogram)),
 * };
 * ```
 */
export interface CollectedHistogramMetric<TLabel extends string = never> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly TLabel[];
  /** Upper bounds, seconds; every emitted histogram must have these. Default {@link DEFAULT_DURATION_BUCKETS}. */
  readonly buckets?: readonly number[];
  collect(emit: HistogramEmit<TLabel>): void | Promise<void>;
}

/**
 * Options of {@link PrometheusMetrics}.
 *
 * @example
 * ```ts
 * import type { PrometheusMetricsOptions } from '@onex/core';
 * const options: PrometheusMetricsOptions = { node: 'greeter-eu', registry: node.metricsRegistry };
 * ```
 */
export interface PrometheusMetricsOptions {
  /** The `node` label of every series. */
  readonly node: string;
  /** Where the metrics are registered. Default: a registry of their own (never prom-client's global one). */
  readonly registry?: Registry<RegistryContentType>;
  /** False once the node has stopped, so that another node may take its label in a shared registry. Default: always true. */
  readonly live?: () => boolean;
}

const RESERVED_LABELS: ReadonlySet<string> = new Set([NODE_LABEL, 'le', 'quantile']);
const BREAKER_STATES: readonly BreakerState[] = Object.values(BreakerState);

/**
 * One node's Prometheus metrics: the registry they are scraped from, labelled `node`, and the families a node kind
 * adds to the core ones (`NodeService` registers calls, errors, durations, lifecycle and health itself). A kind
 * declares its families once, in its constructor, through `this.prometheus`; their values are read at scrape time.
 *
 * Nodes sharing one registry share its families, each series labelled with its node: two live nodes with the same
 * `node` label in one registry are refused (a stopped one gives its label up).
 *
 * @example
 * ```ts
 * import { PrometheusMetrics } from '@onex/core';
 * const figures = { applied: 3 };
 * const metrics = new PrometheusMetrics({ node: 'orders' });
 * metrics.counter({ name: 'onex_reducer_applied_total', help: 'Events applied.', collect: (emit) => emit({}, figures.applied) });
 * console.log(await metrics.registry.metrics()); // ... onex_reducer_applied_total{node="orders"} 3
 * ```
 */
export class PrometheusMetrics {
  /** The `node` label of every series. */
  readonly node: string;
  readonly #live: () => boolean;
  readonly #breakers: (CircuitBreakerRegistry | CircuitBreaker)[] = [];
  #registry: Registry<RegistryContentType> | undefined;
  /** Families declared before the own registry was made, by name: attached when it is (no other can hold them). */
  readonly #pending = new Map<string, { readonly attach: (registry: Registry<RegistryContentType>) => void }>();

  constructor(options: PrometheusMetricsOptions) {
    if (options.node.length === 0) throw new OnexError(ErrorCode.Validation, 'The metrics node label must not be empty');
    this.node = options.node;
    this.#registry = options.registry;
    this.#live = options.live ?? (() => true);
  }

  /**
   * The prom-client registry the metrics are registered in: the one given, else a registry of their own, made (and
   * prom-client loaded) the first time it is read — a node nobody scrapes never loads prom-client.
   */
  get registry(): Registry<RegistryContentType> {
    if (this.#registry === undefined) {
      const registry = newRegistry();
      this.#registry = registry;
      for (const { attach } of this.#pending.values()) attach(registry);
      this.#pending.clear();
    }
    return this.#registry;
  }

  /**
   * Adds a counter read at scrape time.
   *
   * @throws OnexError `VALIDATION` for a reserved label (`node`, `le`, `quantile`), a name another metric of the
   *   registry holds, or a node label already reporting it.
   * @example
   * ```ts
   * import { PrometheusMetrics } from '@onex/core';
   * const metrics = new PrometheusMetrics({ node: 'orders' });
   * metrics.counter({ name: 'onex_reducer_restores_total', help: 'Restores done.', collect: (emit) => emit({}, 0) });
   * ```
   */
  counter<TLabel extends string = never>(metric: CollectedMetric<TLabel>): void {
    this.#attach<number, TLabel>('counter', metric, undefined, (emit) => metric.collect(emit));
  }

  /**
   * Adds a gauge read at scrape time.
   *
   * @throws OnexError `VALIDATION`, as {@link PrometheusMetrics.counter}.
   * @example
   * ```ts
   * import { PrometheusMetrics } from '@onex/core';
   * const queue: string[] = [];
   * const metrics = new PrometheusMetrics({ node: 'orders' });
   * metrics.gauge({ name: 'onex_reducer_busy_aggregates', help: 'Aggregates being applied now.', collect: (emit) => emit({}, queue.length) });
   * ```
   */
  gauge<TLabel extends string = never>(metric: CollectedMetric<TLabel>): void {
    this.#attach<number, TLabel>('gauge', metric, undefined, (emit) => metric.collect(emit));
  }

  /**
   * Adds a histogram read at scrape time from {@link BucketHistogram}s (record into them where the work happens).
   *
   * @throws OnexError `VALIDATION`, as {@link PrometheusMetrics.counter}, or for invalid buckets; a scrape fails
   *   when an emitted histogram has other buckets than the metric's.
   * @example
   * ```ts
   * import { BucketHistogram, PrometheusMetrics } from '@onex/core';
   * const waits = new BucketHistogram();
   * const metrics = new PrometheusMetrics({ node: 'checkout' });
   * metrics.histogram({ name: 'onex_orchestrator_queue_wait_seconds', help: 'Time workflows waited for a slot.', collect: (emit) => emit({}, waits) });
   * waits.record(12); // ms
   * ```
   */
  histogram<TLabel extends string = never>(metric: CollectedHistogramMetric<TLabel>): void {
    const buckets = new BucketHistogram(metric.buckets ?? DEFAULT_DURATION_BUCKETS).bounds;
    this.#attach<BucketStats, TLabel>('histogram', metric, buckets, (emit) =>
      metric.collect((labels, histogram) => {
        if (histogram.bounds.length !== buckets.length || histogram.bounds.some((b, i) => b !== buckets[i])) {
          throw new OnexError(ErrorCode.Internal, `Histogram emitted to '${metric.name}' does not have the metric's buckets`);
        }
        emit(labels, histogram.stats());
      }),
    );
  }

  /**
   * Adds the state and counters of every breaker of `source` (a registry: each breaker it holds, also those made
   * later; or one breaker), labelled `breaker` with the breaker's key. Call it for each registry the node owns.
   *
   * Families: `onex_circuit_breaker_state{breaker,state}` (1 for the breaker's state, 0 for the others),
   * `onex_circuit_breaker_calls_total{breaker,result}` (`success`, `failure`, `rejected`),
   * `onex_circuit_breaker_timeouts_total{breaker}`, `onex_circuit_breaker_openings_total{breaker}`.
   *
   * @example
   * ```ts
   * import { CircuitBreakerRegistry, PrometheusMetrics } from '@onex/core';
   * const peers = new CircuitBreakerRegistry();
   * const metrics = new PrometheusMetrics({ node: 'checkout' });
   * metrics.breakers(peers);
   * peers.get('payments');
   * console.log(await metrics.registry.metrics()); // ... onex_circuit_breaker_state{node="checkout",breaker="payments",state="closed"} 1
   * peers.shutdown();
   * ```
   */
  breakers(source: CircuitBreakerRegistry | CircuitBreaker): void {
    this.#breakers.push(source);
    if (this.#breakers.length > 1) return;
    const each = (fn: (stats: BreakerStats) => void): void => {
      for (const b of this.#breakers) {
        const stats = b.stats();
        if ('key' in stats) fn(stats);
        else stats.forEach((s) => fn(s));
      }
    };
    this.gauge({
      name: 'onex_circuit_breaker_state',
      help: 'State of each circuit breaker: 1 for its current state, 0 for the others.',
      labelNames: ['breaker', 'state'],
      collect: (emit) => each((s) => BREAKER_STATES.forEach((state) => emit({ breaker: s.key, state }, s.state === state ? 1 : 0))),
    });
    this.counter({
      name: 'onex_circuit_breaker_calls_total',
      help: 'Calls through each circuit breaker: succeeded, failed (timeouts included) or rejected while open.',
      labelNames: ['breaker', 'result'],
      collect: (emit) =>
        each((s) => {
          emit({ breaker: s.key, result: 'success' }, s.successes);
          emit({ breaker: s.key, result: 'failure' }, s.failures);
          emit({ breaker: s.key, result: 'rejected' }, s.rejections);
        }),
    });
    this.counter({
      name: 'onex_circuit_breaker_timeouts_total',
      help: "Calls that exceeded the breaker's timeout (also counted as failures).",
      labelNames: ['breaker'],
      collect: (emit) => each((s) => emit({ breaker: s.key }, s.timeouts)),
    });
    this.counter({
      name: 'onex_circuit_breaker_openings_total',
      help: 'Times each circuit breaker opened.',
      labelNames: ['breaker'],
      collect: (emit) => each((s) => emit({ breaker: s.key }, s.openings)),
    });
  }

  #attach<TValue, TLabel extends string>(
    type: FamilyType,
    metric: { readonly name: string; readonly help: string; readonly labelNames?: readonly TLabel[] },
    buckets: readonly number[] | undefined,
    collect: (emit: (labels: MetricLabels<TLabel>, value: TValue) => void) => void | Promise<void>,
  ): void {
    const labelNames = [...(metric.labelNames ?? [])];
    const reserved = labelNames.find((l) => RESERVED_LABELS.has(l));
    if (reserved !== undefined) {
      throw new OnexError(ErrorCode.Validation, `Label '${reserved}' of metric '${metric.name}' is reserved`, { context: { metric: metric.name } });
    }
    const shape: FamilyShape = { type, name: metric.name, help: metric.help, labelNames, ...(buckets === undefined ? {} : { buckets }) };
    const attach = (registry: Registry<RegistryContentType>): void =>
      attachSource<TValue>(registry, shape, {
        node: this.node,
        live: this.#live,
        collect: (sink) => collect((labels, value) => sink(labels, value)),
      });
    if (this.#registry !== undefined) {
      attach(this.#registry);
      return;
    }
    // The own registry is not made yet, so it will hold only what is declared here: a name declared twice is what
    // attachSource checks (another shape, or this node reporting it already), so it is attached for real.
    if (this.#pending.has(shape.name)) {
      attach(this.registry);
      return;
    }
    this.#pending.set(shape.name, { attach });
  }
}
