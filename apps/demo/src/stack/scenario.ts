import { setTimeout as sleep } from 'node:timers/promises';
import { RetryPolicy } from '@onex/core';
import type { WorkflowOutcome, WorkflowStatus } from '@onex/orchestrator';
import type { Order } from '../domain/order.js';
import type { BreakerReport } from '../runtime/breaker-log.js';
import { requestJson } from './http-json.js';
import { OrchestratorApi } from './orchestrator-api.js';
import { generateOrders } from './orders.js';
import { ServiceName, type Stack } from './stack.js';

/**
 * Calls to the orchestrator ride out its restart in the crash scenarios (down for ~0.5 s, then about a second to
 * start): first retries within 100 ms, then at most a second apart. The default classification is the right one:
 * a refused or dropped connection (UNAVAILABLE), a long poll that ended with the workflow still running (TIMEOUT)
 * and a node still starting (LIFECYCLE) are retried; a refusal (VALIDATION, CONFLICT) is not. Each call passes a deadline, and that is the
 * bound: `maxAttempts` is only a backstop.
 */
const ORCHESTRATOR_RETRY = new RetryPolicy({ maxAttempts: 1_000, initialDelayMs: 100, maxDelayMs: 1_000 });

/** The failure mixes the launcher can inject. */
export const ScenarioName = { Happy: 'happy', Declines: 'declines', Outage: 'outage', Crash: 'crash', Mixed: 'mixed', All: 'all' } as const;
/** One of the {@link ScenarioName} values. */
export type ScenarioName = (typeof ScenarioName)[keyof typeof ScenarioName];

/** What a scenario injects, and when (as a share of the orders submitted). */
export interface ScenarioPlan {
  readonly description: string;
  /** Share of charges the provider declines. */
  readonly declineRate: number;
  /** Share of orders from customers the fraud check refuses. */
  readonly fraudRate: number;
  /** Share of orders found damaged at shipping, after the charge: the saga refunds them. */
  readonly damageRate: number;
  /** A provider outage: starts once this share of the orders was submitted, lasts `durationMs`. */
  readonly outage?: { readonly at: number; readonly durationMs: number };
  /** SIGKILL the orchestrator once this share was submitted; restart it after `downMs`. */
  readonly crash?: { readonly at: number; readonly downMs: number };
}

/** The plans by name. */
export const SCENARIOS: Readonly<Record<ScenarioName, ScenarioPlan>> = {
  happy: { description: 'no failures injected', declineRate: 0, fraudRate: 0, damageRate: 0 },
  declines: {
    description: '15 % of charges declined, some fraud refusals and damaged goods: the saga releases stock and refunds',
    declineRate: 0.15,
    fraudRate: 0.02,
    damageRate: 0.03,
  },
  outage: { description: 'a 3 s payment-provider outage: breakers open, then recover', declineRate: 0, fraudRate: 0, damageRate: 0, outage: { at: 0.3, durationMs: 3_000 } },
  crash: { description: 'the orchestrator is SIGKILLed mid-run and restarted: workflows resume', declineRate: 0, fraudRate: 0, damageRate: 0, crash: { at: 0.4, downMs: 500 } },
  mixed: {
    description: 'a few declines, fraud refusals and damaged goods, plus a 2.5 s provider outage',
    declineRate: 0.05,
    fraudRate: 0.02,
    damageRate: 0.02,
    outage: { at: 0.35, durationMs: 2_500 },
  },
  all: {
    description: 'declines, fraud refusals, a provider outage and an orchestrator crash',
    declineRate: 0.08,
    fraudRate: 0.03,
    damageRate: 0.03,
    outage: { at: 0.25, durationMs: 2_000 },
    crash: { at: 0.6, downMs: 400 },
  },
};

/** One order's fate. */
export interface OrderOutcome {
  readonly order: Order;
  readonly workflowId: string;
  readonly status: WorkflowStatus;
  /** From submission to the outcome, as the client saw it, ms. */
  readonly latencyMs: number;
}

/** Figures of the orchestrator, summed over its incarnations (a crash restarts its counters). */
export interface OrchestratorTotals {
  stepAttempts: number;
  stepRetries: number;
  compensationsRun: number;
  compensationsFailed: number;
  recovered: number;
  breakerOpenings: Record<string, number>;
}

/** Everything a scenario run produced. */
export interface ScenarioResult {
  readonly scenario: ScenarioName;
  readonly outcomes: readonly OrderOutcome[];
  readonly wallMs: number;
  readonly orchestrator: OrchestratorTotals;
  readonly payments: BreakerReport;
  /** What happened when, relative to the start, for the summary. */
  readonly events: readonly { readonly atMs: number; readonly what: string }[];
}

/** Options of {@link runScenario}. */
export interface RunScenarioOptions {
  readonly stack: Stack;
  readonly scenario: ScenarioName;
  readonly orders: number;
  readonly concurrency?: number;
  readonly seed?: number;
  /** Prefix of the order ids (default: unique per run, so runs on kept data do not collide). */
  readonly orderPrefix?: string;
  /** Replaces the named scenario's plan (tests). */
  readonly plan?: ScenarioPlan;
  /** Called after each order finishes (progress bar). */
  readonly onProgress?: (done: number, total: number) => void;
  /** Called when something is injected. */
  readonly onEvent?: (what: string) => void;
}

interface WorkflowFigures {
  readonly stepAttempts: number;
  readonly stepRetries: number;
  readonly compensationsRun: number;
  readonly compensationsFailed: number;
  readonly recovered: number;
}

/** Reads the orchestrator's counters (metrics) and breaker openings, to add them up across a crash. */
async function orchestratorFigures(url: string): Promise<{ figures: WorkflowFigures; breakers: BreakerReport }> {
  const [metrics, breakers] = await Promise.all([
    requestJson<{ extra: { workflows: WorkflowFigures } }>(`${url}/metrics`),
    requestJson<BreakerReport>(`${url}/v1/breakers`),
  ]);
  return { figures: metrics.extra.workflows, breakers };
}

function addFigures(totals: OrchestratorTotals, sample: { figures: WorkflowFigures; breakers: BreakerReport }): void {
  totals.stepAttempts += sample.figures.stepAttempts;
  totals.stepRetries += sample.figures.stepRetries;
  totals.compensationsRun += sample.figures.compensationsRun;
  totals.compensationsFailed += sample.figures.compensationsFailed;
  totals.recovered += sample.figures.recovered;
  for (const [key, count] of Object.entries(sample.breakers.openings)) totals.breakerOpenings[key] = (totals.breakerOpenings[key] ?? 0) + count;
}

/**
 * Runs a scenario against a started stack: submits the orders with bounded concurrency, injects the plan's failures
 * as the run progresses, and waits for every workflow to end (across an orchestrator restart).
 */
export async function runScenario(options: RunScenarioOptions): Promise<ScenarioResult> {
  const { stack } = options;
  const plan = options.plan ?? SCENARIOS[options.scenario];
  const started = Date.now();
  const events: { atMs: number; what: string }[] = [];
  const note = (what: string): void => {
    events.push({ atMs: Date.now() - started, what });
    options.onEvent?.(what);
  };
  const providerUrl = stack.url(ServiceName.Provider);
  const orchestratorUrl = stack.url(ServiceName.Orchestrator);
  const orchestratorPort = Number(new URL(orchestratorUrl).port);
  const api = new OrchestratorApi(orchestratorUrl);
  await requestJson(`${providerUrl}/admin/config`, { body: { declineRate: plan.declineRate, outage: false } });
  await requestJson(`${stack.url(ServiceName.Inventory)}/admin/config`, { body: { damageRate: plan.damageRate } });

  const orders = generateOrders({
    count: options.orders,
    seed: options.seed ?? 42,
    prefix: options.orderPrefix ?? `o${started.toString(36)}`,
    fraudRate: plan.fraudRate,
  });
  const totals: OrchestratorTotals = { stepAttempts: 0, stepRetries: 0, compensationsRun: 0, compensationsFailed: 0, recovered: 0, breakerOpenings: {} };
  const outcomes: OrderOutcome[] = [];
  const injections: Promise<void>[] = [];
  let submitted = 0;
  let outageDone = plan.outage === undefined;
  let crashDone = plan.crash === undefined;
  let restarting: Promise<void> | undefined;

  const inject = (): void => {
    const share = submitted / orders.length;
    if (!outageDone && plan.outage !== undefined && share >= plan.outage.at) {
      outageDone = true;
      const { durationMs } = plan.outage;
      injections.push(
        (async () => {
          await requestJson(`${providerUrl}/admin/config`, { body: { outage: true } });
          note(`payment provider outage starts (${durationMs} ms)`);
          await sleep(durationMs);
          await requestJson(`${providerUrl}/admin/config`, { body: { outage: false } });
          note('payment provider is back');
        })(),
      );
    }
    if (!crashDone && plan.crash !== undefined && share >= plan.crash.at) {
      crashDone = true;
      const { downMs } = plan.crash;
      restarting = (async () => {
        addFigures(totals, await orchestratorFigures(orchestratorUrl));
        await stack.killOrchestrator();
        note(`orchestrator killed with SIGKILL (${outcomes.length} of ${orders.length} orders finished)`);
        await sleep(downMs);
        await stack.restartOrchestrator(orchestratorPort);
        note('orchestrator restarted: resuming unfinished workflows');
      })();
      injections.push(restarting);
    }
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      const order = orders[index];
      if (order === undefined) return;
      const t0 = Date.now();
      submitted += 1;
      inject();
      // Transient failures (the orchestrator is being restarted) are retried: the order id makes the start idempotent.
      const workflowId = await ORCHESTRATOR_RETRY.execute(() => api.submit(order), { deadlineAt: Date.now() + 60_000 });
      const result = (): Promise<WorkflowOutcome> => ORCHESTRATOR_RETRY.execute(() => api.result(workflowId, 30_000), { deadlineAt: Date.now() + 120_000 });
      let outcome = await result();
      // A result that came back `pending`/`running` cannot happen: result() waits for the end. Guard anyway.
      while (outcome.status === 'pending' || outcome.status === 'running' || outcome.status === 'compensating') {
        await sleep(100);
        outcome = await result();
      }
      outcomes.push({ order, workflowId, status: outcome.status, latencyMs: Date.now() - t0 });
      options.onProgress?.(outcomes.length, orders.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 16) }, () => worker()));
  await Promise.all(injections);
  if (restarting !== undefined) await restarting;
  addFigures(totals, await ORCHESTRATOR_RETRY.execute(() => orchestratorFigures(stack.url(ServiceName.Orchestrator)), { deadlineAt: Date.now() + 10_000 }));
  const payments = await requestJson<BreakerReport>(`${stack.url(ServiceName.Payments)}/v1/breakers`);
  return { scenario: options.scenario, outcomes, wallMs: Date.now() - started, orchestrator: totals, payments, events };
}
