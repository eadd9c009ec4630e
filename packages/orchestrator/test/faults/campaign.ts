// One seed of the fault campaign: N orchestrator instances share one store (memory or SQLite) and four effect
// peers; W saga workflows are started while instances crash and restart, the shared clock jumps past leases, the
// store fails, stalls and loses answers, and the peers refuse, hang, time out after applying and answer garbage.
// Then faults stop, the campaign waits (bounded) for every workflow to end, shuts every instance down and checks
// the invariants. The fault schedule and every workflow's planned refusals are functions of the seed; timing is
// real, so the interleavings differ between runs of one seed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSilentLogger, sleep, type Clock } from '@onex/core';
import { z } from 'zod';
import { freshSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import { defineOrchestrator, defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, type WorkflowStatus } from '../../src/index.js';
import { PostgresWorkflowStore } from '../../src/postgres.js';
import { SqliteWorkflowStore } from '../../src/sqlite.js';
import { isTerminalStatus, type WorkflowRecord } from '../../src/store/workflow-record.js';
import type { WorkflowStore } from '../../src/store/workflow-store.js';
import { EffectLedger, effectContract, FaultyPeerClient, startPeers, type EffectInput, type EffectPeer } from './effect-peers.js';
import { FencingObserver, FaultStore, type StoreMutant } from './fault-store.js';
import { DEFAULT_FAULT_RATES, FaultKind, FaultSwitch, FaultTally, type FaultRates } from './faults.js';
import { checkInvariants, countByInvariant, Invariant, type Violation } from './invariants.js';
import { Prng } from './prng.js';

const STEP_TIMEOUT_MS = 50;
const STEP_RETRY = { maxAttempts: 3, initialDelayMs: 2, maxDelayMs: 10 };

const Refusable = z.enum(['reserve', 'charge', 'ship', 'loyalty', 'reserve:undo', 'charge:undo', 'loyalty:undo']);
/** A saga's input: its number, and which calls the peers will refuse definitely. */
export const SagaInput = z.object({ n: z.number().int(), refuse: z.array(Refusable) });
export type SagaInput = z.infer<typeof SagaInput>;
const SagaOutput = z.object({ refs: z.array(z.string()) });

function effectCall(workflowId: string, step: string, op: EffectInput['op'], input: SagaInput): EffectInput {
  const refused: string = op === 'do' ? step : `${step}:undo`;
  return { workflowId, step, op, amount: input.n, refuse: input.refuse.some((r) => r === refused) };
}

const inventory = peer('inventory', effectContract);
const payments = peer('payments', effectContract);
const shipping = peer('shipping', effectContract);
const loyalty = peer('loyalty', effectContract);

/** reserve → charge → ship, with `loyalty` in parallel; reserve, charge and loyalty have compensations. */
export const faultSaga = defineWorkflow({ type: 'fault-saga', version: '1.0.0', input: SagaInput, output: SagaOutput })
  .step('reserve', {
    target: inventory,
    timeoutMs: STEP_TIMEOUT_MS,
    retry: STEP_RETRY,
    input: ({ workflowId, input }) => effectCall(workflowId, 'reserve', 'do', input),
    compensate: { target: inventory, timeoutMs: STEP_TIMEOUT_MS, retry: STEP_RETRY, input: ({ workflowId, input }) => effectCall(workflowId, 'reserve', 'undo', input) },
  })
  .step('loyalty', {
    target: loyalty,
    timeoutMs: STEP_TIMEOUT_MS,
    retry: STEP_RETRY,
    input: ({ workflowId, input }) => effectCall(workflowId, 'loyalty', 'do', input),
    compensate: { target: loyalty, timeoutMs: STEP_TIMEOUT_MS, retry: STEP_RETRY, input: ({ workflowId, input }) => effectCall(workflowId, 'loyalty', 'undo', input) },
  })
  .step('charge', {
    target: payments,
    dependsOn: ['reserve'],
    timeoutMs: STEP_TIMEOUT_MS,
    retry: STEP_RETRY,
    input: ({ workflowId, input }) => effectCall(workflowId, 'charge', 'do', input),
    compensate: { target: payments, timeoutMs: STEP_TIMEOUT_MS, retry: STEP_RETRY, input: ({ workflowId, input }) => effectCall(workflowId, 'charge', 'undo', input) },
  })
  .step('ship', {
    target: shipping,
    dependsOn: ['charge'],
    timeoutMs: STEP_TIMEOUT_MS,
    retry: STEP_RETRY,
    input: ({ workflowId, input }) => effectCall(workflowId, 'ship', 'do', input),
  })
  .returns(({ steps }) => ({ refs: [steps.reserve?.ref, steps.loyalty?.ref, steps.charge?.ref, steps.ship?.ref].filter((r): r is string => r !== undefined) }));

/** Steps of {@link faultSaga} that have a compensation. */
export const COMPENSABLE_STEPS = ['reserve', 'loyalty', 'charge'] as const;
const PEER_LABELS = ['inventory', 'payments', 'shipping', 'loyalty'] as const;

/** Planned definite refusals, with their weights: most workflows meet none. */
const REFUSAL_PLANS: readonly (readonly [number, SagaInput['refuse']])[] = [
  [78, []],
  [8, ['ship']],
  [4, ['charge']],
  [3, ['ship', 'charge:undo']],
  [3, ['ship', 'reserve:undo']],
  [2, ['reserve']],
  [2, ['charge', 'loyalty:undo']],
];

function planRefusals(random: Prng): SagaInput['refuse'] {
  const total = REFUSAL_PLANS.reduce((sum, [w]) => sum + w, 0);
  let r = random.next() * total;
  for (const [weight, plan] of REFUSAL_PLANS) {
    r -= weight;
    if (r < 0) return plan;
  }
  return [];
}

/** The store kinds the campaign runs on (PostgreSQL: the vitest globalSetup's server, a fresh schema per seed). */
export type CampaignStore = 'memory' | 'sqlite' | 'postgres';

/** Options of {@link runSeed}. */
export interface SeedOptions {
  readonly seed: number;
  readonly workflows: number;
  readonly store: CampaignStore;
  /** Instances alive at once. Default 3. */
  readonly instances?: number;
  /** Lease of every instance, ms. Default 450. */
  readonly leaseMs?: number;
  /** How long faults are injected, ms. Default 1,500. */
  readonly chaosMs?: number;
  /** Longest wait, after healing, for every workflow to end, ms. Default 60,000: a bound for a busy 2-core machine, not a speed claim (the drain usually takes 1–6 s; its time is in every seed line). */
  readonly drainMs?: number;
  readonly rates?: FaultRates;
  /** A bug reintroduced on purpose in every store wrapper. */
  readonly mutant?: StoreMutant;
  /** No fault at all (the harness's baseline): only the planned business refusals and deadlines. */
  readonly calm?: boolean;
}

/** What one seed did and found. */
export interface SeedReport {
  readonly seed: number;
  readonly store: CampaignStore;
  readonly workflows: number;
  readonly faults: FaultTally;
  readonly violations: readonly Violation[];
  readonly statuses: Readonly<Record<string, number>>;
  /** Every workflow was terminal before the drain bound. */
  readonly drained: boolean;
  readonly acceptedCommits: number;
  /** Commits the store refused (fencing at work). */
  readonly refusedCommits: number;
  readonly durationMs: number;
  /** Wall time of each phase. */
  readonly phasesMs: Readonly<Record<'setup' | 'chaos' | 'heal' | 'drain' | 'shutdown' | 'check', number>>;
  /** The history (store calls, effects) of the first workflows with a violation, by id. */
  readonly histories: Readonly<Record<string, readonly string[]>>;
}

/** How many violating workflows a report keeps the history of. */
const HISTORIES_KEPT = 3;

class CampaignClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

interface Instance {
  readonly label: string;
  readonly instanceId: string;
  readonly orchestrator: Orchestrator;
  readonly store: FaultStore;
  readonly clients: readonly FaultyPeerClient[];
  crashed: boolean;
}

const TICK_MS = 20;
/** An initialize() that takes longer is reported (and its incarnation dropped): a liveness bound for a busy 2-core machine, not a speed claim (it takes well under a second on an idle one; a 40-seed run beside the full suite once hit 5 s). */
const INITIALIZE_BOUND_MS = 30_000;

/** Runs one seed and checks the invariants. */
export async function runSeed(options: SeedOptions): Promise<SeedReport> {
  const started = performance.now();
  const instancesWanted = options.instances ?? 3;
  const leaseMs = options.leaseMs ?? 450;
  const chaosMs = options.chaosMs ?? 1_500;
  const drainMs = options.drainMs ?? 60_000;
  const root = new Prng(options.seed);
  const schedule = root.fork(1);
  const plans = root.fork(2);
  const storeRandom = root.fork(3);
  const peerRandom = root.fork(4);
  const clientRandom = root.fork(5);

  const tally = new FaultTally();
  const faults = new FaultSwitch(options.rates ?? DEFAULT_FAULT_RATES, tally);
  const calm = options.calm === true;
  faults.enabled = !calm;
  const observer = new FencingObserver();
  const ledger = new EffectLedger();
  ledger.history = observer.history;
  const clock = new CampaignClock();
  const dir = options.store === 'sqlite' ? mkdtempSync(join(tmpdir(), 'onex-fault-campaign-')) : undefined;
  const schema = options.store === 'postgres' ? await freshSchema(postgresUrl(), 'faults') : undefined;
  const shared: WorkflowStore =
    schema !== undefined
      ? new PostgresWorkflowStore({ connectionString: postgresUrl(), schema: schema.name, purgeIntervalMs: 0, retentionMs: 0, maxConnections: 8 })
      : dir === undefined
        ? new MemoryWorkflowStore({ maxFinished: options.workflows * 2 })
        : new SqliteWorkflowStore({ path: join(dir, 'workflows.db'), retentionMs: 0 });
  await shared.init();
  const peers: Map<string, EffectPeer> = await startPeers(PEER_LABELS, { ledger, random: peerRandom, tally });

  const instances: Instance[] = [];
  let incarnations = 0;
  let nextId = 0;
  const spawning = new Set<Promise<void>>();
  /** Incarnations whose initialize() did not finish within the bound. */
  const stuck: string[] = [];

  const alive = (): Instance[] => instances.filter((i) => !i.crashed);

  function crash(instance: Instance): void {
    instance.crashed = true;
    instance.store.crash();
    for (const client of instance.clients) client.crash();
  }

  const spawnOnce = async (instanceId: string): Promise<Instance | undefined> => {
    incarnations += 1;
    const label = `${instanceId}#${incarnations}`;
    const store = new FaultStore({
      store: shared,
      instance: label,
      observer,
      faults,
      random: storeRandom.fork(incarnations),
      ...(options.mutant === undefined ? {} : { mutant: options.mutant }),
    });
    const clients = PEER_LABELS.map((name, i) => new FaultyPeerClient(peers.get(name)!, { faults, random: clientRandom.fork(incarnations * 8 + i) }));
    const orchestrator = new Orchestrator(defineOrchestrator({ workflows: [faultSaga] }), {
      store,
      peers: Object.fromEntries(PEER_LABELS.map((name, i) => [name, clients[i]!])),
      instanceId,
      leaseMs,
      clock,
      logger: createSilentLogger(),
      maxConcurrentWorkflows: 200,
      breakerDefaults: { resetTimeoutMs: 100 },
    });
    const instance: Instance = { label, instanceId, orchestrator, store, clients, crashed: false };
    instances.push(instance);
    const initialized = orchestrator.initialize().then(
      () => 'ready' as const,
      () => 'failed' as const,
    );
    const outcome = await Promise.race([initialized, sleep(INITIALIZE_BOUND_MS).then(() => 'stuck' as const)]);
    if (outcome === 'ready') return instance;
    // 'failed': an injected store fault during the start's claims; this incarnation is dropped, another one starts.
    if (outcome === 'stuck') stuck.push(label);
    crash(instance);
    return outcome === 'stuck' ? instance : undefined;
  };

  const spawn = (instanceId: string): void => {
    const attempt = (async () => {
      for (let i = 0; i < 20; i += 1) {
        if ((await spawnOnce(instanceId)) !== undefined) return;
        await sleep(TICK_MS);
      }
    })();
    spawning.add(attempt);
    void attempt.finally(() => spawning.delete(attempt));
  };

  for (let i = 0; i < instancesWanted; i += 1) spawn(`node-${nextId++}`);
  await Promise.all(spawning);

  // Workflows: planned up front from the seed.
  const inputs: SagaInput[] = [];
  const timeouts: (number | undefined)[] = [];
  for (let i = 0; i < options.workflows; i += 1) {
    inputs.push({ n: i, refuse: [...planRefusals(plans)] });
    timeouts.push(plans.chance(0.3) ? plans.int(200, 3_000) : undefined);
  }
  const ids: (string | undefined)[] = Array.from({ length: options.workflows }, () => undefined);
  const submitting = new Set<number>();
  let submitted = 0;
  const keyOf = (i: number): string => `fault-${options.seed}-${i}`;

  const submit = (i: number): void => {
    const candidates = alive();
    if (candidates.length === 0 || submitting.has(i) || ids[i] !== undefined) return;
    const target = schedule.pick(candidates);
    submitting.add(i);
    const timeoutMs = timeouts[i];
    target.orchestrator
      .start(faultSaga, inputs[i]!, { idempotencyKey: keyOf(i), ...(timeoutMs === undefined ? {} : { timeoutMs }) })
      .then(
        (id) => {
          ids[i] = id;
        },
        () => undefined, // retried on a later tick, with the same key
      )
      .finally(() => submitting.delete(i));
  };
  const resubmit = (): void => {
    for (let i = 0; i < submitted; i += 1) if (ids[i] === undefined) submit(i);
  };

  // Chaos, in ticks (not wall time): a slow event loop stretches the chaos rather than thinning it out.
  const chaosStarted = performance.now();
  const ticks = Math.max(1, Math.round(chaosMs / TICK_MS));
  const submitTicks = Math.max(1, Math.floor(ticks * 0.6));
  const perTick = Math.ceil(options.workflows / submitTicks);
  for (let tick = 0; tick < ticks; tick += 1) {
    for (let k = 0; k < perTick && submitted < options.workflows; k += 1) submit(submitted++);
    if (schedule.chance(0.05)) resubmit();
    await sleep(TICK_MS);
    if (calm) continue;
    const living = alive();
    if (schedule.chance(0.03) && living.length > 1) {
      const victim = schedule.pick(living);
      crash(victim);
      tally.add(FaultKind.Crash);
      const sameId = schedule.chance(0.5);
      const delay = schedule.int(0, 300);
      setTimeout(() => {
        tally.add(FaultKind.Restart);
        spawn(sameId ? victim.instanceId : `node-${nextId++}`);
      }, delay);
    }
    if (schedule.chance(0.04)) {
      clock.offset += Math.round(leaseMs * (1.2 + 1.3 * schedule.next()));
      tally.add(FaultKind.ClockJump);
    }
    if (schedule.chance(0.08) && living.length > 0) {
      schedule.pick(living).store.pause(schedule.int(leaseMs, leaseMs * 3));
      tally.add(FaultKind.StorePause);
      // Half the pauses are stalls: the clock jumps as the pause begins, so the others take the paused instance's
      // workflows over while its writes are held — the writes it sends on waking carry fenced epochs.
      if (schedule.chance(0.5)) {
        clock.offset += Math.round(leaseMs * (1.2 + 1.3 * schedule.next()));
        tally.add(FaultKind.ClockJump);
      }
    }
    // A gap in one instance's events (memory and PostgreSQL stores; SQLite has none): what it would have heard of
    // (finished workflows, given-up leases, cancels, wake-ups) is lost, then resync.
    if (schedule.chance(0.05) && living.length > 0 && schedule.pick(living).store.cutEvents(schedule.int(Math.round(leaseMs / 4), leaseMs * 2))) {
      tally.add(FaultKind.EventGap);
    }
    if (schedule.chance(0.3) && living.length > 0) {
      const startedIds = ids.filter((id): id is string => id !== undefined);
      if (startedIds.length > 0) {
        const id = schedule.pick(startedIds);
        tally.add(FaultKind.Cancel);
        schedule
          .pick(living)
          .orchestrator.cancel(id)
          .catch(() => undefined);
      }
    }
  }
  while (submitted < options.workflows) submit(submitted++);

  // Heal: no more faults; pauses end; crashed instances are replaced up to N alive.
  const healStarted = performance.now();
  faults.enabled = false;
  await sleep(350); // lets the restarts scheduled during the chaos begin
  for (const instance of alive()) instance.store.resume();
  await Promise.all(spawning);
  for (let missing = instancesWanted - alive().length; missing > 0; missing -= 1) spawn(`node-${nextId++}`);
  await Promise.all(spawning);

  // Drain: every workflow started and terminal, or the bound passes.
  const drainStarted = performance.now();
  const drainEnd = performance.now() + drainMs;
  let open: Set<string> | undefined;
  let drained = false;
  while (performance.now() < drainEnd) {
    resubmit();
    const startedIds = ids.filter((id): id is string => id !== undefined);
    if (startedIds.length === options.workflows) {
      open ??= new Set(startedIds);
      for (const id of [...open]) {
        const record = await shared.get(id);
        if (record !== undefined && isTerminalStatus(record.status)) open.delete(id);
      }
      if (open.size === 0) {
        drained = true;
        break;
      }
    }
    await sleep(100);
  }

  // Shut everything down (bounded): instances first, so their last writes are observed too.
  const shutdownStarted = performance.now();
  await Promise.all(
    instances.map(async (instance) => {
      const stopping = instance.orchestrator.shutdown().catch(() => undefined);
      if (!instance.crashed) await Promise.race([stopping, sleep(5_000)]);
      // Whatever the engine still runs through this wrapper (a loop stuck in initialize, say) now fails at once.
      await instance.store.close();
    }),
  );

  const checkStarted = performance.now();
  const workflows = new Map<string, WorkflowRecord | undefined>();
  const statuses: Record<string, number> = {};
  for (const id of ids) {
    if (id === undefined) continue;
    const record = await shared.get(id);
    workflows.set(id, record);
    const status: WorkflowStatus | 'missing' = record?.status ?? 'missing';
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  const unstarted = ids.flatMap((id, i) => (id === undefined ? [keyOf(i)] : []));
  const violations = checkInvariants({ workflows, unstarted, compensable: COMPENSABLE_STEPS, ledger, fencing: observer.violations });
  // First, so a failing seed's first examples show them: a stuck start leaves workflows behind.
  violations.unshift(
    ...stuck.map((label) => ({ invariant: Invariant.Terminal, workflowId: `(instance ${label})`, reason: `initialize() did not finish within ${INITIALIZE_BOUND_MS} ms` })),
  );

  for (const p of peers.values()) await p.shutdown();
  await shared.close();
  await schema?.drop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  const histories: Record<string, readonly string[]> = {};
  for (const v of violations) {
    if (Object.keys(histories).length >= HISTORIES_KEPT) break;
    const lines = observer.history.lines(v.workflowId);
    if (lines.length > 0) histories[v.workflowId] = lines;
  }
  return {
    histories,
    seed: options.seed,
    store: options.store,
    workflows: options.workflows,
    faults: tally,
    violations,
    statuses,
    drained,
    acceptedCommits: observer.acceptedCommits,
    refusedCommits: observer.refusedCommits,
    durationMs: Math.round(performance.now() - started),
    phasesMs: {
      setup: Math.round(chaosStarted - started),
      chaos: Math.round(healStarted - chaosStarted),
      heal: Math.round(drainStarted - healStarted),
      drain: Math.round(shutdownStarted - drainStarted),
      shutdown: Math.round(checkStarted - shutdownStarted),
      check: Math.round(performance.now() - checkStarted),
    },
  };
}

/** The campaign's summary line. */
export function formatSummary(reports: readonly SeedReport[]): string {
  const faults = new FaultTally();
  let workflows = 0;
  const violations: Violation[] = [];
  for (const report of reports) {
    faults.merge(report.faults);
    workflows += report.workflows;
    violations.push(...report.violations);
  }
  const byInvariant = Object.entries(countByInvariant(violations))
    .map(([k, v]) => `${k}:${v}`)
    .join(', ');
  return `fault campaign: seeds=${reports.length} workflows=${workflows} faults=${faults.format()} violations=${violations.length} {${byInvariant}}`;
}

/** A few lines on one seed for a failing assertion: statuses, violations by invariant, the first examples. */
export function describeSeed(report: SeedReport, examples = 8): string {
  return [
    `seed ${report.seed} (${report.store}, ${report.workflows} workflows, ${report.durationMs} ms ${JSON.stringify(report.phasesMs)}, drained: ${String(report.drained)}, commits ${report.acceptedCommits} accepted / ${report.refusedCommits} refused): statuses ${JSON.stringify(report.statuses)}`,
    `faults ${report.faults.format()}`,
    `violations ${report.violations.length} ${JSON.stringify(countByInvariant(report.violations))}`,
    ...report.violations.slice(0, examples).map((v) => `  [${v.invariant}] ${v.workflowId}: ${v.reason}`),
    ...Object.entries(report.histories).flatMap(([id, lines]) => [`history of ${id}:`, ...lines.map((l) => `    ${l}`)]),
    `reproduce: ONEX_FAULT_SEED=${report.seed} ONEX_FAULT_WORKFLOWS=${report.workflows} pnpm vitest run packages/orchestrator/test/fault-campaign.test.ts`,
  ].join('\n');
}

/** One line per seed: time, commits, violations by invariant. */
export function seedLine(report: SeedReport): string {
  const counts = Object.entries(countByInvariant(report.violations))
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k}:${n}`)
    .join(', ');
  return `seed ${report.seed} (${report.store}): ${report.workflows} workflows in ${report.durationMs} ms (drain ${report.phasesMs.drain} ms), commits ${report.acceptedCommits} accepted / ${report.refusedCommits} refused, violations ${report.violations.length}${counts === '' ? '' : ` {${counts}}`}`;
}
