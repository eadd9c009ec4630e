import { BucketHistogram, type CircuitBreakerRegistry, type PrometheusMetrics } from '@onex/core';
import type { AnyWorkflowDefinition } from '../workflow/definition.js';
import type { RunCounters } from './workflow-run.js';

/**
 * Step-attempt and workflow durations in Prometheus buckets, one {@link BucketHistogram} per workflow type and per
 * (type, step) of the registered definitions: label values come only from definitions, so the series are bounded.
 * Internal to the engine (not exported from the package).
 */
export class WorkflowDurations {
  readonly #steps = new Map<string, Map<string, BucketHistogram>>();
  readonly #workflows = new Map<string, BucketHistogram>();

  /** Adds the histograms of a definition's type and steps, and of the nested workflows it uses (idempotent). */
  add(definition: AnyWorkflowDefinition): void {
    if (!this.#workflows.has(definition.type)) this.#workflows.set(definition.type, new BucketHistogram());
    let steps = this.#steps.get(definition.type);
    if (steps === undefined) {
      steps = new Map();
      this.#steps.set(definition.type, steps);
    }
    for (const step of definition.steps) {
      if (!steps.has(step.name)) steps.set(step.name, new BucketHistogram());
      if (step.target.kind === 'workflow') this.add(step.target.workflow);
    }
  }

  /** Records one ended step attempt, ms; a type or step not registered is ignored. */
  recordStep(type: string, step: string, durationMs: number): void {
    this.#steps.get(type)?.get(step)?.record(durationMs);
  }

  /** Records one finished workflow, ms; a type not registered is ignored. */
  recordWorkflow(type: string, durationMs: number): void {
    this.#workflows.get(type)?.record(durationMs);
  }

  /** Visits every (type, step) histogram. */
  eachStep(fn: (workflow: string, step: string, histogram: BucketHistogram) => void): void {
    this.#steps.forEach((steps, workflow) => steps.forEach((histogram, step) => fn(workflow, step, histogram)));
  }

  /** Visits every workflow-type histogram. */
  eachWorkflow(fn: (workflow: string, histogram: BucketHistogram) => void): void {
    this.#workflows.forEach((histogram, workflow) => fn(workflow, histogram));
  }
}

/** What the orchestrator's Prometheus families read at scrape time. */
export interface OrchestratorMetricsSource {
  readonly breakers: CircuitBreakerRegistry;
  readonly durations: WorkflowDurations;
  readonly counters: Readonly<RunCounters>;
  readonly started: () => number;
  readonly finished: () => ReadonlyMap<string, number>;
  readonly running: () => number;
  readonly queued: () => number;
  readonly recovered: () => number;
  readonly leaseLosses: () => number;
}

/** Registers the orchestrator's Prometheus families; every value is read at scrape time from figures kept anyway. */
export function registerOrchestratorMetrics(prometheus: PrometheusMetrics, source: OrchestratorMetricsSource): void {
  prometheus.breakers(source.breakers);
  const counter = (name: string, help: string, value: () => number): void => prometheus.counter({ name, help, collect: (emit) => emit({}, value()) });
  const gauge = (name: string, help: string, value: () => number): void => prometheus.gauge({ name, help, collect: (emit) => emit({}, value()) });
  const { counters } = source;

  counter('onex_orchestrator_workflows_started_total', 'Workflows this instance started (created in the store; an idempotent repeat is not counted).', source.started);
  prometheus.counter({
    name: 'onex_orchestrator_workflows_finished_total',
    help: 'Workflows whose run on this instance finished, by final status.',
    labelNames: ['status'],
    collect: (emit) => source.finished().forEach((value, status) => emit({ status }, value)),
  });
  counter('onex_orchestrator_step_attempts_total', 'Step attempts dispatched by this instance (peer calls and nested-workflow starts).', () => counters.stepAttempts);
  counter('onex_orchestrator_step_retries_total', 'Step attempts that failed and were retried per the step’s retry policy.', () => counters.stepRetries);
  prometheus.counter({
    name: 'onex_orchestrator_compensations_total',
    help: 'Compensations: run (succeeded), failed (for good), or parked (the peer was unavailable; retried later).',
    labelNames: ['result'],
    collect: (emit) => {
      emit({ result: 'run' }, counters.compensationsRun);
      emit({ result: 'failed' }, counters.compensationsFailed);
      emit({ result: 'parked' }, counters.compensationsParked);
    },
  });
  counter(
    'onex_orchestrator_takeovers_total',
    'Workflows this instance claimed from the store: resumed after a restart, taken over from an expired lease, or woken when due (parked or delayed).',
    source.recovered,
  );
  counter('onex_orchestrator_lease_losses_total', 'Runs stopped because their lease was lost, or could not be proven (self-fencing).', source.leaseLosses);
  counter('onex_orchestrator_fenced_writes_total', 'Writes the store refused because another epoch holds the workflow (or it is finished).', () => counters.fencedWrites);
  gauge('onex_orchestrator_workflows_running', 'Workflows running on this instance now.', source.running);
  gauge('onex_orchestrator_workflows_queued', 'Workflows admitted on this instance and waiting for a run slot.', source.queued);

  prometheus.histogram({
    name: 'onex_orchestrator_step_duration_seconds',
    help: 'Duration of each step attempt, from dispatch to its answer or failure (a nested workflow step: the child’s run).',
    labelNames: ['workflow', 'step'],
    collect: (emit) => source.durations.eachStep((workflow, step, histogram) => emit({ workflow, step }, histogram)),
  });
  prometheus.histogram({
    name: 'onex_orchestrator_workflow_duration_seconds',
    help: 'Duration of workflows finished on this instance, from creation to their final status.',
    labelNames: ['workflow'],
    collect: (emit) => source.durations.eachWorkflow((workflow, histogram) => emit({ workflow }, histogram)),
  });
}
