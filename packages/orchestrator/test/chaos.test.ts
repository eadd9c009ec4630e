// The process-level chaos test of the fault issue: two orchestrator processes on one SQLite workflow file (WAL) and
// two effect peers in their own processes, all on loopback. While ~300 saga workflows are started through the
// orchestrators' HTTP API, orchestrators are SIGKILLed at random and restarted (same or new instance id), each is
// SIGSTOPped once for more than two leases (a peer down meanwhile) and then SIGCONTed to run on, and peers are
// SIGKILLed and restarted. Then everything heals, the workflows drain, everything shuts down, and the fault campaign's five
// invariants (test/faults/invariants.ts) are checked against the workflow records, the peers' ledgers and the
// fencing journals (test/chaos/journal.ts) plus the SQLite audit triggers (test/chaos/store-audit.ts):
// every workflow is terminal; no effect applied twice; every step that may have applied, in a workflow that did not
// complete, is compensated once; no commit accepted from a fenced epoch; compensation_failed only after a definite
// refusal. Wall-clock margins only decide when faults happen and how long they last, never what is judged correct.
// The children run from TypeScript source (test/chaos/ts-loader.mjs): no build needed.
//
// Run: `pnpm vitest run packages/orchestrator/test/chaos` (~30 s; it prints one `chaos: …` summary line).
// CHAOS_SEED=<n> fixes the random choices (which slot, how long, which instance id; their timing still follows the
// clock). CHAOS_KEEP=1 keeps the run's files (databases, fencing journals, logs; always kept after a failure).
// CHAOS_MUTANT=commitWithStoredEpoch reintroduces a fencing bug in the orchestrators' store: the run must fail
// with `fenced` violations (it shows the checks are not vacuous).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sleep } from '@onex/core';
import { afterAll, describe, expect, it } from 'vitest';
import { TERMINAL_WORKFLOW_STATUSES, WorkflowStatus, type WorkflowRecord } from '../src/index.js';
import { SqliteWorkflowStore } from '../src/sqlite.js';
import { ChildProcesses } from './chaos/child-processes.js';
import { ChaosCluster, lastFigures, SLOTS, type Figures, type Slot } from './chaos/cluster.js';
import { checkFencing, readJournal, StoreMutant, type Journal } from './chaos/journal.js';
import { readLedger } from './chaos/ledger.js';
import { COMPENSABLE_STEPS, orderInput, PEERS, type PeerName } from './chaos/saga.js';
import { installStoreAudit, readStoreAudit } from './chaos/store-audit.js';
import { idempotencyKeyOf, WorkflowStarter } from './chaos/workflow-starter.js';
import { checkInvariants, countByInvariant, type Violation } from './faults/invariants.js';
import { Prng } from './faults/prng.js';

const WORKFLOWS = 300;
const LEASE_MS = 1_500;
/** How long faults are injected, from the first start. */
const CHAOS_MS = 25_000;
/** Starts are spread over this long (the SIGSTOP bursts take a few early). */
const START_SPREAD_MS = 18_000;
const SIGSTOPS = 2;
/** Workflows started on an orchestrator right before it is stopped, so that it is stopped holding runs. */
const STOP_BURST = 8;
/** Bounds of the waits of the harness (a loaded machine is slow); never a correctness margin. */
const READY_TIMEOUT_MS = 60_000;
const DRAIN_LIMIT_MS = 45_000;
const SHUTDOWN_TIMEOUT_MS = 10_000;
const SEED = Number(process.env['CHAOS_SEED'] ?? Date.now() % 1_000_000_007);
// Set to check that the checks catch a reintroduced fencing bug: the run must then fail with violations.
const MUTANT = process.env['CHAOS_MUTANT'] === undefined ? undefined : StoreMutant.parse(process.env['CHAOS_MUTANT']);

const dir = mkdtempSync(join(tmpdir(), 'onex-orchestrator-chaos-'));
const workflowsDb = join(dir, 'workflows.db');
const children = new ChildProcesses({ readyTimeoutMs: READY_TIMEOUT_MS });
// Kept after a failure (or with CHAOS_KEEP=1) for a post-mortem: databases, journals, logs.
let keepDir = true;
/** Ends whatever the test left running when it failed midway (starts, restarts). */
const teardown = new AbortController();

afterAll(async () => {
  teardown.abort();
  await children.killAll(10_000);
  if (keepDir) process.stdout.write(`chaos: files of the run kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
});

/** Waits until `done()` or `limitMs` passed; true when done. */
async function until(done: () => boolean, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() >= end) return false;
    await sleep(50);
  }
  return true;
}

function describeRecord(record: WorkflowRecord | undefined): string {
  if (record === undefined) return '(no record)';
  const steps = Object.values(record.steps).map((s) => {
    const errors = s.attemptErrors.map((e) => e.code).join('/');
    return `${s.name}=${s.status}[att ${s.attempts}${errors === '' ? '' : ` ${errors}`}${s.compensationError === undefined ? '' : ` comp ${s.compensationError.code}`}]`;
  });
  return `${record.status} epoch ${record.epoch} owner ${record.owner ?? '-'} ${steps.join(' ')}`;
}

describe('orchestrator chaos at process level', () => {
  it(`keeps the six invariants over ${WORKFLOWS} workflows through SIGKILLs, SIGSTOPs past the lease and peer kills`, async () => {
    const wallStart = Date.now();
    const random = new Prng(SEED);
    const harnessErrors: string[] = [];
    const track = (what: string, work: Promise<void>): Promise<void> =>
      work.catch((error: unknown) => {
        harnessErrors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      });

    // The schema first (as the engine's store makes it), then the audit triggers, then the processes.
    const setup = new SqliteWorkflowStore({ path: workflowsDb, purgeIntervalMs: 0 });
    await setup.init();
    await setup.close();
    installStoreAudit(workflowsDb);
    const cluster = new ChaosCluster({ dir, store: { kind: 'sqlite', path: workflowsDb }, leaseMs: LEASE_MS, children, ...(MUTANT === undefined ? {} : { mutant: MUTANT }) });
    await cluster.startPeers(SEED);
    await Promise.all(SLOTS.map((slot) => cluster.ready(cluster.startOrchestrator(slot, random.chance(0.5)))));

    const starter = new WorkflowStarter({ cluster, total: WORKFLOWS, random: random.fork(1), signal: teardown.signal });
    const chaosStart = Date.now();
    const starting = starter.run(START_SPREAD_MS, chaosStart + CHAOS_MS + DRAIN_LIMIT_MS);
    const tally = { sigkill: 0, restarts: 0, sigstop: 0, peerKills: 0 };
    const background: Promise<void>[] = [];
    const stops: { readonly label: string; readonly stoppedMs: number; readonly before: Figures | undefined; readonly after: Figures | undefined }[] = [];

    const restart = async (slot: Slot): Promise<void> => {
      await sleep(random.int(0, 600));
      const incarnation = cluster.startOrchestrator(slot, random.chance(0.5));
      tally.restarts += 1;
      await cluster.ready(incarnation);
    };

    const restartPeer = (name: PeerName, delayMs: number): void => {
      background.push(
        track(
          `restart of peer ${name}`,
          (async () => {
            await sleep(delayMs);
            await cluster.restartPeer(name, SEED + 1_000);
          })(),
        ),
      );
    };

    // SIGSTOP one orchestrator for more than two leases while the other runs on (and takes its workflows over),
    // then SIGCONT it and let it run on: it must abort or be refused its stale work. A peer is down across the stop:
    // the stopped one holds steps waiting to retry, and the taken-over workflows are still unfinished when it
    // resumes; when a retry timer fires before its lease renewal does, a stale commit reaches the epoch fence.
    const sigstop = async (slot: Slot, outage: PeerName): Promise<void> => {
      if (!(await until(() => cluster.upSlots().length === SLOTS.length, READY_TIMEOUT_MS))) {
        harnessErrors.push('SIGSTOP skipped: both orchestrators never were up at once');
        return;
      }
      const target = cluster.up(slot)!;
      await cluster.killPeer(outage);
      tally.peerKills += 1;
      const burst = starter.take(STOP_BURST);
      await Promise.all(burst.map((n) => starter.start(n, slot, Date.now() + READY_TIMEOUT_MS)));
      await sleep(random.int(150, 400));
      const before = await cluster.figures(target);
      cluster.stop(slot);
      tally.sigstop += 1;
      const stoppedMs = 2 * LEASE_MS + random.int(800, 1_600);
      // The peer comes back about when the stopped one resumes: the new owner is not held up for long.
      const peerBackMs = stoppedMs - random.int(500, 1_000);
      await sleep(peerBackMs);
      restartPeer(outage, 0);
      await sleep(stoppedMs - peerBackMs);
      cluster.resume(target);
      await sleep(LEASE_MS);
      stops.push({ label: target.label, stoppedMs, before, after: await cluster.figures(target) });
    };

    // The faults follow a fixed plan by count, not by elapsed time: on a loaded machine a SIGSTOP takes longer, and a
    // time-based schedule could run out before every planned fault happened. After the plan, SIGKILLs go on until
    // CHAOS_MS has passed.
    const plan: readonly ('peer' | 'kill' | 'stop')[] = ['kill', 'peer', 'kill', 'stop', 'kill', 'kill', 'stop', 'kill'];
    let next = 0;
    while (next < plan.length || Date.now() - chaosStart < CHAOS_MS) {
      await sleep(random.int(600, 1_400));
      const fault = plan[next] ?? 'kill';
      // stock is killed alone early; then stock across the first SIGSTOP, pay across the second.
      if (fault === 'peer') {
        await cluster.killPeer('stock');
        tally.peerKills += 1;
        restartPeer('stock', random.int(200, 900));
        next += 1;
        continue;
      }
      if (fault === 'stop') {
        await sigstop(SLOTS[tally.sigstop % SLOTS.length]!, PEERS[tally.sigstop % PEERS.length]!);
        next += 1;
        continue;
      }
      const up = cluster.upSlots();
      if (up.length === 0) continue;
      const slot = random.pick(up);
      await cluster.kill(slot);
      tally.sigkill += 1;
      next += 1;
      background.push(track(`restart of slot ${slot}`, restart(slot)));
    }

    // Heal: every restart done, whatever died by itself started again, every start answered.
    await Promise.all(background);
    await cluster.heal(SEED + 2_000);
    await starting;
    const chaosMs = Date.now() - chaosStart;

    // Drain (bounded): every workflow of the file terminal.
    const reader = new Database(workflowsDb, { readonly: true, fileMustExist: true });
    const finished = [...TERMINAL_WORKFLOW_STATUSES].map((s) => `'${s}'`).join(', ');
    const unfinishedCount = reader.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM onex_workflows WHERE status NOT IN (${finished})`);
    const drainStart = Date.now();
    while (unfinishedCount.get()!.n > 0 && Date.now() - drainStart < DRAIN_LIMIT_MS) await sleep(250);
    const drainMs = Date.now() - drainStart;
    const stored = reader.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM onex_workflows').get()!.n;
    reader.close();

    await cluster.shutdown(SHUTDOWN_TIMEOUT_MS);
    expect(children.live, 'every child process has exited').toBe(0);

    // Judge.
    const store = new SqliteWorkflowStore({ path: workflowsDb, purgeIntervalMs: 0 });
    await store.init();
    const workflows = new Map<string, WorkflowRecord | undefined>();
    for (const id of starter.ids.values()) workflows.set(id, await store.get(id));
    await store.close();
    const ledger = readLedger(cluster.peerFiles());
    const journals: Journal[] = cluster.incarnations.filter((i) => existsSync(i.journal)).map((i) => readJournal(i.label, i.journal));
    const fencing = checkFencing(journals);
    const audit = readStoreAudit(workflowsDb);
    const violations: Violation[] = checkInvariants({
      workflows,
      unstarted: starter.unstarted().map(idempotencyKeyOf),
      compensable: COMPENSABLE_STEPS,
      ledger,
      fencing: [...fencing.violations, ...audit],
    });

    // The harness's own sanity: a planned refusal can never end completed.
    const refusedYetCompleted = [...starter.ids].filter(([n, id]) => {
      const { plan } = orderInput(n);
      return (plan.declineCharge || plan.refuseConfirm) && workflows.get(id)?.status === WorkflowStatus.Completed;
    });

    // Workflows planned to complete that did not: a fault outlasted their retries (not a violation; shown).
    const unplanned = new Map<string, number>();
    for (const [n, id] of starter.ids) {
      const { plan } = orderInput(n);
      const record = workflows.get(id);
      if (plan.declineCharge || plan.refuseConfirm || record?.status === WorkflowStatus.Completed) continue;
      const key = `${record?.status ?? 'missing'}:${record?.error?.code ?? '-'}`;
      unplanned.set(key, (unplanned.get(key) ?? 0) + 1);
    }
    const statuses = new Map<string, number>();
    for (const record of workflows.values()) statuses.set(record?.status ?? 'missing', (statuses.get(record?.status ?? 'missing') ?? 0) + 1);
    const figures = cluster.incarnations.map((i) => lastFigures(i));
    const sum = (pick: (f: Figures) => number): number => figures.reduce((total, f) => total + (f === undefined ? 0 : pick(f)), 0);
    const delta = (pick: (f: Figures) => number): number =>
      stops.reduce((total, s) => total + (s.after === undefined ? 0 : pick(s.after) - (s.before === undefined ? 0 : pick(s.before))), 0);
    const counts = countByInvariant(violations);
    const summary =
      `chaos: seed=${SEED}${MUTANT === undefined ? '' : ` mutant=${MUTANT}`} workflows=${WORKFLOWS} started=${starter.ids.size} stored=${stored} sigkill=${tally.sigkill} restarts=${tally.restarts} ` +
      `sigstop=${tally.sigstop} peerKills=${tally.peerKills} incarnations=${cluster.incarnations.length} ` +
      `completed=${statuses.get(WorkflowStatus.Completed) ?? 0} compensated=${statuses.get(WorkflowStatus.Compensated) ?? 0} ` +
      `compensationFailed=${statuses.get(WorkflowStatus.CompensationFailed) ?? 0} failed=${statuses.get(WorkflowStatus.Failed) ?? 0} ` +
      `unfinished=${[...statuses].filter(([s]) => s === 'missing' || !TERMINAL_WORKFLOW_STATUSES.has(s as WorkflowStatus)).reduce((t, [, n]) => t + n, 0)} ` +
      `fencedWritesRefused=${fencing.fencedByEpoch} refusedAsFinished=${fencing.refusedFinished} acceptedCommits=${fencing.acceptedCommits} grants=${fencing.grants} ` +
      `metrics(fencedWrites=${sum((f) => f.fencedWrites)} leaseLosses=${sum((f) => f.leaseLosses)} recovered=${sum((f) => f.recovered)} parked=${sum((f) => f.compensationsParked)}) ` +
      `sigstopped(fencedWrites=${delta((f) => f.fencedWrites)} leaseLosses=${delta((f) => f.leaseLosses)} ${JSON.stringify(
        stops.map((stop) => `${stop.label} ${(stop.stoppedMs / 1000).toFixed(1)}s fenced ${(stop.after?.fencedWrites ?? 0) - (stop.before?.fencedWrites ?? 0)} lost ${(stop.after?.leaseLosses ?? 0) - (stop.before?.leaseLosses ?? 0)}`),
      )}) ` +
      `notCompletedUnplanned=${JSON.stringify(Object.fromEntries(unplanned))} ` +
      `unexpectedExits=${cluster.unexpectedExits.length} peer(applied=${ledger.appliedRows} refusedPlanned=${ledger.plannedRefusals} refusedLate=${ledger.lateForward}) startsResent=${starter.resent} ` +
      `violations=${violations.length} ${JSON.stringify(counts)} chaos=${(chaosMs / 1000).toFixed(1)}s drain=${(drainMs / 1000).toFixed(1)}s wall=${((Date.now() - wallStart) / 1000).toFixed(1)}s`;
    process.stdout.write(`${summary}\n`);
    for (const v of violations.slice(0, 40)) {
      process.stdout.write(`chaos violation ${v.invariant} ${v.workflowId}: ${v.reason} — ${describeRecord(workflows.get(v.workflowId))}\n`);
    }

    for (const exit of cluster.unexpectedExits) process.stdout.write(`chaos unexpected exit: ${exit}\n`);

    expect(harnessErrors).toEqual([]);
    expect(cluster.unexpectedExits, 'no process died by itself').toEqual([]);
    expect(starter.fatal).toBeUndefined();
    expect(stored, 'one stored workflow per idempotency key').toBe(WORKFLOWS);
    expect(violations.map((v) => `${v.invariant} ${v.workflowId}: ${v.reason}`)).toEqual([]);
    expect(refusedYetCompleted).toEqual([]);
    // The faults really bit, and every outcome was exercised.
    expect(tally.sigkill).toBeGreaterThanOrEqual(3);
    expect(tally.sigstop).toBe(SIGSTOPS);
    expect(tally.peerKills).toBe(1 + SIGSTOPS);
    expect(delta((f) => f.fencedWrites + f.leaseLosses), 'a stopped orchestrator, resumed, aborted or was refused stale work').toBeGreaterThan(0);
    expect(sum((f) => f.recovered), 'workflows were taken over or resumed').toBeGreaterThan(0);
    expect(statuses.get(WorkflowStatus.Completed) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(WorkflowStatus.Compensated) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(WorkflowStatus.CompensationFailed) ?? 0).toBeGreaterThan(0);
    keepDir = process.env['CHAOS_KEEP'] === '1';
  }, 240_000);
});
