// PostgreSQL benchmark: ONEX's PostgresWorkflowStore (in-process peers, 3 sequential steps) against DBOS Transact 5.3
// on the same shape, on ONE PostgreSQL server with fsync on, beside the server's own floor measured in the same run
// (a one-row INSERT commit loop: 1 client, and 32 clients on a pg Pool). Then the scale curve: 1, 2 and 4 orchestrator
// child processes sharing that server, with where it bends (server CPU, wait events, client CPU).
//
// Run: pnpm bench (builds first), or `node bench/postgres.bench.mjs` after `pnpm build`. About 1.5 min.
// The server: DATABASE_URL when set (use one with fsync on), else an embedded PostgreSQL 17 started with
// `startPostgres({ durable: true })` (fsync, synchronous_commit and full_page_writes on) and stopped at the end.
// BENCH_QUICK=1 shortens every figure (a smoke run; figures are then rough); BENCH_PART=scale runs the scale curve only.
//
// DBOS (@dbos-inc/dbos-sdk) is a root devDependency for this file only; no published package depends on it.
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { z } from 'zod';
import { createInProcessClient, createSilentLogger, defineContract, NodeKind, NodeService } from '../packages/core/dist/index.js';
import { defineOrchestrator, defineWorkflow, Orchestrator, peer } from '../packages/orchestrator/dist/index.js';
import { PostgresWorkflowStore } from '../packages/orchestrator/dist/postgres.js';

const QUICK = process.env.BENCH_QUICK === '1';
/** Time per system per round, ms, sequential figure; rounds alternate ONEX and DBOS. */
const SEQ_ROUND_MS = QUICK ? 300 : 700;
const SEQ_ROUNDS = QUICK ? 2 : 5;
/** The concurrent figure: started at once, rounds per system. */
const CONCURRENCY = 1000;
const CONC_ROUNDS = QUICK ? 1 : 2;
/** Finished workflows put in a second ONEX schema (and the scale curve's): a store that has run a while. */
const PREFILL_ROWS = 100_000;
/** The floor: time per loop, and clients of the concurrent loop (as pgbench -c 32). */
const FLOOR_MS = QUICK ? 1000 : 2000;
const FLOOR_CLIENTS = 32;
/** The scale curve: orchestrator processes, in flight per process, measured window. */
const SCALE_PROCESSES = (process.env.BENCH_SCALE_PROCESSES ?? '1,2,4').split(',').map(Number);
const SCALE_CONCURRENCY = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 256);
const SCALE_WINDOW_MS = QUICK ? 1500 : 3000;
const SCALE_RAMP_MS = QUICK ? 1500 : 2000;

// Targets and the issue's baselines (measured on this machine kind, PERFORMANCE.md): quoted beside the same-run figures.
const ISSUE = { dbosSeqPerSec: 148, dbosP50Ms: 6.0, dbosConcPerSec: 339, commitMs: 0.15, commitsPerSec32: 24_000, floorCommits: 5 };
const TARGET_THROUGHPUT_RATIO = 5;
const TARGET_P50_RATIO = 1 / 3;

// ---------- the workflow shape: 3 sequential in-process steps ----------
const contract = defineContract({
  name: 'step',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ value: z.number() }),
  output: z.object({ value: z.number() }),
});
const work = (input) => ({ value: input.value + 1 });

class StepNode extends NodeService {
  constructor() {
    super(contract, { logger: createSilentLogger() });
  }
  async process(input) {
    return work(input);
  }
}

const ref = (name) => peer(name, contract);
const Value = z.object({ value: z.number() });
const workflow = defineWorkflow({ type: 'three-steps', version: '1.0.0', input: Value, output: Value })
  .step('a', { target: ref('a'), input: ({ input }) => input })
  .step('b', { target: ref('b'), dependsOn: ['a'], input: ({ steps }) => steps.a })
  .step('c', { target: ref('c'), dependsOn: ['b'], input: ({ steps }) => steps.b })
  .returns(({ steps }) => ({ value: steps.c?.value ?? -1 }));

/** A pg Pool whose `query` counts calls by prepared-statement name (the store's round trips). */
function countingPool(url, max) {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  const counts = new Map();
  const query = pool.query.bind(pool);
  pool.query = (config, ...rest) => {
    const name = typeof config === 'object' && config !== null ? String(config.name ?? 'unnamed').replace(/^onexwf_[0-9a-f]+_/, '') : 'text';
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return query(config, ...rest);
  };
  return { pool, counts };
}

async function startOnex(url, schema, options = {}) {
  const nodes = { a: new StepNode(), b: new StepNode(), c: new StepNode() };
  for (const n of Object.values(nodes)) await n.initialize();
  const peers = Object.fromEntries(Object.entries(nodes).map(([k, n]) => [k, createInProcessClient(n)]));
  // maxConnections 10 = DBOS's default system-database pool size: the same number of connections for both.
  const { pool, counts } = countingPool(url, 10);
  const store = new PostgresWorkflowStore({ pool, schema, purgeIntervalMs: 0 });
  const orchestrator = new Orchestrator(defineOrchestrator({ workflows: [workflow] }), { store, peers, logger: createSilentLogger(), ...options });
  await orchestrator.initialize();
  return {
    store,
    counts,
    figures: () => orchestrator.stats(),
    run: async (i) => {
      const id = await orchestrator.start('three-steps', { value: i });
      const outcome = await orchestrator.result(id);
      if (outcome.status !== 'completed') throw new Error(`ONEX workflow ${id} ended ${outcome.status}`);
    },
    close: async () => {
      await orchestrator.shutdown();
      await pool.end();
    },
  };
}

// ---------- measurement helpers ----------
function stats(samplesMs, wallMs) {
  const s = [...samplesMs].sort((x, y) => x - y);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { n: s.length, mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), p50: q(0.5), p99: q(0.99), perSec: (s.length / wallMs) * 1000 };
}

/** Runs `fn` one call at a time for `ms`; appends latencies to `samples`; answers the wall time used. */
async function sequentialFor(fn, ms, samples) {
  const start = performance.now();
  let i = 0;
  while (performance.now() - start < ms) {
    const t = performance.now();
    await fn(i++);
    samples.push(performance.now() - t);
  }
  return performance.now() - start;
}

/**
 * Closed loop: `concurrency` callers each start the next call when theirs ends. Completions are counted in a window of
 * `windowMs` after a ramp of `rampMs` (so the start-up burst and the final drain are not counted); then callers stop
 * and the calls in flight drain. Answers completions/s in the window, latency of the calls that ended in it, and the
 * wall time of the drain.
 */
async function closedLoop(fn, concurrency, rampMs, windowMs, onWindow) {
  let stop = false;
  let i = 0;
  let windowStart = Infinity;
  let windowEnd = Infinity;
  const samples = [];
  const t0 = performance.now();
  const errors = [];
  const timer = setTimeout(() => {
    windowStart = performance.now();
    onWindow?.('start');
    setTimeout(() => {
      windowEnd = performance.now();
      onWindow?.('end');
      stop = true;
    }, windowMs);
  }, rampMs);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stop) {
        const t = performance.now();
        try {
          await fn(i++);
        } catch (error) {
          errors.push(error);
          if (errors.length > 10) stop = true;
          continue;
        }
        const end = performance.now();
        if (end >= windowStart && end < windowEnd) samples.push(end - t);
      }
    }),
  );
  clearTimeout(timer);
  if (errors.length > 0) throw new Error(`${errors.length} calls failed; first: ${errors[0]?.stack ?? errors[0]}`);
  const r = stats(samples, windowEnd - windowStart);
  return { ...r, drainMs: performance.now() - t0 - rampMs - windowMs };
}

const fmt = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);
const num = (n) => Math.round(n).toLocaleString('en');
const met = (ok) => (ok ? 'MET' : 'NOT MET');

// ---------- server statistics ----------

/**
 * CPU seconds used so far by this server's processes: the postmaster (the parent of `backendPid`, a backend of this
 * server) and its children, live or ended, from /proc. NaN when the server is not on this machine. Other PostgreSQL servers on the
 * machine (other people's tests) are not counted.
 */
function postgresCpuSeconds(backendPid) {
  const statOf = (pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime + stime, and cutime + cstime (children already reaped: backends that ended); USER_HZ is 100.
    return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / 100, reaped: (Number(f[13]) + Number(f[14])) / 100 };
  };
  let postmaster;
  try {
    postmaster = statOf(backendPid).ppid;
  } catch {
    return Number.NaN;
  }
  let seconds = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const s = statOf(pid);
      if (Number(pid) === postmaster) seconds += s.cpu + s.reaped;
      else if (s.ppid === postmaster) seconds += s.cpu;
    } catch {
      // the process ended meanwhile
    }
  }
  return seconds;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineCpu() {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const v = f.map(Number);
  const idle = v[3] + v[4];
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}

/** Which statement a backend runs, from its query text: the store's by their shape, DBOS's and others by their start. */
function statementOf(query) {
  if (/AS r\(ord int, id text, type text/.test(query)) return 'onex create (batch)';
  if (/jsonb_to_recordset/.test(query)) return 'onex commit (batch)';
  if (/^WITH upd AS \(\s*UPDATE \S+\.workflows w SET\s+status/.test(query)) return 'onex commit';
  if (/^WITH ins AS/.test(query)) return 'onex create';
  if (/awake AS/.test(query)) return 'onex claim';
  if (/lease_expires_at = \$4/.test(query)) return 'onex renew';
  return query.replace(/\s+/g, ' ').slice(0, 40);
}

/**
 * Samples pg_stat_activity every `everyMs` until stopped: mean active backends by wait event, and for lock waits
 * (wait type Lock) which statements wait. It has a connection of its own (a pg client runs one query at a time; the
 * admin client's reads overlap the samples), and leaves out its own backend and the admin's (`adminPid`).
 */
function activitySampler(url, adminPid, everyMs = 20) {
  const client = new pg.Client({ connectionString: url });
  const connected = client.connect();
  const tally = new Map();
  const lockers = new Map();
  let samples = 0;
  let activeSum = 0;
  let running = true;
  const loop = (async () => {
    await connected;
    while (running) {
      const { rows } = await client.query(
        `SELECT wait_event_type AS type, COALESCE(wait_event_type || ':' || wait_event, 'CPU (no wait)') AS wait, query FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND pid <> $1 AND state = 'active'`,
        [adminPid],
      );
      samples += 1;
      activeSum += rows.length;
      for (const r of rows) {
        tally.set(r.wait, (tally.get(r.wait) ?? 0) + 1);
        if (r.type === 'Lock') {
          const key = `${r.wait} in ${statementOf(r.query)}`;
          lockers.set(key, (lockers.get(key) ?? 0) + 1);
        }
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  const top = (m, n) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${k} ${(v / samples).toFixed(2)}`);
  return {
    stop: async () => {
      running = false;
      await loop;
      await client.end();
      const mean = (test) => [...tally].filter(([k]) => test(k)).reduce((a, [, v]) => a + v, 0) / Math.max(1, samples);
      return {
        samples,
        meanActive: activeSum / Math.max(1, samples),
        top: top(tally, 5),
        locks: top(lockers, 3),
        // Mean backends waiting on a heavyweight lock, on the WAL (insert, write, flush), and running on CPU.
        lockMean: mean((k) => k.startsWith('Lock:')),
        walMean: mean((k) => /^(LWLock:WAL|IO:Wal)/.test(k)),
        cpuMean: mean((k) => k === 'CPU (no wait)'),
      };
    },
  };
}

/** Starts `k` calls at once and waits for all: completions per second over the burst, and each call's latency. */
async function burst(fn, k, offset = 0) {
  const samples = new Array(k);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: k }, async (_, j) => {
      const t = performance.now();
      await fn(offset + j);
      samples[j] = performance.now() - t;
    }),
  );
  return stats(samples, performance.now() - start);
}

/**
 * Round trips and writes per call of `fn`, run one at a time `n` times: every pg query sent by any client of this
 * process (counted on pg.Client.prototype.query, which DBOS's pg and ours share), transaction ids assigned on the
 * server (one per write transaction: exact at once, unlike pg_stat_database, which backends flush up to seconds late)
 * and WAL bytes written. The admin client's own reads are taken off.
 */
async function perCall(admin, fn, n) {
  const read = async () => (await admin.query(`SELECT pg_snapshot_xmax(pg_current_snapshot())::text::float8 AS xid, pg_current_wal_lsn() AS lsn`)).rows[0];
  const proto = pg.Client.prototype;
  const original = proto.query;
  let queries = 0;
  const a = await read();
  proto.query = function counted(...args) {
    queries += 1;
    return original.apply(this, args);
  };
  try {
    for (let i = 0; i < n; i += 1) await fn(i);
  } finally {
    proto.query = original;
  }
  const b = await read();
  const wal = await admin.query('SELECT pg_wal_lsn_diff($1, $2)::float8 AS bytes', [b.lsn, a.lsn]);
  return { roundTrips: queries / n, writeTransactions: (b.xid - a.xid) / n, walBytes: wal.rows[0].bytes / n };
}

/** Fills an ONEX schema (created by the store's init) with `n` finished workflows, as a store that has run a while holds. */
async function prefill(admin, schema, n) {
  const now = Date.now();
  await admin.query(
    `INSERT INTO ${pg.escapeIdentifier(schema)}.workflows (id, type, version, status, input, output, correlation_id, created_at, updated_at, epoch)
     SELECT 'old-' || g, 'three-steps', '1.0.0', 'completed', '{"value":0}', '{"value":3}', 'old', $1::float8 + g, $1::float8 + g, 1
     FROM generate_series(1, $2::int) g`,
    [now - 86_400_000, n],
  );
  await admin.query(`ANALYZE ${pg.escapeIdentifier(schema)}.workflows`);
}

async function rowCount(admin, schema) {
  const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(schema)}.workflows`);
  return rows[0].n;
}

/** The plan PostgreSQL uses for the store's commit statement (generic, as after five executions of a prepared one). */
async function commitPlanScans(admin, schema) {
  const { postgresStatements } = await import('../packages/orchestrator/dist/store/postgres-store.js');
  const text = postgresStatements(schema).commit;
  const client = admin;
  await client.query('BEGIN');
  try {
    await client.query("SET LOCAL plan_cache_mode = 'force_generic_plan'");
    await client.query(`PREPARE bench_commit_plan AS ${text}`);
    const { rows } = await client.query(`EXPLAIN EXECUTE bench_commit_plan('[]', 'bench', '{}')`);
    await client.query('DEALLOCATE bench_commit_plan');
    const plan = rows.map((r) => r['QUERY PLAN']);
    const seq = plan.filter((l) => /Seq Scan on workflows/.test(l)).length;
    return seq === 0 ? 'index scans only' : `${seq} sequential scan${seq === 1 ? '' : 's'} of workflows`;
  } finally {
    await client.query('ROLLBACK');
  }
}

/**
 * The issue's floor tool, when it is on this machine: pgbench with the same one-row INSERT (prepared), `clients`
 * connections, for `seconds`. Answers commits/s and mean latency, or undefined when pgbench is missing or fails.
 */
function pgbench(url, clients, seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'onex-pgbench-'));
  try {
    const script = join(dir, 'insert.sql');
    writeFileSync(script, 'INSERT INTO bench_floor (v) VALUES (1);\n');
    const r = spawnSync('pgbench', ['-n', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), '-f', script, url], {
      encoding: 'utf8',
      timeout: (seconds + 20) * 1000,
    });
    if (r.status !== 0) return undefined;
    const tps = /tps = ([\d.]+)/.exec(r.stdout);
    const latency = /latency average = ([\d.]+) ms/.exec(r.stdout);
    return tps ? { perSec: Number(tps[1]), meanMs: latency ? Number(latency[1]) : Number.NaN } : undefined;
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------- child mode: one orchestrator process of the scale curve ----------
async function child() {
  const { url, schema, concurrency, rampMs, windowMs } = JSON.parse(process.argv[3]);
  const onex = await startOnex(url, schema);
  // Warm-up: JIT, the pool's connections and the prepared statements.
  for (let i = 0; i < 200; i += 1) await onex.run(i);
  await burst(onex.run, concurrency);
  process.send({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
  let cpu0;
  let elu0;
  let cpuSeconds;
  let elu;
  const health0 = (await onex.store.health()).data?.commits;
  const r = await closedLoop(onex.run, concurrency, rampMs, windowMs, (edge) => {
    if (edge === 'start') {
      cpu0 = process.cpuUsage();
      elu0 = performance.eventLoopUtilization();
    } else {
      const c = process.cpuUsage(cpu0);
      cpuSeconds = (c.user + c.system) / 1e6;
      elu = performance.eventLoopUtilization(elu0).utilization;
    }
  });
  const health1 = (await onex.store.health()).data?.commits;
  const f = onex.figures();
  const figures = { started: f.started, finished: f.finished, recovered: f.recovered, leaseLosses: f.leaseLosses, fencedWrites: f.fencedWrites, stepRetries: f.stepRetries };
  await onex.close();
  const commitsPerStatement = health0 && health1 ? (health1.commits - health0.commits) / Math.max(1, health1.statements - health0.statements) : Number.NaN;
  process.send({ done: true, perSec: r.perSec, n: r.n, p50: r.p50, p99: r.p99, cpuSeconds, elu, commitsPerStatement, figures });
  process.disconnect();
}

/** One point of the scale curve: `processes` orchestrator processes on one schema, each with `SCALE_CONCURRENCY` in flight. */
async function scaleRun(url, schema, processes, admin, backendPid) {
  // Each process starts its SCALE_CONCURRENCY workflows at once: their creates (one statement each) come first, so the
  // window opens once the loop is past them.
  const rampMs = SCALE_RAMP_MS;
  const children = Array.from({ length: processes }, () =>
    fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify({ url, schema, concurrency: SCALE_CONCURRENCY, rampMs, windowMs: SCALE_WINDOW_MS })], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.env.BENCH_CHILD_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CHILD_PROF}`] : [],
    }),
  );
  const inboxes = children.map((c) => {
    const queue = [];
    let wake;
    c.on('message', (m) => {
      queue.push(m);
      wake?.();
    });
    c.on('exit', (code) => {
      if (code !== 0) queue.push({ error: `an orchestrator process exited with code ${code}` });
      wake?.();
    });
    return async () => {
      while (queue.length === 0) await new Promise((r) => (wake = r));
      const m = queue.shift();
      if (m.error !== undefined) throw new Error(m.error);
      return m;
    };
  });
  await Promise.all(inboxes.map((next) => next()));
  for (const c of children) c.send({ go: true });
  // The children count completions from rampMs after go, for SCALE_WINDOW_MS; the server figures cover the same span.
  await new Promise((r) => setTimeout(r, rampMs));
  const sampler = activitySampler(url, backendPid);
  const pgA = postgresCpuSeconds(backendPid);
  const mA = machineCpu();
  const sA = await admin.query('SELECT wal_sync::float8 AS syncs FROM pg_stat_wal');
  const xA = (await admin.query('SELECT pg_snapshot_xmax(pg_current_snapshot())::text::float8 AS xid')).rows[0].xid;
  const tA = performance.now();
  await new Promise((r) => setTimeout(r, SCALE_WINDOW_MS));
  const elapsed = (performance.now() - tA) / 1000;
  const pgB = postgresCpuSeconds(backendPid);
  const mB = machineCpu();
  const xB = (await admin.query('SELECT pg_snapshot_xmax(pg_current_snapshot())::text::float8 AS xid')).rows[0].xid;
  const activity = await sampler.stop();
  const results = await Promise.all(inboxes.map((next) => next()));
  // pg_stat_wal is flushed by busy backends about once a second: read after the window, and over a window of seconds.
  await new Promise((r) => setTimeout(r, 1100));
  const sB = await admin.query('SELECT wal_sync::float8 AS syncs FROM pg_stat_wal');
  const perSec = results.reduce((a, r) => a + r.perSec, 0);
  return {
    processes,
    perSec,
    perProcess: results.map((r) => r.perSec),
    p50: results.map((r) => r.p50),
    orchestratorCpuCores: results.reduce((a, r) => a + r.cpuSeconds, 0) / (SCALE_WINDOW_MS / 1000),
    elu: results.map((r) => r.elu),
    commitsPerStatement: results.map((r) => r.commitsPerStatement),
    figures: results.map((r) => r.figures),
    pgCpuCores: (pgB - pgA) / elapsed,
    machineBusy: (mB.busy - mA.busy) / (mB.total - mA.total),
    writeTxPerWf: (xB - xA) / (perSec * elapsed),
    walSyncsPerSec: (sB.rows[0].syncs - sA.rows[0].syncs) / elapsed,
    activity,
  };
}

// ---------- main ----------
async function main() {
  const { startPostgres } = await import('../tooling/test-postgres/dist/index.js');
  const server = await startPostgres({ durable: true });
  const url = server.url;
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => undefined);
  await admin.connect();
  const backendPid = (await admin.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const st = (
    await admin.query(
      `SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync,
              current_setting('wal_sync_method') AS method, current_setting('full_page_writes') AS fpw, current_setting('shared_buffers') AS sb`,
    )
  ).rows[0];
  console.log(
    `PostgreSQL ${st.version} (${server.source === 'env' ? 'DATABASE_URL' : 'embedded, started for this run'}): fsync=${st.fsync} synchronous_commit=${st.sync} ` +
      `wal_sync_method=${st.method} full_page_writes=${st.fpw} shared_buffers=${st.sb}`,
  );
  if (st.fsync !== 'on' || st.sync === 'off') console.log('  WARNING: this server does not make commits durable; the figures are not comparable to the issue.');
  const loadAtStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`machine: ${readdirSync('/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d)).length} cores, load average ${loadAtStart} at start (other work shares them)`);

  const ts = Date.now().toString(36);
  let dbosLaunched = false;
  const { DBOS } = await import('@dbos-inc/dbos-sdk');
  const opened = [];
  try {
    if (process.env.BENCH_PART !== 'scale') {
      // ----- the floor: a one-row INSERT commit loop, run in the same interleaved rounds as the systems -----
      await admin.query('DROP TABLE IF EXISTS bench_floor; CREATE TABLE bench_floor (id bigserial PRIMARY KEY, v int NOT NULL)');
      const floorPool = new pg.Pool({ connectionString: url, max: FLOOR_CLIENTS });
      floorPool.on('error', () => undefined); // pg-pool's end() can resolve before the server has seen every client go
      const insert = (p, i) => p.query({ name: 'floor_insert', text: 'INSERT INTO bench_floor (v) VALUES ($1)', values: [i] });
      const floorOne = await floorPool.connect();
      for (let i = 0; i < 200; i += 1) await insert(floorOne, i);

      // ----- the systems -----
      const dbosUrl = new URL(url);
      dbosUrl.pathname = '/dbos_bench';
      DBOS.setConfig({ name: 'onex-bench', systemDatabaseUrl: dbosUrl.toString(), logLevel: 'error' });
      const dbosWorkflow = DBOS.registerWorkflow(
        async (value) => {
          let v = { value };
          v = await DBOS.runStep(async () => work(v), { name: 'a' });
          v = await DBOS.runStep(async () => work(v), { name: 'b' });
          v = await DBOS.runStep(async () => work(v), { name: 'c' });
          return v;
        },
        { name: 'threeSteps' },
      );
      await DBOS.launch();
      dbosLaunched = true;
      const dbosRun = async (i) => {
        const r = await dbosWorkflow(i);
        if (r.value !== i + 3) throw new Error(`DBOS workflow answered ${JSON.stringify(r)}`);
      };
      const freshSchema = `onex_fresh_${ts}`;
      const filledSchema = `onex_filled_${ts}`;
      const fresh = await startOnex(url, freshSchema);
      opened.push(fresh);
      const filled = await startOnex(url, filledSchema);
      opened.push(filled);
      await prefill(admin, filledSchema, PREFILL_ROWS);
      // The same, with room to run all 1,000 at once (the default runs 256 and queues the rest): concurrent figure only.
      const wideSchema = `onex_wide_${ts}`;
      const wide = await startOnex(url, wideSchema, { maxConcurrentWorkflows: CONCURRENCY });
      opened.push(wide);
      await prefill(admin, wideSchema, PREFILL_ROWS);
      const all = [
        { key: 'onex', label: 'ONEX, fresh schema', run: fresh.run, counts: fresh.counts, seq: true },
        { key: 'onexFilled', label: `ONEX, ${num(PREFILL_ROWS)} finished rows`, run: filled.run, counts: filled.counts, seq: true },
        { key: 'onexWide', label: `ONEX, same, ${CONCURRENCY} running at once`, run: wide.run, counts: wide.counts, seq: false },
        { key: 'dbos', label: 'DBOS 5.3', run: dbosRun, seq: true },
      ];
      const systems = all.filter((x) => x.seq);
      for (let i = 0; i < 300; i += 1) for (const s of all) await s.run(i); // warm-up: JIT, connections, prepared statements
      const plans = { before: await commitPlanScans(admin, freshSchema), filled: await commitPlanScans(admin, filledSchema) };
      const calls = {};
      for (const s of systems) calls[s.key] = await perCall(admin, s.run, 100);

      // Concurrency 1: rounds alternate the floor and every system, so load from other work hits them alike.
      const floorSeq = { samples: [], wall: 0 };
      const seq = Object.fromEntries(systems.map((s) => [s.key, { samples: [], wall: 0, cpuMs: 0, elu: [] }]));
      for (let round = 0; round < SEQ_ROUNDS; round += 1) {
        floorSeq.wall += await sequentialFor((i) => insert(floorOne, i), SEQ_ROUND_MS, floorSeq.samples);
        for (const s of systems) {
          const m = seq[s.key];
          const e0 = performance.eventLoopUtilization();
          const c0 = process.cpuUsage();
          m.wall += await sequentialFor(s.run, SEQ_ROUND_MS, m.samples);
          const c = process.cpuUsage(c0);
          m.cpuMs += (c.user + c.system) / 1000;
          m.elu.push(performance.eventLoopUtilization(e0).utilization);
        }
      }
      floorOne.release();
      const floor1 = stats(floorSeq.samples, floorSeq.wall);
      const rowsAfterSeq = await rowCount(admin, freshSchema);
      const one1 = Object.fromEntries(systems.map((s) => [s.key, stats(seq[s.key].samples, seq[s.key].wall)]));

      // Concurrency 1,000: each round runs the 32-client floor, then one burst per system.
      const floor32Rounds = [];
      const conc = Object.fromEntries(all.map((s) => [s.key, []]));
      let offset = 1_000_000;
      for (let round = 0; round < CONC_ROUNDS; round += 1) {
        floor32Rounds.push(await closedLoop((i) => insert(floorPool, i), FLOOR_CLIENTS, 300, FLOOR_MS));
        for (const s of all) {
          const before = new Map(s.counts ?? []);
          const sampler = activitySampler(url, backendPid);
          const pgA = postgresCpuSeconds(backendPid);
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          const r = await burst(s.run, CONCURRENCY, offset);
          const seconds = (performance.now() - t0) / 1000;
          const c = process.cpuUsage(c0);
          const pgCpu = (postgresCpuSeconds(backendPid) - pgA) / seconds;
          offset += CONCURRENCY;
          const statements = s.counts === undefined ? undefined : [...s.counts].map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / CONCURRENCY]).filter(([, v]) => v >= 0.001);
          conc[s.key].push({ ...r, pgCpu, nodeCpu: (c.user + c.system) / 1e6 / seconds, activity: await sampler.stop(), statements });
        }
      }
      await floorPool.end();
      const best = (rs) => rs.reduce((a, b) => (b.perSec > a.perSec ? b : a));
      const floor32 = best(floor32Rounds);
      const floorWfP50 = ISSUE.floorCommits * floor1.p50;
      const floorWfPerSec = floor32.perSec / ISSUE.floorCommits;
      // The issue's own tool, once, after the rounds (it is a separate process: not interleaved).
      const bench1 = pgbench(url, 1, FLOOR_MS / 1000);
      const bench32 = pgbench(url, FLOOR_CLIENTS, FLOOR_MS / 1000);
      const rowsAfterConc = await rowCount(admin, freshSchema);
      plans.after = await commitPlanScans(admin, freshSchema);
      const many = Object.fromEntries(all.map((s) => [s.key, best(conc[s.key])]));
      const health = {
        'fresh': (await fresh.store.health()).data,
        'filled': (await filled.store.health()).data,
        [`${CONCURRENCY} running`]: (await wide.store.health()).data,
      };

      // ----- report -----
      console.log(`\nFloor: one-row INSERT commit (autocommit, fsync on), same server, in the same interleaved rounds as the systems`);
      console.log(`  1 client:   p50 ${fmt(floor1.p50)}  mean ${fmt(floor1.mean)}  p99 ${fmt(floor1.p99)}  ${num(floor1.perSec)} commits/s   (issue's pgbench: ${ISSUE.commitMs} ms)`);
      console.log(
        `  ${FLOOR_CLIENTS} clients: ${num(floor32.perSec)} commits/s, p50 ${fmt(floor32.p50)} (rounds ${floor32Rounds.map((r) => num(r.perSec)).join(', ')})   ` +
          `(issue's pgbench: ~${num(ISSUE.commitsPerSec32)}/s; here one Node process drives the ${FLOOR_CLIENTS} connections)`,
      );
      if (bench1 !== undefined && bench32 !== undefined) {
        console.log(`  pgbench (the issue's tool, same INSERT, after the rounds): 1 client mean ${fmt(bench1.meanMs)} (${num(bench1.perSec)}/s); ${FLOOR_CLIENTS} clients ${num(bench32.perSec)} commits/s`);
      } else console.log('  pgbench: not on this machine (or it failed); only the pg Pool floor above');
      console.log(`  => floor of a ${ISSUE.floorCommits}-commit workflow: p50 ${fmt(floorWfP50)}, ~${num(floorWfPerSec)} wf/s   (issue: 0.75 ms, ~4,800 wf/s)`);

      const row = (label, r, extra = '') =>
        console.log(`  ${label.padEnd(36)} p50 ${fmt(r.p50).padStart(9)}  p99 ${fmt(r.p99).padStart(9)}  mean ${fmt(r.mean).padStart(9)}  ${num(r.perSec).padStart(6)} wf/s${extra}`);
      console.log(`\nConcurrency 1 (${SEQ_ROUNDS} interleaved rounds of ${SEQ_ROUND_MS} ms per system and the floor)`);
      for (const s of systems) row(s.label, one1[s.key], s.key === 'dbos' ? `   (issue: p50 ${ISSUE.dbosP50Ms} ms, ${ISSUE.dbosSeqPerSec} wf/s)` : '');
      console.log(`Concurrency ${CONCURRENCY} (${CONCURRENCY} started at once, until all end; best of ${CONC_ROUNDS} interleaved rounds)`);
      for (const s of all) {
        row(s.label, many[s.key], `   (rounds ${conc[s.key].map((r) => num(r.perSec)).join(', ')}${s.key === 'dbos' ? `; issue: ${ISSUE.dbosConcPerSec} wf/s` : ''})`);
      }

      // Every figure with its baseline, ratio and target: DBOS and the floor from this run.
      const dbos1 = one1.dbos;
      const dbosC = many.dbos;
      const verdicts = [];
      const FIGURE_WIDTH = Math.max(...all.map((s) => s.label.length)) + 24;
      const line = (figure, value, baseline, ratio, target, ok) => {
        if (ok !== undefined) verdicts.push(ok);
        console.log(`  ${figure.padEnd(FIGURE_WIDTH)} ${value.padStart(11)}  ${baseline.padEnd(24)} ${`${ratio.toFixed(2)}×`.padStart(7)}  ${target.padEnd(9)} ${ok === undefined ? '' : met(ok)}`);
      };
      console.log(`\nAgainst the targets (issue 11; DBOS and the floor from this run)`);
      console.log(`  ${'figure'.padEnd(FIGURE_WIDTH)} ${'ONEX'.padStart(11)}  ${'baseline'.padEnd(24)} ${'ratio'.padStart(7)}  ${'target'.padEnd(9)} result`);
      for (const s of all.filter((x) => x.key !== 'dbos')) {
        if (s.seq) {
          const o = one1[s.key];
          line(`${s.label}: p50 at 1`, fmt(o.p50), `DBOS ${fmt(dbos1.p50)}`, o.p50 / dbos1.p50, '≤ 0.33×', o.p50 / dbos1.p50 <= TARGET_P50_RATIO);
          line(`${s.label}: p50 at 1`, fmt(o.p50), `floor ${fmt(floorWfP50)}`, o.p50 / floorWfP50, '(none)');
          line(`${s.label}: p99 at 1`, fmt(o.p99), `DBOS ${fmt(dbos1.p99)}`, o.p99 / dbos1.p99, '(none)');
          line(`${s.label}: throughput at 1`, `${num(o.perSec)}/s`, `DBOS ${num(dbos1.perSec)}/s`, o.perSec / dbos1.perSec, '(none)');
        }
        const m = many[s.key];
        line(`${s.label}: throughput at ${num(CONCURRENCY)}`, `${num(m.perSec)}/s`, `DBOS ${num(dbosC.perSec)}/s`, m.perSec / dbosC.perSec, '≥ 5×', m.perSec / dbosC.perSec >= TARGET_THROUGHPUT_RATIO);
        line(`${s.label}: throughput at ${num(CONCURRENCY)}`, `${num(m.perSec)}/s`, `floor ${num(floorWfPerSec)}/s`, m.perSec / floorWfPerSec, '(none)');
      }
      line('DBOS: p50 at 1', fmt(dbos1.p50), `floor ${fmt(floorWfP50)}`, dbos1.p50 / floorWfP50, '(none)');
      line(`DBOS: throughput at ${num(CONCURRENCY)}`, `${num(dbosC.perSec)}/s`, `floor ${num(floorWfPerSec)}/s`, dbosC.perSec / floorWfPerSec, '(none)');
      console.log(
        `  against the issue's figures (another sitting): ONEX best p50 ${fmt(Math.min(one1.onex.p50, one1.onexFilled.p50))} = ` +
          `${(Math.min(one1.onex.p50, one1.onexFilled.p50) / ISSUE.dbosP50Ms).toFixed(2)}× DBOS's ${ISSUE.dbosP50Ms} ms and ` +
          `${(Math.min(one1.onex.p50, one1.onexFilled.p50) / (ISSUE.floorCommits * ISSUE.commitMs)).toFixed(1)}× the ${ISSUE.floorCommits * ISSUE.commitMs} ms floor; ` +
          `best at ${num(CONCURRENCY)} ${num(Math.max(many.onex.perSec, many.onexFilled.perSec))} wf/s (defaults) = ` +
          `${(Math.max(many.onex.perSec, many.onexFilled.perSec) / ISSUE.dbosConcPerSec).toFixed(2)}× DBOS's ${ISSUE.dbosConcPerSec} and ` +
          `${(Math.max(many.onex.perSec, many.onexFilled.perSec) / (ISSUE.commitsPerSec32 / ISSUE.floorCommits)).toFixed(2)}× the ${num(ISSUE.commitsPerSec32 / ISSUE.floorCommits)} floor`,
      );
      console.log(`  ${verdicts.filter(Boolean).length} of ${verdicts.length} targets met in this run`);

      console.log('\nWhere the time goes');
      console.log('  per workflow, one at a time (pg queries sent, write transactions on the server, WAL bytes; Node CPU and event-loop use while running them):');
      for (const s of systems) {
        const c = calls[s.key];
        const m = seq[s.key];
        console.log(
          `    ${s.label.padEnd(34)} ${c.roundTrips.toFixed(1)} round trips, ${c.writeTransactions.toFixed(1)} write commits, ${num(c.walBytes)} WAL bytes; ` +
            `${((m.cpuMs / one1[s.key].n) * 1000).toFixed(0)} µs Node CPU/wf, event loop ${((m.elu.reduce((a, b) => a + b, 0) / m.elu.length) * 100).toFixed(0)}% busy; ` +
            `p50 = ${(one1[s.key].p50 / floor1.p50).toFixed(1)} one-row commits`,
        );
      }
      console.log(
        `  ONEX's commits per workflow: the create, which carries the first dispatch (a started), then one per later dispatch, each ` +
          `recorded before it goes out (a's result + b started; b's result + c started), and the closing one (c's result + completed) = 4`,
      );
      console.log(
        `  ONEX commit statement plan (generic): fresh schema ${plans.before} at warm-up, ${plans.after} at the end (${num(rowsAfterSeq)} rows after the concurrency-1 rounds, ${num(rowsAfterConc)} at the end); ` +
          `with ${num(PREFILL_ROWS)} rows: ${plans.filled}`,
      );
      console.log(`  at concurrency ${CONCURRENCY} (best round): CPU cores used (Node process; this server's processes), mean active backends and their waits`);
      for (const s of all) {
        const r = many[s.key];
        const st = r.statements === undefined ? '' : `; store statements/wf: ${r.statements.map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`;
        console.log(
          `    ${s.label.padEnd(34)} Node ${r.nodeCpu.toFixed(2)} (${((r.nodeCpu / r.perSec) * 1e6).toFixed(0)} µs/wf), PostgreSQL ${r.pgCpu.toFixed(2)} (${((r.pgCpu / r.perSec) * 1e6).toFixed(0)} µs/wf); ` +
            `active ${r.activity.meanActive.toFixed(1)}: ${r.activity.top.join(', ')}${st}`,
        );
      }
      for (const [k, h] of Object.entries(health)) {
        const c = h?.commits;
        const cr = h?.creates;
        if (c && cr) {
          console.log(
            `    ONEX group commit over the run (${k}): ${num(c.commits)} commits in ${num(c.statements)} statements (${(c.commits / c.statements).toFixed(2)} per statement, largest ${c.largest}); ` +
              `${num(cr.creates)} creates in ${num(cr.statements)} (${(cr.creates / cr.statements).toFixed(2)}, largest ${cr.largest})`,
          );
        }
      }

      for (const o of opened.splice(0)) await o.close();
      await DBOS.shutdown();
      dbosLaunched = false;
    }

    // ----- the scale curve -----
    const scaleSchema = `onex_scale_${ts}`;
    const init = await startOnex(url, scaleSchema);
    await init.close();
    await prefill(admin, scaleSchema, PREFILL_ROWS);
    console.log(
      `\nScale curve: 1, 2, 4 orchestrator processes sharing one schema (${num(PREFILL_ROWS)} finished rows) on this server, ${SCALE_CONCURRENCY} in flight each, ` +
        `${SCALE_WINDOW_MS} ms measured after a ${SCALE_RAMP_MS} ms ramp`,
    );
    const curve = [];
    for (const processes of SCALE_PROCESSES) {
      const r = await scaleRun(url, scaleSchema, processes, admin, backendPid);
      curve.push(r);
      console.log(
        `  ${processes} process${processes === 1 ? ': ' : 'es:'} ${num(r.perSec).padStart(6)} wf/s (${r.perProcess.map(num).join(' + ')}) = ${(r.perSec / curve[0].perSec).toFixed(2)}× one; ` +
          `p50 ${r.p50.map(fmt).join('/')}; CPU cores: orchestrators ${r.orchestratorCpuCores.toFixed(2)}, PostgreSQL ${r.pgCpuCores.toFixed(2)}, machine ${(r.machineBusy * 100).toFixed(0)}% busy`,
      );
      const odd = r.figures.filter((f) => f && (f.recovered > 0 || f.leaseLosses > 0 || f.fencedWrites > 0 || f.stepRetries > 0));
      if (odd.length > 0) console.log(`      NOTE: ${JSON.stringify(r.figures)}`);
      console.log(
        `      event loops ${r.elu.map((e) => `${(e * 100).toFixed(0)}%`).join(' ')}; ${r.writeTxPerWf.toFixed(2)} write commits/wf, ` +
          `${r.commitsPerStatement.map((x) => x.toFixed(1)).join('/')} commits per statement, ${num(r.walSyncsPerSec)} WAL flushes/s; ` +
          `active backends ${r.activity.meanActive.toFixed(1)}: ${r.activity.top.join(', ')}`,
      );
      if (r.activity.locks.length > 0) console.log(`      lock waits by statement: ${r.activity.locks.join(', ')}`);
    }
    // Where it bends, and why: each step's gain, and what was saturated in it.
    console.log('  Where it bends:');
    for (const [i, r] of curve.entries()) {
      const cpuPerWf = ((r.orchestratorCpuCores + r.pgCpuCores) / r.perSec) * 1e6;
      const cores = readdirSync('/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d)).length;
      const causes = [];
      if (r.machineBusy >= 0.9) causes.push(`CPU: the machine ${(r.machineBusy * 100).toFixed(0)}% busy (orchestrators ${r.orchestratorCpuCores.toFixed(2)} + PostgreSQL ${r.pgCpuCores.toFixed(2)} cores; the rest other work)`);
      if (r.activity.lockMean >= 0.2) causes.push(`locks: ${r.activity.lockMean.toFixed(2)} backends waiting on a lock on average (${r.activity.locks.join(', ')})`);
      if (r.activity.walMean >= 0.5 * r.activity.meanActive && r.activity.meanActive > 0.5) causes.push(`WAL flush: ${r.activity.walMean.toFixed(2)} of ${r.activity.meanActive.toFixed(2)} active backends wait on the WAL`);
      const step = i === 0 ? '' : ` (${(r.perSec / curve[i - 1].perSec).toFixed(2)}× ${curve[i - 1].processes})`;
      console.log(
        `    ${r.processes}: ${num(r.perSec)} wf/s${step}; ${cpuPerWf.toFixed(0)} µs of CPU per workflow (orchestrators ${((r.orchestratorCpuCores / r.perSec) * 1e6).toFixed(0)}, PostgreSQL ${((r.pgCpuCores / r.perSec) * 1e6).toFixed(0)}): ` +
          `${cores} cores at that cost would do ${num((cores / cpuPerWf) * 1e6)} wf/s; lock waits ${r.activity.lockMean.toFixed(2)} backends; ` +
          `${causes.length === 0 ? 'nothing saturated' : `limited by ${causes.join('; ')}`}`,
      );
    }
    console.log('    (network: loopback, not a limit here)');
    const loadAtEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`\nload average ${loadAtEnd} at the end`);
  } finally {
    for (const o of opened) await o.close().catch(() => undefined);
    if (dbosLaunched) await DBOS.shutdown().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await server.stop();
  }
}

if (process.argv[2] === '--child') await child();
else await main();
