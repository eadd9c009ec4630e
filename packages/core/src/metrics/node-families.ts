import type { OperationSeries } from './call-series.js';
import { CallOutcome } from './call-series.js';
import type { PrometheusMetrics } from './prometheus-metrics.js';

/** Health as the node families read it (a `NodeHealth` fits). */
interface HealthView {
  readonly status: string;
  readonly components: Readonly<Record<string, { readonly status: string }>>;
}

/** What a node shows to the core families, read at scrape time. */
export interface NodeFigures {
  readonly kind: string;
  readonly version: string;
  /** Every lifecycle status and every health status: statesets show each, 1 for the current one. */
  readonly lifecycleStatuses: readonly string[];
  readonly healthStatuses: readonly string[];
  /** `null` when unlimited. */
  readonly maxConcurrency: number | null;
  readonly calls: OperationSeries;
  lifecycle(): string;
  uptimeSeconds(): number;
  inFlight(): number;
  health(): Promise<HealthView>;
}

/**
 * Registers the families every node has: identity, lifecycle, health, capacity, and calls by operation (counts by
 * outcome, errors by code, a duration histogram).
 */
export function registerNodeFamilies(metrics: PrometheusMetrics, figures: NodeFigures): void {
  // One health() per scrape for the two families that read it: both collects start before either settles.
  let pending: Promise<HealthView> | undefined;
  const health = (): Promise<HealthView> =>
    (pending ??= figures.health().finally(() => {
      pending = undefined;
    }));

  metrics.gauge({
    name: 'onex_node_info',
    help: 'Always 1: the kind and contract version of the node.',
    labelNames: ['kind', 'version'],
    collect: (emit) => emit({ kind: figures.kind, version: figures.version }, 1),
  });
  metrics.gauge({
    name: 'onex_node_lifecycle_status',
    help: 'Lifecycle of the node: 1 for its current status, 0 for the others.',
    labelNames: ['status'],
    collect: (emit) => {
      const current = figures.lifecycle();
      for (const status of figures.lifecycleStatuses) emit({ status }, status === current ? 1 : 0);
    },
  });
  metrics.gauge({
    name: 'onex_node_health_status',
    help: 'Health of the node, as GET /health reports it: 1 for its current status, 0 for the others.',
    labelNames: ['status'],
    collect: async (emit) => {
      const { status: current } = await health();
      for (const status of figures.healthStatuses) emit({ status }, status === current ? 1 : 0);
    },
  });
  metrics.gauge({
    name: 'onex_node_component_health_status',
    help: 'Health of each component of the node (store, peers, breaker…): 1 for its current status, 0 for the others.',
    labelNames: ['component', 'status'],
    collect: async (emit) => {
      const { components } = await health();
      for (const [component, { status: current }] of Object.entries(components)) {
        for (const status of figures.healthStatuses) emit({ component, status }, status === current ? 1 : 0);
      }
    },
  });
  metrics.gauge({
    name: 'onex_node_uptime_seconds',
    help: 'Time since the node became ready (0 when it is not ready).',
    collect: (emit) => emit({}, figures.uptimeSeconds()),
  });
  metrics.gauge({
    name: 'onex_node_calls_in_flight',
    help: 'Calls running now.',
    collect: (emit) => emit({}, figures.inFlight()),
  });
  metrics.gauge({
    name: 'onex_node_max_concurrency',
    help: 'Calls the node runs at once before refusing new ones with OVERLOADED (absent when unlimited).',
    collect: (emit) => {
      if (figures.maxConcurrency !== null) emit({}, figures.maxConcurrency);
    },
  });
  metrics.counter({
    name: 'onex_node_calls_total',
    help: 'Calls by operation and outcome: success, failure, or rejected before running (lifecycle, concurrency limit).',
    labelNames: ['operation', 'outcome'],
    collect: (emit) => {
      for (const [operation, series] of figures.calls.entries()) {
        emit({ operation, outcome: CallOutcome.Success }, series.successes);
        emit({ operation, outcome: CallOutcome.Failure }, series.failures);
        emit({ operation, outcome: CallOutcome.Rejected }, series.rejected);
      }
    },
  });
  metrics.counter({
    name: 'onex_node_call_errors_total',
    help: 'Failed and rejected calls by operation and ONEX error code.',
    labelNames: ['operation', 'code'],
    collect: (emit) => {
      for (const [operation, series] of figures.calls.entries()) {
        for (const [code, count] of series.errorsByCode) emit({ operation, code }, count);
      }
    },
  });
  metrics.histogram({
    name: 'onex_node_call_duration_seconds',
    help: 'Duration of calls that ran (validation, process and output check), by operation.',
    labelNames: ['operation'],
    buckets: figures.calls.unlabeled.duration.bounds,
    collect: (emit) => {
      for (const [operation, series] of figures.calls.entries()) emit({ operation }, series.duration);
    },
  });
}
