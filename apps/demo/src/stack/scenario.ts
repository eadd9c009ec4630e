import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, isOnexError, RetryPolicy, type ClientAuthOptions } from '@onex/core';
import type { WorkflowOutcome, WorkflowStatus } from '@onex/orchestrator';
import { SHIP_TIMEOUT_MS, SHIPPED_SIGNAL, type Shipped } from '../domain/fulfilment-workflow.js';
import type { Order } from '../domain/order.js';
import { RECONCILE_SCHEDULE, RECONCILE_WORKFLOW, type Reconciliation } from '../domain/reconcile-workflow.js';
import { seededRandom } from '../runtime/seeded-random.js';
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
export const ScenarioName = {
  Happy: 'happy',
  Declines: 'declines',
  Outage: 'outage',
  Crash: 'crash',
  Shipping: 'shipping',
  Mixed: 'mixed',
  All: 'all',
  Failover: 'failover',
} as const;
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
  /**
   * Share of orders the warehouse confirms late (its `shipped` signal comes after the wait timed out: the saga had
   * refunded them, and the late signal is refused), and share it never confirms. The others are confirmed at once,
   * often before the workflow reaches its wait (the signal is kept for it), and sent twice (the copy is ignored).
   */
  readonly lateShipRate?: number;
  readonly neverShipRate?: number;
  /** How long the provider takes per request (default its own, 2–15 ms): slower keeps more workflows in flight. */
  readonly providerLatencyMs?: { readonly min: number; readonly max: number };
  /** A provider outage: starts once this share of the orders was submitted, lasts `durationMs`. */
  readonly outage?: { readonly at: number; readonly durationMs: number };
  /** SIGKILL the (first) orchestrator once this share was submitted; restart it after `downMs`. */
  readonly crash?: { readonly at: number; readonly downMs: number };
  /**
   * Replica faults, one after the other, from once this share was submitted (needs replicas: `--store postgres`):
   * SIGKILL the first orchestrator replica and restart it after `downMs`; SIGSTOP the other replica holding the most
   * unfinished workflows until its lease expired and the others took every one of them over, then SIGCONT; SIGKILL
   * the last replica of the payments node and restart it after `downMs`. The last orders are held back until the
   * second and the third fault are due, so that each meets workflows in flight however many orders run.
   */
  readonly failover?: { readonly at: number; readonly downMs: number };
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
  shipping: {
    description: `the warehouse confirms 15 % of shipments late and 10 % never: after ${SHIP_TIMEOUT_MS / 1000} s the saga refunds and releases them`,
    declineRate: 0,
    fraudRate: 0,
    damageRate: 0,
    lateShipRate: 0.15,
    neverShipRate: 0.1,
  },
  mixed: {
    description: 'a few declines, fraud refusals and damaged goods, plus a 2.5 s provider outage',
    declineRate: 0.05,
    fraudRate: 0.02,
    damageRate: 0.02,
    lateShipRate: 0.03,
    neverShipRate: 0.03,
    outage: { at: 0.35, durationMs: 2_500 },
  },
  all: {
    description: 'declines, fraud refusals, a provider outage and an orchestrator crash',
    declineRate: 0.08,
    fraudRate: 0.03,
    damageRate: 0.03,
    lateShipRate: 0.04,
    neverShipRate: 0.04,
    outage: { at: 0.25, durationMs: 2_000 },
    crash: { at: 0.6, downMs: 400 },
  },
  failover: {
    description: '(--store postgres) orchestrator replicas SIGKILLed, and SIGSTOPped past the lease until taken over; a payments replica SIGKILLed',
    declineRate: 0.04,
    fraudRate: 0.02,
    damageRate: 0.02,
    providerLatencyMs: { min: 40, max: 160 },
    failover: { at: 0.1, downMs: 1_000 },
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

/** Figures of one orchestrator instance, summed over its incarnations (a SIGKILL restarts its counters). */
export interface InstanceFigures {
  /** Workflows it started (a submission it took). */
  started: number;
  /** Workflows it claimed: resumed after its restart, taken over from another, or woken. */
  recovered: number;
  /** Runs it stopped because its lease was lost or could not be proven. */
  leaseLosses: number;
  /** Its writes the store refused: another epoch held the workflow. */
  fencedWrites: number;
}

/** Figures of the orchestrators, summed over instances and incarnations. */
export interface OrchestratorTotals {
  stepAttempts: number;
  stepRetries: number;
  compensationsRun: number;
  compensationsFailed: number;
  recovered: number;
  breakerOpenings: Record<string, number>;
  /** By instance id. */
  instances: Record<string, InstanceFigures>;
}

/** What the simulated warehouse did, and what the orchestrator answered. */
export interface ShippingFigures {
  /** Orders confirmed at once (signal and a duplicate), late, and never. */
  onTime: number;
  late: number;
  never: number;
  /** Signals the orchestrator answered as duplicates (the copies of on-time ones). */
  duplicates: number;
  /** Signals refused because the workflow had finished (late ones; on-time ones of orders that failed before). */
  refusedFinished: number;
}

/** The books checks the schedule started during the run. */
export interface ReconciliationFigures {
  readonly runs: number;
  readonly balanced: number;
  readonly unbalanced: number;
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
  /** When the run started, epoch ms (the ownership journals' times are epoch ms). */
  readonly startedAt: number;
  readonly shipping: ShippingFigures;
  readonly reconciliation: ReconciliationFigures;
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

interface WorkflowFigures extends InstanceFigures {
  readonly stepAttempts: number;
  readonly stepRetries: number;
  readonly compensationsRun: number;
  readonly compensationsFailed: number;
}

interface FiguresSample {
  readonly figures: WorkflowFigures;
  readonly breakers: BreakerReport;
}

/** From releasing the last orders to killing the payments replica: long enough for their first charges to be out. */
const EFFECT_KILL_DELAY_MS = 400;

/** The statuses of a workflow still to finish. */
const UNFINISHED = ['pending', 'running', 'compensating'] as const;

/** Reads an orchestrator's counters (metrics) and breaker openings, to add them up across a crash. */
async function orchestratorFigures(url: string, auth: { auth?: ClientAuthOptions }): Promise<FiguresSample> {
  const [metrics, breakers] = await Promise.all([
    requestJson<{ extra: { workflows: WorkflowFigures } }>(`${url}/metrics.json`, { timeoutMs: 3_000, ...auth }),
    requestJson<BreakerReport>(`${url}/v1/breakers`, { timeoutMs: 3_000, ...auth }),
  ]);
  return { figures: metrics.extra.workflows, breakers };
}

function addFigures(totals: OrchestratorTotals, instance: string, sample: FiguresSample): void {
  const { figures } = sample;
  totals.stepAttempts += figures.stepAttempts;
  totals.stepRetries += figures.stepRetries;
  totals.compensationsRun += figures.compensationsRun;
  totals.compensationsFailed += figures.compensationsFailed;
  totals.recovered += figures.recovered;
  for (const [key, count] of Object.entries(sample.breakers.openings)) totals.breakerOpenings[key] = (totals.breakerOpenings[key] ?? 0) + count;
  const mine = (totals.instances[instance] ??= { started: 0, recovered: 0, leaseLosses: 0, fencedWrites: 0 });
  mine.started += figures.started;
  mine.recovered += figures.recovered;
  mine.leaseLosses += figures.leaseLosses;
  mine.fencedWrites += figures.fencedWrites;
}

/** The breaker reports of a node's replicas as one: openings added up, the states of the last replica that knows. */
function mergeBreakers(reports: readonly BreakerReport[]): BreakerReport {
  const openings: Record<string, number> = {};
  const states: Record<string, string> = {};
  for (const report of reports) {
    for (const [key, count] of Object.entries(report.openings)) openings[key] = (openings[key] ?? 0) + count;
    Object.assign(states, report.states);
  }
  return { openings, states, transitions: reports.flatMap((r) => r.transitions) };
}

/** A one-shot latch: workers wait on it until the failover script opens it. */
class Gate {
  readonly opened: Promise<void>;
  open: () => void = () => undefined;

  constructor() {
    this.opened = new Promise<void>((resolve) => {
      this.open = resolve;
    });
  }
}

/** Waits until `done()` answers true or `limitMs` passed; true when done. A bound of the harness, not a margin. */
async function until(done: () => Promise<boolean>, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!(await done())) {
    if (Date.now() >= end) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Runs a scenario against a started stack: submits the orders with bounded concurrency — spread over the orchestrator
 * replicas, a call moving to the next replica when one fails or hangs — injects the plan's failures as the run
 * progresses, and waits for every workflow to end (across restarts and takeovers).
 */
/** The books checks started since `since` that finished, and what they found. */
async function reconciliationsSince(api: OrchestratorApi, since: number): Promise<ReconciliationFigures> {
  let balanced = 0;
  let unbalanced = 0;
  for (const summary of await ORCHESTRATOR_RETRY.execute(() => api.listType(RECONCILE_WORKFLOW), { deadlineAt: Date.now() + 10_000 })) {
    if (summary.createdAt < since || summary.status !== 'completed') continue;
    const outcome = await ORCHESTRATOR_RETRY.execute(() => api.result(summary.id, 1_000), { deadlineAt: Date.now() + 10_000 });
    if (outcome.status !== 'completed') continue;
    if ((outcome.output as Reconciliation).unbalanced.length === 0) balanced += 1;
    else unbalanced += 1;
  }
  return { runs: balanced + unbalanced, balanced, unbalanced };
}

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
  const replicas = stack.replicas(ServiceName.Orchestrator);
  if (plan.failover !== undefined && (replicas < 2 || stack.replicas(ServiceName.Payments) < 2)) {
    throw new Error(`scenario '${options.scenario}' needs orchestrator and payments replicas (--store postgres)`);
  }
  // Against replicas, short timeouts: a call stuck on a frozen replica moves on to another one soon.
  const auth = stack.authOption();
  const apis = stack.urls(ServiceName.Orchestrator).map((url) => new OrchestratorApi(url, replicas > 1 ? { timeoutMs: 3_000, ...auth } : auth));
  const resultWaitMs = replicas > 1 ? 3_000 : 30_000;
  const api = (replica: number): OrchestratorApi => apis[replica % apis.length] as OrchestratorApi;
  const instance = (replica: number): string => stack.orchestratorInstanceId(replica);
  await requestJson(`${providerUrl}/admin/config`, {
    body: { declineRate: plan.declineRate, outage: false, ...(plan.providerLatencyMs === undefined ? {} : { latencyMs: plan.providerLatencyMs }) },
  });
  await Promise.all(stack.urls(ServiceName.Inventory).map((url) => requestJson(`${url}/admin/config`, { body: { damageRate: plan.damageRate }, ...auth })));

  // The books check runs every 10 s while orders run (created once: the schedule id makes this idempotent).
  await ORCHESTRATOR_RETRY.execute(() => api(0).createSchedule({ ...RECONCILE_SCHEDULE, workflow: RECONCILE_WORKFLOW, input: {}, overlap: 'skip', catchUp: 'none' }), {
    deadlineAt: Date.now() + 30_000,
  });

  const orders = generateOrders({
    count: options.orders,
    seed: options.seed ?? 42,
    prefix: options.orderPrefix ?? `o${started.toString(36)}`,
    fraudRate: plan.fraudRate,
  });
  const totals: OrchestratorTotals = { stepAttempts: 0, stepRetries: 0, compensationsRun: 0, compensationsFailed: 0, recovered: 0, breakerOpenings: {}, instances: {} };
  const outcomes: OrderOutcome[] = [];
  const injections: Promise<void>[] = [];
  /** Runs an injection; its failure is kept for the end of the run (not an unhandled rejection meanwhile). */
  const injectNow = (injection: Promise<void>): void => {
    injection.catch(() => undefined);
    injections.push(injection);
  };
  // The failover's second and third faults each release a batch of held-back orders (see ScenarioPlan.failover).
  const concurrency = Math.max(1, options.concurrency ?? 16);
  const batch = Math.max(1, Math.min(concurrency, Math.floor(orders.length / 4)));
  const pauseGate = new Gate();
  const effectGate = new Gate();
  const gateOf = (index: number): Gate | undefined => {
    if (plan.failover === undefined) return undefined;
    if (index >= orders.length - batch) return effectGate;
    return index >= orders.length - 2 * batch ? pauseGate : undefined;
  };
  const shipping: ShippingFigures = { onTime: 0, late: 0, never: 0, duplicates: 0, refusedFinished: 0 };
  const shipRandom = seededRandom((options.seed ?? 42) + 1_000_003);
  const lateShipRate = plan.lateShipRate ?? 0;
  const neverShipRate = plan.neverShipRate ?? 0;
  /** The warehouse's `shipped` signal for an order: stored (or a duplicate), or refused once its workflow finished. */
  const ship = async (replica: number, workflowId: string, order: Order): Promise<void> => {
    const payload: Shipped = { carrier: 'postnord', trackingId: `TRK-${order.orderId.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(-20).padStart(6, '0')}` };
    try {
      const ack = await ORCHESTRATOR_RETRY.execute(() => api(replica).signal(workflowId, SHIPPED_SIGNAL, payload, `warehouse:${order.orderId}`), { deadlineAt: Date.now() + 60_000 });
      if (ack.duplicate) shipping.duplicates += 1;
    } catch (error) {
      if (isOnexError(error) && error.code === ErrorCode.Conflict) shipping.refusedFinished += 1;
      else throw error;
    }
  };
  /** Sends (or not) the order's shipment confirmation, by its fate. */
  const warehouse = (index: number, workflowId: string, order: Order): void => {
    const draw = shipRandom();
    if (draw < neverShipRate) {
      shipping.never += 1;
      return;
    }
    if (draw < neverShipRate + lateShipRate) {
      shipping.late += 1;
      injectNow(sleep(SHIP_TIMEOUT_MS + 1_500).then(() => ship(index, workflowId, order)));
      return;
    }
    shipping.onTime += 1;
    // At once (usually before the workflow reaches its wait: kept for it), and a copy, as a warehouse retrying would.
    injectNow(ship(index, workflowId, order).then(() => ship(index + 1, workflowId, order)));
  };
  let submitted = 0;
  let outageDone = plan.outage === undefined;
  let crashDone = plan.crash === undefined;
  let failoverDone = plan.failover === undefined;

  /** SIGKILLs an orchestrator replica, its figures read first (its counters die with it). */
  const killOrchestrator = async (replica: number): Promise<void> => {
    addFigures(totals, instance(replica), await orchestratorFigures(stack.url(ServiceName.Orchestrator, replica), auth));
    await stack.kill(ServiceName.Orchestrator, replica);
    note(`${stack.processName(ServiceName.Orchestrator, replica)} killed with SIGKILL (${outcomes.length} of ${orders.length} orders finished)`);
  };

  /** Unfinished workflows by owner, as a running replica reads them in the store. */
  const heldByOwner = async (reader: number): Promise<Map<string, string[]>> => {
    const held = new Map<string, string[]>();
    for (const summary of await api(reader).list({ status: UNFINISHED, limit: 10_000 })) {
      const owner = summary.owner ?? '?';
      held.set(owner, [...(held.get(owner) ?? []), summary.id]);
    }
    return held;
  };

  const failover = async (downMs: number): Promise<void> => {
    const leaseMs = stack.orchestratorLeaseMs;
    // 1. An orchestrator replica dies and comes back under its instance id: it resumes what it held.
    await killOrchestrator(0);
    await sleep(downMs);
    await stack.restart(ServiceName.Orchestrator, 0);
    note(`${stack.processName(ServiceName.Orchestrator, 0)} restarted: resumes its unfinished workflows`);

    // 2. Another replica freezes while holding workflows, past its lease: the others take them over.
    pauseGate.open();
    let target: { replica: number; ids: readonly string[] } | undefined;
    await until(async () => {
      const held = await heldByOwner(0);
      for (let replica = 1; replica < replicas; replica += 1) {
        const ids = held.get(instance(replica)) ?? [];
        if (ids.length > (target?.ids.length ?? 0)) target = { replica, ids };
      }
      return target !== undefined;
    }, 10_000);
    if (target === undefined) {
      note('no orchestrator replica holds a workflow: nothing to freeze');
    } else {
      const { replica, ids } = target;
      const name = stack.processName(ServiceName.Orchestrator, replica);
      stack.pause(ServiceName.Orchestrator, replica);
      const pausedAt = Date.now();
      note(`${name} frozen with SIGSTOP, holding ${ids.length} unfinished workflow${ids.length === 1 ? '' : 's'} (lease ${leaseMs} ms)`);
      // Until its lease has surely expired and none of what it held is still its own: taken over (or finished).
      const mine = new Set(ids);
      const takenOver = await until(async () => {
        if (Date.now() - pausedAt < leaseMs) return false;
        const held = await heldByOwner(0);
        return !(held.get(instance(replica)) ?? []).some((id) => mine.has(id));
      }, 4 * leaseMs + 10_000);
      stack.resume(ServiceName.Orchestrator, replica);
      note(`${name} continued with SIGCONT after ${((Date.now() - pausedAt) / 1000).toFixed(1)} s: ${takenOver ? 'the others had taken over what it held' : 'still holding workflows (not taken over in time)'}`);
    }

    // 3. An effect replica dies mid-call: the orchestrators' calls move to the other replica. The held-back orders
    // are let go first, and given the time to reach their charge.
    effectGate.open();
    await sleep(EFFECT_KILL_DELAY_MS);
    const payments = stack.replicas(ServiceName.Payments) - 1;
    await stack.kill(ServiceName.Payments, payments);
    note(`${stack.processName(ServiceName.Payments, payments)} killed with SIGKILL (${outcomes.length} of ${orders.length} orders finished)`);
    await sleep(downMs);
    await stack.restart(ServiceName.Payments, payments);
    note(`${stack.processName(ServiceName.Payments, payments)} restarted`);
  };

  const inject = (): void => {
    const share = submitted / orders.length;
    if (!outageDone && plan.outage !== undefined && share >= plan.outage.at) {
      outageDone = true;
      const { durationMs } = plan.outage;
      injectNow(
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
      injectNow(
        (async () => {
          await killOrchestrator(0);
          await sleep(downMs);
          await stack.restart(ServiceName.Orchestrator, 0);
          note(`${stack.processName(ServiceName.Orchestrator, 0)} restarted: resuming unfinished workflows`);
        })(),
      );
    }
    if (plan.failover !== undefined && share >= plan.failover.at) startFailover(plan.failover.downMs);
  };

  /** Starts the failover script, once (also before its share is reached, when an order waits on one of its gates). */
  function startFailover(downMs: number): void {
    if (failoverDone) return;
    failoverDone = true;
    injectNow(
      failover(downMs).finally(() => {
        // Whatever happened, no order stays held back.
        pauseGate.open();
        effectGate.open();
      }),
    );
  }

  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      const order = orders[index];
      if (order === undefined) return;
      const gate = gateOf(index);
      if (gate !== undefined && plan.failover !== undefined) {
        startFailover(plan.failover.downMs);
        await gate.opened;
      }
      const t0 = Date.now();
      submitted += 1;
      inject();
      // Transient failures (an orchestrator restarting, frozen or gone) are retried, each attempt on the next replica:
      // the order id makes the start idempotent, and any replica answers any workflow's result.
      let attempt = index;
      const workflowId = await ORCHESTRATOR_RETRY.execute(() => api(attempt++).submit(order), { deadlineAt: Date.now() + 60_000 });
      warehouse(index, workflowId, order);
      const result = (): Promise<WorkflowOutcome> => ORCHESTRATOR_RETRY.execute(() => api(attempt++).result(workflowId, resultWaitMs), { deadlineAt: Date.now() + 120_000 });
      // result() waits for the end: the outcome's status is a final one (its type says so).
      const outcome = await result();
      outcomes.push({ order, workflowId, status: outcome.status, latencyMs: Date.now() - t0 });
      options.onProgress?.(outcomes.length, orders.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  // An injection that failed (a replica that did not come back) fails the run, once the orders are done.
  await Promise.all(injections);
  for (let replica = 0; replica < replicas; replica += 1) {
    const url = stack.url(ServiceName.Orchestrator, replica);
    addFigures(totals, instance(replica), await ORCHESTRATOR_RETRY.execute(() => orchestratorFigures(url, auth), { deadlineAt: Date.now() + 10_000 }));
  }
  const payments = mergeBreakers(await Promise.all(stack.urls(ServiceName.Payments).map((url) => requestJson<BreakerReport>(`${url}/v1/breakers`, auth))));
  const reconciliation = await reconciliationsSince(api(0), started);
  return { scenario: options.scenario, outcomes, wallMs: Date.now() - started, orchestrator: totals, payments, events, startedAt: started, shipping, reconciliation };
}
