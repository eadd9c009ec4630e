// The performance scorecard (issue 15): every target, measured in one run beside its baseline, with the ratio, the
// target and whether it is met. Sections:
//   1. HTTP path: 3-step workflows over HTTP peers + SQLite (NORMAL) against a bare 3-hop node:http chain; writes per
//      workflow counted against the write-ahead floor.
//   2. In-process path: ONEX (memory store) against Moleculer's in-process broker, retry and breaker on in both.
//   3. Durable with fsync: SQLite FULL with group commit, 1,000 concurrent against sequential.
//   4. Cost curve: 3, 10 and 30 steps (SQLite NORMAL); then a store holding 1 million finished workflows against an
//      empty one, in interleaved rounds.
//   5. Cold start: a node process ready to serve; an orchestrator process on the 1-million store ready.
// Run: pnpm bench (builds first), or `node bench/targets.bench.mjs` after `pnpm build`. BENCH_QUICK=1 for a smoke
// run (smaller counts, a 100k-workflow history). BENCH_SECTIONS=1,5 runs only those sections (5 without 4 starts the
// orchestrator on a store of BENCH_HISTORY filled for it). Bounded: about 3 minutes; loopback only; temp files removed.
import { spawn } from 'node:child_process';
import { Agent, get as httpGet } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceBroker } from 'moleculer';
import { z } from 'zod';
import {
  createInProcessClient,
  createNodeClient,
  createSilentLogger,
  defineContract,
  NodeKind,
  NodeService,
  serveNode,
} from '../packages/core/dist/index.js';
import { defineOrchestrator, defineWorkflow, MemoryWorkflowStore, Orchestrator, peer } from '../packages/orchestrator/dist/index.js';
import { SqliteWorkflowStore } from '../packages/orchestrator/dist/sqlite.js';
import { bareCall, bareServer, concurrent, fmt, interleaved, sequential } from './lib/measure.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const HISTORY = Number(process.env.BENCH_HISTORY ?? (QUICK ? 100_000 : 1_000_000));
const N = (full, quick) => (QUICK ? quick : full);
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? '1,2,3,4,5').split(',').map(Number));
const root = fileURLToPath(new URL('..', import.meta.url));
const Database = createRequire(join(root, 'packages/orchestrator/package.json'))('better-sqlite3');
const dir = mkdtempSync(join(tmpdir(), 'onex-targets-'));
const results = [];

// ---------- shared shapes ----------
const Value = z.object({ value: z.number() });
const contract = defineContract({ name: 'step', kind: NodeKind.Compute, version: '1.0.0', input: Value, output: Value });
const work = (input) => ({ value: input.value + 1 });
class StepNode extends NodeService {
  constructor() {
    super(contract, { logger: createSilentLogger() });
  }
  async process(input) {
    return work(input);
  }
}

/** A workflow of `n` steps in a chain, over peers named p0, p1, p2 in turn. */
function chainWorkflow(n, type = `chain-${n}`) {
  let builder = defineWorkflow({ type, version: '1.0.0', input: Value, output: Value });
  for (let i = 0; i < n; i += 1) {
    const name = `s${i}`;
    const previous = `s${i - 1}`;
    builder = builder.step(name, {
      target: peer(`p${i % 3}`, contract),
      ...(i === 0 ? { input: ({ input }) => input } : { dependsOn: [previous], input: ({ steps }) => steps[previous] }),
    });
  }
  return builder.returns(({ steps }) => steps[`s${n - 1}`] ?? { value: -1 });
}

/** Counts the store's writes (creates and commits): what write-ahead costs per workflow. */
function countingStore(store) {
  const counts = { creates: 0, commits: 0 };
  const create = store.create.bind(store);
  const commit = store.commit.bind(store);
  store.create = (record) => ((counts.creates += 1), create(record));
  store.commit = (id, epoch, change) => ((counts.commits += 1), commit(id, epoch, change));
  return { store, counts };
}

const rate = (r) => `${Math.round(r.perSec).toLocaleString('en')}/s`;
function row(label, r) {
  console.log(`  ${label.padEnd(46)} mean ${fmt(r.mean).padStart(9)}  p50 ${fmt(r.p50).padStart(9)}  p99 ${fmt(r.p99).padStart(9)}  ${rate(r).padStart(9)}`);
}

/** Records a target: `ratio` is ONEX against its baseline; met when `ratio <= max` (or `>= min`). */
function target(name, { figure, baseline, ratio, max, min }) {
  const met = max !== undefined ? ratio <= max : ratio >= min;
  const want = max !== undefined ? `≤ ${max}×` : `≥ ${min}×`;
  results.push({ name, figure, baseline, ratio, want, met });
  console.log(`  → ${name}: ${ratio.toFixed(2)}× (target ${want}) ${met ? 'MET' : 'NOT MET'}`);
}

async function runOne(orchestrator, type, i) {
  const id = await orchestrator.start(type, { value: i });
  const outcome = await orchestrator.result(id);
  if (outcome.status !== 'completed') throw new Error(`workflow ${id} ended ${outcome.status}`);
}

async function inProcessPeers() {
  const nodes = [new StepNode(), new StepNode(), new StepNode()];
  for (const n of nodes) await n.initialize();
  return Object.fromEntries(nodes.map((n, i) => [`p${i}`, createInProcessClient(n)]));
}

// ---------- 1. HTTP path ----------
async function httpPath() {
  console.log('\n1. HTTP path: 3-step workflows, HTTP peers on loopback, SQLite (WAL, synchronous=NORMAL)');
  const bare = await Promise.all([bareServer(work), bareServer(work), bareServer(work)]);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const ports = bare.map((s) => s.address().port);
  const chain = async (i) => {
    let v = { value: i };
    for (const port of ports) v = await bareCall(agent, port, v);
  };
  const served = await Promise.all([serveNode(new StepNode()), serveNode(new StepNode()), serveNode(new StepNode())]);
  const peers = Object.fromEntries(served.map((s, i) => [`p${i}`, createNodeClient(s.url, contract)]));
  const { store, counts } = countingStore(new SqliteWorkflowStore({ path: join(dir, 'http.db'), purgeIntervalMs: 0 }));
  const workflow = chainWorkflow(3);
  const orchestrator = new Orchestrator(defineOrchestrator({ workflows: [workflow] }), { store, peers, logger: createSilentLogger() });
  await orchestrator.initialize();

  const [bare1, wf1] = await interleaved([chain, (i) => runOne(orchestrator, 'chain-3', i)], N(3000, 600), 10, N(500, 100));
  const bare64 = await concurrent(chain, N(3000, 600), 64);
  const before = counts.creates + counts.commits;
  const wf64 = await concurrent((i) => runOne(orchestrator, 'chain-3', i), N(3000, 600), 64);
  const writes = (counts.creates + counts.commits - before) / N(3000, 600);
  row('baseline: bare 3-hop chain, 1 at a time', bare1);
  row('ONEX workflow, 1 at a time', wf1);
  row('baseline: bare 3-hop chain, 64 concurrent', bare64);
  row('ONEX workflow, 64 concurrent', wf64);
  console.log(`  writes per workflow: ${writes.toFixed(2)} (the write-ahead floor for 3 steps: 4 — one before each dispatch, one closing)`);
  target('HTTP p50, 1 at a time, vs bare chain', { figure: fmt(wf1.p50), baseline: fmt(bare1.p50), ratio: wf1.p50 / bare1.p50, max: 2 });
  target('HTTP throughput at 64 concurrent, vs bare chain', { figure: rate(wf64), baseline: rate(bare64), ratio: wf64.perSec / bare64.perSec, min: 0.5 });
  target('writes per 3-step workflow, vs the floor (4)', { figure: writes.toFixed(2), baseline: '4', ratio: writes / 4, max: 1 });
  await orchestrator.shutdown();
  await Promise.all(served.map((s) => s.close()));
  for (const p of Object.values(peers)) await p.close();
  agent.destroy();
  await Promise.all(bare.map((s) => new Promise((r) => s.close(r))));
}

// ---------- 2. In-process path against Moleculer ----------
async function inProcessPath() {
  console.log('\n2. In-process path: 3 steps, ONEX (memory store) against Moleculer 0.15 (retry and breaker on in both)');
  const broker = new ServiceBroker({
    logger: false,
    transporter: null,
    metrics: false,
    tracing: false,
    retryPolicy: { enabled: true, retries: 3, delay: 100 },
    circuitBreaker: { enabled: true, threshold: 0.5, minRequestCount: 20 },
  });
  broker.createService({ name: 'steps', actions: { a: (ctx) => work(ctx.params), b: (ctx) => work(ctx.params), c: (ctx) => work(ctx.params) } });
  await broker.start();
  const flow = async (i) => {
    let v = { value: i };
    v = await broker.call('steps.a', v);
    v = await broker.call('steps.b', v);
    v = await broker.call('steps.c', v);
    return v;
  };
  const orchestrator = new Orchestrator(defineOrchestrator({ workflows: [chainWorkflow(3)] }), {
    store: new MemoryWorkflowStore({ maxFinished: 1000 }),
    peers: await inProcessPeers(),
    logger: createSilentLogger(),
  });
  await orchestrator.initialize();
  const [mol, onex] = await interleaved([flow, (i) => runOne(orchestrator, 'chain-3', i)], N(20_000, 4000), 10, N(3000, 500));
  row('baseline: Moleculer broker.call × 3', mol);
  row('ONEX workflow', onex);
  target('in-process mean vs Moleculer', { figure: fmt(onex.mean), baseline: fmt(mol.mean), ratio: onex.mean / mol.mean, max: 2 });
  await orchestrator.shutdown();
  await broker.stop();
}

// ---------- 3. Durable with fsync: group commit ----------
async function fsyncPath() {
  console.log('\n3. Durable with fsync: 3 steps, in-process peers, SQLite (WAL, synchronous=FULL, group commit)');
  const orchestrator = new Orchestrator(defineOrchestrator({ workflows: [chainWorkflow(3)] }), {
    store: new SqliteWorkflowStore({ path: join(dir, 'full.db'), synchronous: 'full', purgeIntervalMs: 0 }),
    peers: await inProcessPeers(),
    logger: createSilentLogger(),
    maxConcurrentWorkflows: 1000,
  });
  await orchestrator.initialize();
  const seq = await sequential((i) => runOne(orchestrator, 'chain-3', i), N(500, 100), 50);
  const many = await concurrent((i) => runOne(orchestrator, 'chain-3', i), N(5000, 1000), 1000);
  row('baseline: sequential', seq);
  row('ONEX, 1,000 concurrent', many);
  target('fsync throughput at 1,000 concurrent vs sequential', { figure: rate(many), baseline: rate(seq), ratio: many.perSec / seq.perSec, min: 5 });
  await orchestrator.shutdown();
}

// ---------- 4. Cost curve: steps, then history ----------
/** Fills a SQLite workflow file with `count` finished 3-step workflows (one step row each), in SQL. */
async function fillHistory(path, count) {
  const store = new SqliteWorkflowStore({ path, purgeIntervalMs: 0 });
  await store.init();
  await store.close();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const now = Date.now();
  const step = JSON.stringify({ name: 's0', status: 'completed', attempts: 1, attemptErrors: [], input: { value: 1 }, output: { value: 2 }, startedAt: now, finishedAt: now, completionSeq: 1 });
  db.transaction(() => {
    db.prepare(
      `INSERT INTO onex_workflows (id, type, version, status, input, output, correlation_id, created_at, updated_at, epoch)
       WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < @count)
       SELECT 'history-' || i, 'chain-3', '1.0.0', 'completed', '{"value":1}', '{"value":4}', 'c-' || i, @now - i, @now - i, 1 FROM c`,
    ).run({ count, now });
    db.prepare(`INSERT INTO onex_workflow_steps (workflow_id, name, data) SELECT id, 's0', @step FROM onex_workflows`).run({ step });
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

async function costCurve() {
  console.log('\n4. Cost curve: in-process peers, SQLite (WAL, synchronous=NORMAL)');
  const peers = await inProcessPeers();
  const workflows = [chainWorkflow(3), chainWorkflow(10), chainWorkflow(30)];
  const orchestrator = new Orchestrator(defineOrchestrator({ workflows }), {
    store: new SqliteWorkflowStore({ path: join(dir, 'curve.db'), purgeIntervalMs: 0 }),
    peers,
    logger: createSilentLogger(),
  });
  await orchestrator.initialize();
  const [s3, s10, s30] = await interleaved(
    [(i) => runOne(orchestrator, 'chain-3', i), (i) => runOne(orchestrator, 'chain-10', i), (i) => runOne(orchestrator, 'chain-30', i)],
    N(1500, 300),
    10,
    N(200, 50),
  );
  row('3 steps', s3);
  row('10 steps', s10);
  row('30 steps', s30);
  const perStep = (r, n) => r.mean / n;
  console.log(`  per step: ${fmt(perStep(s3, 3))} at 3, ${fmt(perStep(s10, 10))} at 10, ${fmt(perStep(s30, 30))} at 30`);
  const low = (s10.mean - s3.mean) / 7;
  const high = (s30.mean - s10.mean) / 20;
  console.log(`  marginal cost of a step: ${fmt(low)} from 3 to 10, ${fmt(high)} from 10 to 30`);
  target('cost linear in steps: marginal step cost 10→30 vs 3→10', { figure: fmt(high), baseline: fmt(low), ratio: high / low, max: 1.5 });
  await orchestrator.shutdown();

  const historyPath = join(dir, 'history.db');
  const t = performance.now();
  await fillHistory(historyPath, HISTORY);
  console.log(`  filled a store with ${HISTORY.toLocaleString('en')} finished workflows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const empty = new Orchestrator(defineOrchestrator({ workflows: [chainWorkflow(3)] }), {
    store: new SqliteWorkflowStore({ path: join(dir, 'empty.db'), purgeIntervalMs: 0 }),
    peers,
    logger: createSilentLogger(),
  });
  const full = new Orchestrator(defineOrchestrator({ workflows: [chainWorkflow(3)] }), {
    store: new SqliteWorkflowStore({ path: historyPath, purgeIntervalMs: 0 }),
    peers,
    logger: createSilentLogger(),
  });
  await empty.initialize();
  await full.initialize();
  const [onEmpty, onFull] = await interleaved([(i) => runOne(empty, 'chain-3', i), (i) => runOne(full, 'chain-3', i)], N(4000, 800), 10, N(300, 100));
  row('new workflow, empty store', onEmpty);
  row(`new workflow, ${HISTORY.toLocaleString('en')} finished in the store`, onFull);
  target(`cost flat in history: ${HISTORY.toLocaleString('en')} finished vs empty (mean)`, { figure: fmt(onFull.mean), baseline: fmt(onEmpty.mean), ratio: onFull.mean / onEmpty.mean, max: 1.2 });
  await empty.shutdown();
  await full.shutdown();
  return historyPath;
}

// ---------- 5. Cold start ----------
/**
 * Spawns `node --input-type=module -e code` and answers the ms from spawn to its `ready` line (and its own figure).
 * With `probeHealth`, the child prints `listening <url>` instead and the figure is spawn to the first 200 answer of
 * its `GET /health` to a request from this process: readiness as a load balancer sees it, without the child loading
 * an HTTP client of its own (Node's fetch alone is ~15–20 ms of a cold start, and a node does not need it to serve).
 */
function timeToReady(code, probeHealth = false) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let done = false;
    const finish = (inside) => {
      done = true;
      const ms = performance.now() - t;
      child.kill('SIGTERM');
      resolve({ ms, inside });
    };
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (done) return;
      const ready = /ready (\d+(?:\.\d+)?)/.exec(out);
      if (ready !== null) return finish(Number(ready[1]));
      const listening = probeHealth ? /listening (\S+) (\d+(?:\.\d+)?)\n/.exec(out) : null;
      if (listening !== null && !out.includes('probing')) {
        out += 'probing';
        const req = httpGet(`${listening[1]}/health`, { agent: false }, (res) => {
          res.resume();
          if (res.statusCode === 200) finish(Number(listening[2]));
          else reject(new Error(`cold-start child answered /health ${res.statusCode}`));
        });
        req.on('error', reject);
      }
    });
    child.on('exit', (code) => {
      if (!done) reject(new Error(`cold-start child exited ${code} before ready: ${out}`));
    });
  });
}

const NODE_START = `
const t = performance.now();
const { z } = await import('zod');
const core = await import('./packages/core/dist/index.js');
const contract = core.defineContract({ name: 'step', kind: core.NodeKind.Compute, version: '1.0.0', input: z.object({ value: z.number() }), output: z.object({ value: z.number() }) });
class StepNode extends core.NodeService { constructor() { super(contract, { logger: core.createSilentLogger() }); } async process(i) { return { value: i.value + 1 }; } }
const served = await core.serveNode(new StepNode());
console.log('listening ' + served.url + ' ' + (performance.now() - t).toFixed(1));
setInterval(() => {}, 1000);
`;

const ORCHESTRATOR_START = (path) => `
const t = performance.now();
const { z } = await import('zod');
const core = await import('./packages/core/dist/index.js');
const o = await import('./packages/orchestrator/dist/index.js');
const { SqliteWorkflowStore } = await import('./packages/orchestrator/dist/sqlite.js');
const Value = z.object({ value: z.number() });
const contract = core.defineContract({ name: 'step', kind: core.NodeKind.Compute, version: '1.0.0', input: Value, output: Value });
const wf = o.defineWorkflow({ type: 'chain-3', version: '1.0.0', input: Value, output: Value })
  .step('s0', { target: o.peer('p0', contract), input: ({ input }) => input }).returns(({ steps }) => steps.s0);
const peers = { p0: core.createNodeClient('http://127.0.0.1:9', contract) };
const orchestrator = new o.Orchestrator(o.defineOrchestrator({ workflows: [wf] }), { store: new SqliteWorkflowStore({ path: ${JSON.stringify(path)} }), peers, logger: core.createSilentLogger() });
await orchestrator.initialize();
console.log('ready ' + (performance.now() - t).toFixed(1));
setInterval(() => {}, 1000);
`;

async function coldStart(historyPath) {
  console.log('\n5. Cold start (a fresh node process each time; best of 5 and median, spawn to ready)');
  const best = async (code, probeHealth) => {
    const runs = [];
    for (let i = 0; i < 5; i += 1) runs.push(await timeToReady(code, probeHealth));
    runs.sort((a, b) => a.ms - b.ms);
    return { best: runs[0], median: runs[2] };
  };
  const bareNode = await best(`const t = performance.now(); console.log('ready ' + (performance.now() - t).toFixed(1)); setInterval(() => {}, 1000);`);
  const node = await best(NODE_START, true);
  const orchestrator = await best(ORCHESTRATOR_START(historyPath));
  console.log(`  bare node process:              median ${fmt(bareNode.median.ms)} (best ${fmt(bareNode.best.ms)})`);
  console.log(`  ONEX node serving, /health answered (probed from outside): median ${fmt(node.median.ms)} (best ${fmt(node.best.ms)}; listening ${fmt(node.median.inside)} after the process started)`);
  console.log(`  orchestrator on ${HISTORY.toLocaleString('en')} finished, initialized: median ${fmt(orchestrator.median.ms)} (best ${fmt(orchestrator.best.ms)}; ${fmt(orchestrator.median.inside)} after the process started)`);
  target('cold start, node ready (median) vs 300 ms', { figure: fmt(node.median.ms), baseline: '300 ms', ratio: node.median.ms / 300, max: 1 });
  target(`cold start, orchestrator on ${HISTORY.toLocaleString('en')} finished (median) vs 1 s`, { figure: fmt(orchestrator.median.ms), baseline: '1 s', ratio: orchestrator.median.ms / 1000, max: 1 });
}

try {
  if (SECTIONS.has(1)) await httpPath();
  if (SECTIONS.has(2)) await inProcessPath();
  if (SECTIONS.has(3)) await fsyncPath();
  let historyPath = SECTIONS.has(4) ? await costCurve() : undefined;
  if (SECTIONS.has(5)) {
    if (historyPath === undefined) {
      historyPath = join(dir, 'history.db');
      await fillHistory(historyPath, HISTORY);
    }
    await coldStart(historyPath);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log('\nScorecard (issue 15)');
console.log(`  ${'target'.padEnd(64)} ${'ONEX'.padStart(12)} ${'baseline'.padStart(12)} ${'ratio'.padStart(8)} ${'want'.padStart(8)}  verdict`);
for (const r of results) {
  console.log(`  ${r.name.padEnd(64)} ${r.figure.padStart(12)} ${r.baseline.padStart(12)} ${`${r.ratio.toFixed(2)}×`.padStart(8)} ${r.want.padStart(8)}  ${r.met ? 'met' : 'not met'}`);
}
console.log(`  ${results.filter((r) => r.met).length} of ${results.length} met`);
