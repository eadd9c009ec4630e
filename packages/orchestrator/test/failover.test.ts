// The process-level failover test of the PostgreSQL issue: three orchestrator processes on one PostgresWorkflowStore
// schema (LISTEN/NOTIFY store events on) and two replicas of one effect node (`pay`: charge, capture, refund) on one
// shared schema — PostgresTransactionManager + PostgresIdempotencyStore, each ledger row written in the operation's
// transaction together with its idempotency completion — the orchestrators spreading their calls over both replicas.
// The vitest globalSetup's real PostgreSQL (tooling/test-postgres), loopback only; never skipped.
//
// 640 payment workflows are started (spread over the three orchestrators) and are in flight — at least 500 unfinished
// — when the faults hit: three SIGKILLs of a random orchestrator (a different one each time; each restarted, under
// its stable instance id or a new one), and one SIGSTOP of an orchestrator holding runs with calls out, for more than
// two leases *and* until the others have claimed every workflow it held (read in the store: the takeover is
// observed, not assumed from the clock), then SIGCONT. The SIGSTOP lands between a peer's answer and the commit that
// records it (the process stops itself there with a few answers in hand, see test/chaos/stop-trap.ts): once resumed
// it sends those commits with the epochs it held, and the store must refuse them: they are counted from its fencing
// journal (test/chaos/journal.ts). Then everything heals, every workflow
// drains to a terminal status (bounded), all processes shut down, and the fault campaign's invariants
// (test/faults/invariants.ts) are checked on the records, the shared ledger and the journals, plus PostgreSQL audit
// triggers on the workflow table: 0 workflows lost, each effect applied at most once (every completed step exactly
// once), every step that may have applied compensated once in a workflow that did not complete, no commit accepted
// from a fenced epoch. Wall-clock margins only decide when faults happen and how long they last, never what is
// judged correct.
//
// Run: `pnpm vitest run packages/orchestrator/test/failover.test.ts` (~50 s; it prints one `failover: …` summary
// line). FAILOVER_SEED=<n> fixes the random choices; FAILOVER_KEEP=1 keeps the run's files (journals, logs, the
// per-workflow runs file; always kept after a failure). FAILOVER_MUTANT=commitWithStoredEpoch reintroduces a fencing
// bug in the orchestrators' store: the run must fail with `fenced` violations (the checks are not vacuous).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sleep } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresWorkflowStore } from '../src/postgres.js';
import { TERMINAL_WORKFLOW_STATUSES, WorkflowStatus, type WorkflowRecord } from '../src/index.js';
import { ChildProcesses } from './chaos/child-processes.js';
import { ChaosCluster, type Figures, type Incarnation, type Slot } from './chaos/cluster.js';
import { checkFencing, readJournal, StoreMutant, type Journal } from './chaos/journal.js';
import { readPostgresLedger } from './chaos/ledger.js';
import { postgresLedgerSchema } from './chaos/ledger-schema.js';
import { SAGAS } from './chaos/saga.js';
import type { PostgresTarget } from './chaos/storage.js';
import { installPostgresStoreAudit, readPostgresStoreAudit } from './chaos/store-audit.js';
import { idempotencyKeyOf, WorkflowStarter } from './chaos/workflow-starter.js';
import { checkInvariants, countByInvariant, type Violation } from './faults/invariants.js';
import { Prng } from './faults/prng.js';

const WORKFLOWS = 640;
/** Unfinished workflows required when the first fault hits. */
const MIN_IN_FLIGHT = 500;
const SLOTS: readonly Slot[] = ['a', 'b', 'c'];
const REPLICAS = 2;
const SIGKILLS = 3;
const LEASE_MS = 1_500;
/**
 * Runs per orchestrator, and every operation's time at the peer (in its transaction): together they bound the
 * throughput (~15 workflows/s per orchestrator), so the workflows stay in flight through the faults instead of
 * finishing first.
 */
const MAX_CONCURRENT_WORKFLOWS = 16;
const PEER_DELAY = { minMs: 250, maxMs: 750 } as const;
/** The starts are sent within this long. */
const START_SPREAD_MS = 1_000;
/** Bounds of the waits of the harness (a loaded machine is slow); never a correctness margin. */
const READY_TIMEOUT_MS = 60_000;
const TAKEOVER_LIMIT_MS = 20_000;
/** How long the armed stop trap may wait for a peer answer (calls are always out: answers come every few ms). */
const TRAP_LIMIT_MS = 10_000;
const DRAIN_LIMIT_MS = 60_000;
const SHUTDOWN_TIMEOUT_MS = 10_000;
const SEED = Number(process.env['FAILOVER_SEED'] ?? Date.now() % 1_000_000_007);
const SAGA = SAGAS.payment;
// Set to check that the checks catch a reintroduced fencing bug: the run must then fail with violations.
const MUTANT = process.env['FAILOVER_MUTANT'] === undefined ? undefined : StoreMutant.parse(process.env['FAILOVER_MUTANT']);
const FINISHED = [...TERMINAL_WORKFLOW_STATUSES].map((s) => `'${s}'`).join(', ');

const dir = mkdtempSync(join(tmpdir(), 'onex-orchestrator-failover-'));
const children = new ChildProcesses({ readyTimeoutMs: READY_TIMEOUT_MS });
const schemas: TestSchema[] = [];
// Kept after a failure (or with FAILOVER_KEEP=1) for a post-mortem: journals, logs, runs.
let keepDir = true;
/** Ends whatever the test left running when it failed midway (starts, restarts). */
const teardown = new AbortController();

afterAll(async () => {
  teardown.abort();
  await children.killAll(10_000);
  await Promise.all(schemas.map((s) => s.drop()));
  if (keepDir) process.stdout.write(`failover: files of the run kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
});

/** Waits until `done()` answers true or `limitMs` passed; true when done. */
async function until(done: () => Promise<boolean> | boolean, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!(await done())) {
    if (Date.now() >= end) return false;
    await sleep(100);
  }
  return true;
}

/** The test's own reads of the workflow table. */
class WorkflowTable {
  readonly #pool: pg.Pool;
  readonly #table: string;

  constructor(target: PostgresTarget) {
    this.#pool = new pg.Pool({ connectionString: target.url, max: 2 });
    this.#table = `${pg.escapeIdentifier(target.schema)}.workflows`;
  }

  async counts(): Promise<{ readonly stored: number; readonly unfinished: number }> {
    const result = await this.#pool.query<{ stored: number; unfinished: number }>(
      `SELECT count(*)::int AS stored, (count(*) FILTER (WHERE status NOT IN (${FINISHED})))::int AS unfinished FROM ${this.#table}`,
    );
    const row = result.rows[0];
    return { stored: row?.stored ?? 0, unfinished: row?.unfinished ?? 0 };
  }

  /** Unfinished workflows `owner` holds (or held: a lease it lost to nobody yet), parked ones not due yet aside. */
  async heldBy(owner: string): Promise<number> {
    const result = await this.#pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.#table} WHERE owner = $1 AND status NOT IN (${FINISHED}) AND (wake_at IS NULL OR wake_at <= $2)`,
      [owner, Date.now()],
    );
    return result.rows[0]?.n ?? 0;
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}

/** Who held each workflow, from the journals: grants in epoch order, and which incarnation's commit finished it. */
function runsOf(journals: readonly Journal[]) {
  const grants = new Map<string, { readonly instance: string; readonly epoch: number; readonly via: string }[]>();
  const finishedBy = new Map<string, number>();
  for (const { instance, lines } of journals) {
    for (const line of lines) {
      if (line.k === 'grant') {
        let list = grants.get(line.id);
        if (list === undefined) grants.set(line.id, (list = []));
        list.push({ instance, epoch: line.epoch, via: line.via });
      } else if (line.k === 'commit' && line.finishes) {
        finishedBy.set(instance, (finishedBy.get(instance) ?? 0) + 1);
      }
    }
  }
  const ranBy = new Map<string, number>();
  let takeovers = 0;
  let moved = 0;
  const paths = new Map<string, string[]>();
  for (const [id, list] of grants) {
    list.sort((x, y) => x.epoch - y.epoch);
    const path: string[] = [];
    for (const grant of list) {
      if (path.at(-1) === grant.instance) continue;
      if (path.length > 0) takeovers += 1;
      path.push(grant.instance);
    }
    if (new Set(path).size > 1) moved += 1;
    for (const instance of new Set(path)) ranBy.set(instance, (ranBy.get(instance) ?? 0) + 1);
    paths.set(id, path);
  }
  return { takeovers, moved, ranBy, finishedBy, paths };
}

/** Counts in a stable order, for the summary. */
function tallyOf(counts: ReadonlyMap<string, number>): string {
  return JSON.stringify(Object.fromEntries([...counts].sort(([x], [y]) => x.localeCompare(y))));
}

describe('orchestrator failover on PostgreSQL at process level', () => {
  it(`loses none of ${WORKFLOWS} workflows and applies each effect once through ${SIGKILLS} SIGKILLs and a SIGSTOP past the lease`, async () => {
    const wallStart = Date.now();
    const random = new Prng(SEED);
    const harnessErrors: string[] = [];
    const track = (what: string, work: Promise<void>): Promise<void> =>
      work.catch((error: unknown) => {
        harnessErrors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      });

    // The schemas first — the workflow store's (as the store makes it) with its audit triggers, the peers' ledger
    // tables — then the processes.
    const url = postgresUrl();
    const workflowSchema = await freshSchema(url, 'failover_wf');
    const paySchema = await freshSchema(url, 'failover_pay');
    schemas.push(workflowSchema, paySchema);
    const store: PostgresTarget = { kind: 'postgres', url, schema: workflowSchema.name };
    const peerStore: PostgresTarget = { kind: 'postgres', url, schema: paySchema.name };
    const setup = new PostgresWorkflowStore({ connectionString: url, schema: store.schema, purgeIntervalMs: 0, maxConnections: 1 });
    await setup.init();
    await setup.close();
    await installPostgresStoreAudit(store);
    const ddl = new pg.Client({ connectionString: url });
    await ddl.connect();
    await ddl.query(postgresLedgerSchema(peerStore.schema));
    await ddl.end();
    const table = new WorkflowTable(store);

    const cluster = new ChaosCluster({
      dir,
      store,
      leaseMs: LEASE_MS,
      children,
      slots: SLOTS,
      saga: 'payment',
      peers: { postgres: peerStore, replicas: REPLICAS, delay: PEER_DELAY },
      maxConcurrentWorkflows: MAX_CONCURRENT_WORKFLOWS,
      ...(MUTANT === undefined ? {} : { mutant: MUTANT }),
    });
    await cluster.startPeers(SEED);
    await Promise.all(SLOTS.map((slot) => cluster.ready(cluster.startOrchestrator(slot, random.chance(0.5)))));

    // Every workflow started before the first fault.
    const starter = new WorkflowStarter({ cluster, total: WORKFLOWS, random: random.fork(1), signal: teardown.signal, saga: 'payment' });
    const startedAt = Date.now();
    await starter.run(START_SPREAD_MS, startedAt + READY_TIMEOUT_MS);
    const startMs = Date.now() - startedAt;

    const chaosStart = Date.now();
    const tally = { sigkill: 0, restarts: 0, sigstop: 0 };
    const background: Promise<void>[] = [];
    const faults: { readonly fault: string; readonly label: string; readonly inFlight: number }[] = [];
    let paused:
      | {
          readonly incarnation: Incarnation;
          /** The idempotency keys (`<workflow id>:<step>`) of the answers it held while stopped. */
          readonly trappedKeys: readonly string[];
          readonly stoppedAt: bigint;
          readonly stoppedMs: number;
          readonly heldAtStop: number;
          readonly heldAtResume: number;
          readonly before: Figures | undefined;
          readonly after: Figures | undefined;
        }
      | undefined;

    const restart = async (slot: Slot): Promise<void> => {
      await sleep(random.int(0, 600));
      const incarnation = cluster.startOrchestrator(slot, random.chance(0.5));
      tally.restarts += 1;
      await cluster.ready(incarnation);
    };

    const killedSlots = new Set<Slot>();
    const sigkill = async (): Promise<void> => {
      const up = cluster.upSlots();
      if (up.length === 0) {
        harnessErrors.push('SIGKILL skipped: no orchestrator was up');
        return;
      }
      const fresh = up.filter((slot) => !killedSlots.has(slot));
      const slot = random.pick(fresh.length > 0 ? fresh : up);
      killedSlots.add(slot);
      const { unfinished } = await table.counts();
      const killed = await cluster.kill(slot);
      tally.sigkill += 1;
      faults.push({ fault: 'sigkill', label: killed.label, inFlight: unfinished });
      background.push(track(`restart of slot ${slot}`, restart(slot)));
    };

    // SIGSTOP an orchestrator that holds runs with calls out, past two leases and until the others have claimed every
    // workflow it held (observed in the store), then SIGCONT it: the answers of its calls come in, and every commit
    // it then sends carries an epoch the store has moved past.
    const sigstop = async (): Promise<void> => {
      if (!(await until(() => cluster.upSlots().length === SLOTS.length, READY_TIMEOUT_MS))) {
        harnessErrors.push('SIGSTOP skipped: the orchestrators never were all up at once');
        return;
      }
      // The one holding the most workflows: an incarnation restarted under a new id may hold none (the others keep
      // theirs queued, renewed, for as long as they live), and one with no call out has no answer to stop with.
      const held = await Promise.all(SLOTS.map(async (s) => ({ slot: s, held: await table.heldBy(cluster.up(s)!.instanceId!) })));
      const most = Math.max(...held.map((h) => h.held));
      const slot = random.pick(held.filter((h) => h.held === most).map((h) => h.slot));
      const target = cluster.up(slot)!;
      const instanceId = target.instanceId!;
      const before = await cluster.figures(target);
      const { unfinished } = await table.counts();
      const heldAtStop = await table.heldBy(instanceId);
      const trapped = await cluster.trapStop(slot, TRAP_LIMIT_MS);
      const stopped = Date.now();
      tally.sigstop += 1;
      if (trapped === undefined) harnessErrors.push(`${target.label} got no peer answer within ${TRAP_LIMIT_MS} ms to stop at: SIGSTOPped as it was`);
      const stoppedAt = trapped?.at ?? process.hrtime.bigint();
      faults.push({ fault: 'sigstop', label: target.label, inFlight: unfinished });
      await sleep(2 * LEASE_MS + random.int(800, 1_600));
      if (!(await until(async () => (await table.heldBy(instanceId)) === 0, TAKEOVER_LIMIT_MS))) {
        harnessErrors.push(`the workflows of the stopped ${target.label} were not all taken over within ${TAKEOVER_LIMIT_MS} ms`);
      }
      const heldAtResume = await table.heldBy(instanceId);
      const stoppedMs = Date.now() - stopped;
      cluster.resume(target);
      await sleep(LEASE_MS);
      paused = { incarnation: target, trappedKeys: trapped?.keys ?? [], stoppedAt, stoppedMs, heldAtStop, heldAtResume, before, after: await cluster.figures(target) };
    };

    // Three SIGKILLs and the SIGSTOP in a random order, a second or two apart.
    const stopAt = random.int(0, SIGKILLS);
    for (let i = 0; i <= SIGKILLS; i += 1) {
      await sleep(random.int(i === 0 ? 200 : 1_000, i === 0 ? 800 : 2_500));
      await (i === stopAt ? sigstop() : sigkill());
    }

    // Heal: every restart done, whatever died by itself started again.
    await Promise.all(background);
    await cluster.heal(SEED + 2_000);
    const chaosMs = Date.now() - chaosStart;

    // Drain (bounded): every workflow of the schema terminal.
    const drainStart = Date.now();
    await until(async () => (await table.counts()).unfinished === 0, DRAIN_LIMIT_MS);
    const drainMs = Date.now() - drainStart;
    const { stored } = await table.counts();
    await table.close();

    await cluster.shutdown(SHUTDOWN_TIMEOUT_MS);
    expect(children.live, 'every child process has exited').toBe(0);

    // Judge.
    const reader = new PostgresWorkflowStore({ connectionString: url, schema: store.schema, purgeIntervalMs: 0, maxConnections: 2 });
    await reader.init();
    const workflows = new Map<string, WorkflowRecord | undefined>();
    for (const id of starter.ids.values()) workflows.set(id, await reader.get(id));
    await reader.close();
    const ledger = await readPostgresLedger(peerStore, cluster.refusalFiles());
    const journals: Journal[] = cluster.incarnations.filter((i) => existsSync(i.journal)).map((i) => readJournal(i.label, i.journal));
    const fencing = checkFencing(journals);
    const audit = await readPostgresStoreAudit(store);
    const violations: Violation[] = checkInvariants({
      workflows,
      unstarted: starter.unstarted().map(idempotencyKeyOf),
      compensable: SAGA.compensable,
      ledger,
      fencing: [...fencing.violations, ...audit],
    });

    // The paused instance's stale writes: those it sent after its SIGSTOP (it sent none while stopped) at an epoch it
    // had been granted before (after the resume it may claim workflows anew, and write at their new epochs). Each one
    // is refused, or accepted where nobody had taken the workflow over (legitimately: it still held the epoch).
    const pausedLines = paused === undefined ? [] : (journals.find((j) => j.instance === paused!.incarnation.label)?.lines ?? []);
    const stoppedAt = paused?.stoppedAt ?? 0n;
    const heldEpochs = new Set(pausedLines.filter((line) => line.k === 'grant' && BigInt(line.t) < stoppedAt).map((line) => `${line.id}:${line.epoch}`));
    const stale = pausedLines.filter((line) => line.k !== 'grant' && BigInt(line.t0) >= stoppedAt && heldEpochs.has(`${line.id}:${line.epoch}`));
    const pausedRefused = {
      epoch: stale.filter((line) => line.k === 'refused' && line.code === 'CONFLICT' && line.why === 'epoch').length,
      finished: stale.filter((line) => line.k === 'refused' && line.code === 'CONFLICT' && line.why === 'finished').length,
      accepted: stale.filter((line) => line.k === 'commit').length,
    };
    const fencedWritesRefused = pausedRefused.epoch + pausedRefused.finished;
    // The answers it held across the stop: what became of the first commit of each of their workflows.
    // (A step's key is `<workflow id>:<step>`, its compensation's `<workflow id>:<step>:compensate`.)
    const trappedOutcomes = (paused?.trappedKeys ?? []).map((key) => {
      const id = key.replace(/:compensate$/, '').replace(/:[^:]*$/, '');
      const line = stale.find((l) => l.id === id);
      return line === undefined ? 'none' : line.k === 'refused' ? `refused(${line.why})` : 'accepted';
    });
    const trappedTally = new Map<string, number>();
    for (const outcome of trappedOutcomes) trappedTally.set(outcome, (trappedTally.get(outcome) ?? 0) + 1);
    const pausedDelta = (pick: (f: Figures) => number): number =>
      paused?.after === undefined ? 0 : pick(paused.after) - (paused.before === undefined ? 0 : pick(paused.before));

    // The harness's own sanity: a planned refusal can never end completed.
    const refusedYetCompleted = [...starter.ids].filter(([n, id]) => SAGA.refusedByPlan(n) && workflows.get(id)?.status === WorkflowStatus.Completed);
    const statuses = new Map<string, number>();
    for (const record of workflows.values()) statuses.set(record?.status ?? 'missing', (statuses.get(record?.status ?? 'missing') ?? 0) + 1);
    const lost = starter.unstarted().length + [...workflows.values()].filter((r) => r === undefined || !TERMINAL_WORKFLOW_STATUSES.has(r.status)).length;
    const runs = runsOf(journals);
    const examples = [...runs.paths].filter(([, path]) => path.length > 1).slice(0, 3);
    writeFileSync(join(dir, 'runs.json'), JSON.stringify(Object.fromEntries(runs.paths), null, 1));
    const effects = [...ledger.entries().values()];
    const counts = countByInvariant(violations);
    const pausedSummary =
      paused === undefined
        ? '-'
        : `${paused.incarnation.label}(stopped ${(paused.stoppedMs / 1000).toFixed(1)}s held ${paused.heldAtStop} takenOver ${paused.heldAtStop - paused.heldAtResume} ` +
          `answersHeld ${paused.trappedKeys.length} their commits ${tallyOf(trappedTally)} staleAccepted ${pausedRefused.accepted} ` +
          `metrics(fencedWrites ${pausedDelta((f) => f.fencedWrites)} leaseLosses ${pausedDelta((f) => f.leaseLosses)}))`;
    const summary =
      `failover: workflows=${WORKFLOWS} seed=${SEED}${MUTANT === undefined ? '' : ` mutant=${MUTANT}`} orchestrators=${SLOTS.length} replicas=${REPLICAS} started=${starter.ids.size} stored=${stored} ` +
      `inFlightAtFaults=${JSON.stringify(faults.map((f) => `${f.fault} ${f.label} ${f.inFlight}`))} ` +
      `sigkill=${tally.sigkill} sigstop=${tally.sigstop} restarts=${tally.restarts} incarnations=${cluster.incarnations.length} ` +
      `completed=${statuses.get(WorkflowStatus.Completed) ?? 0} compensated=${statuses.get(WorkflowStatus.Compensated) ?? 0} ` +
      `compensationFailed=${statuses.get(WorkflowStatus.CompensationFailed) ?? 0} failed=${statuses.get(WorkflowStatus.Failed) ?? 0} ` +
      `paused=${pausedSummary} ` +
      `fencedWritesRefused=${fencedWritesRefused} (epoch ${pausedRefused.epoch} finished ${pausedRefused.finished}; all instances ${fencing.fencedByEpoch + fencing.refusedFinished}) ` +
      `acceptedCommits=${fencing.acceptedCommits} grants=${fencing.grants} takeovers=${runs.takeovers} movedWorkflows=${runs.moved} ` +
      `ranBy=${tallyOf(runs.ranBy)} finishedBy=${tallyOf(runs.finishedBy)} e.g.=${JSON.stringify(examples.map(([id, path]) => `${id.slice(0, 8)} ${path.join('→')}`))} ` +
      `effects(appliedOnce=${effects.filter((e) => e.applied === 1).length} appliedTwice=${effects.filter((e) => e.applied > 1).length} rows=${ledger.appliedRows} byReplica=${tallyOf(ledger.appliedBy)} ` +
      `refusedPlanned=${ledger.plannedRefusals} refusedLate=${ledger.lateForward}) startsResent=${starter.resent} unexpectedExits=${cluster.unexpectedExits.length} ` +
      `start=${(startMs / 1000).toFixed(1)}s chaos=${(chaosMs / 1000).toFixed(1)}s drain=${(drainMs / 1000).toFixed(1)}s wall=${((Date.now() - wallStart) / 1000).toFixed(1)}s ` +
      `lost=${lost} violations=${violations.length} ${JSON.stringify(counts)}`;
    process.stdout.write(`${summary}\n`);
    for (const v of violations.slice(0, 40)) {
      const record = workflows.get(v.workflowId);
      process.stdout.write(
        `failover violation ${v.invariant} ${v.workflowId}: ${v.reason} — ${record?.status ?? '(no record)'} epoch ${record?.epoch ?? '-'} owner ${record?.owner ?? '-'} runs ${runs.paths.get(v.workflowId)?.join('→') ?? '-'}\n`,
      );
    }
    for (const exit of cluster.unexpectedExits) process.stdout.write(`failover unexpected exit: ${exit}\n`);

    expect(harnessErrors).toEqual([]);
    expect(cluster.unexpectedExits, 'no process died by itself').toEqual([]);
    expect(starter.fatal).toBeUndefined();
    expect(stored, 'one stored workflow per idempotency key').toBe(WORKFLOWS);
    expect(faults[0]?.inFlight, `at least ${MIN_IN_FLIGHT} workflows in flight when the first fault hit`).toBeGreaterThanOrEqual(MIN_IN_FLIGHT);
    expect(lost, 'no workflow lost').toBe(0);
    expect(violations.map((v) => `${v.invariant} ${v.workflowId}: ${v.reason}`)).toEqual([]);
    expect(refusedYetCompleted).toEqual([]);
    // The faults really bit.
    expect(tally.sigkill).toBe(SIGKILLS);
    expect(tally.sigstop).toBe(1);
    expect(paused?.heldAtStop ?? 0, 'the stopped orchestrator held workflows').toBeGreaterThan(0);
    // The commits of the answers it held across the stop reached the store and were refused (a newer epoch holds
    // the workflow, or it finished meanwhile) — none accepted. (An answer that asks for a retry sends no commit: the
    // retry's backoff timer comes after the lease timer, which halts the run first: `none`.)
    expect(trappedOutcomes.length, 'the stopped orchestrator held peer answers').toBeGreaterThan(0);
    expect(
      trappedOutcomes.flatMap((o, i) => (o === 'accepted' ? [`${paused?.trappedKeys[i] ?? '?'}: ${o}`] : [])),
      'no commit it held was accepted',
    ).toEqual([]);
    expect(trappedOutcomes.filter((o) => o.startsWith('refused')).length, 'commits it held were refused').toBeGreaterThan(0);
    expect(fencedWritesRefused).toBeGreaterThan(0);
    expect(runs.takeovers, 'workflows were taken over').toBeGreaterThan(0);
    expect(statuses.get(WorkflowStatus.Completed) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(WorkflowStatus.Compensated) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(WorkflowStatus.CompensationFailed) ?? 0).toBeGreaterThan(0);
    keepDir = process.env['FAILOVER_KEEP'] === '1';
  }, 180_000);
});
