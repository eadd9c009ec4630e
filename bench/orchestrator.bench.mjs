// Orchestrator benchmark: 3-step workflows (a) with in-process peers and the memory store, (b) with HTTP peers on
// loopback and the SQLite store, each at concurrency 1 and 64, beside baselines measured in the same run:
// (a) the same three peer functions called directly; (b) a bare 3-hop HTTP chain (node:http + keep-alive Agent).
// Run: pnpm bench (builds first). Bounded: a few thousand workflows, well under a minute.
import { Agent } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

// In process a workflow takes tens of µs: many samples and a long warm-up (JIT, heap sizing) are needed for stable
// percentiles. Over HTTP each takes ~1 ms, so fewer do.
const SEQUENTIAL_IN_PROCESS = Number(process.env.BENCH_SEQUENTIAL ?? 10_000);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 2000);
const WARMUP = 3000;
const CONCURRENT_TOTAL = Number(process.env.BENCH_CONCURRENT ?? 2000);
const CONCURRENCY = 64;

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

const Input = z.object({ value: z.number() });
const Output = z.object({ value: z.number() });
const ref = (name) => peer(name, contract);
const workflow = defineWorkflow({ type: 'three-steps', version: '1.0.0', input: Input, output: Output })
  .step('a', { target: ref('a'), input: ({ input }) => input })
  .step('b', { target: ref('b'), dependsOn: ['a'], input: ({ steps }) => steps.a })
  .step('c', { target: ref('c'), dependsOn: ['b'], input: ({ steps }) => steps.b })
  .returns(({ steps }) => ({ value: steps.c?.value ?? -1 }));

function row(label, r) {
  console.log(`  ${label.padEnd(44)} mean ${fmt(r.mean).padStart(10)}  p50 ${fmt(r.p50).padStart(10)}  p99 ${fmt(r.p99).padStart(10)}  ${Math.round(r.perSec).toLocaleString('en').padStart(8)}/s`);
}

async function runWorkflow(orchestrator, i) {
  const id = await orchestrator.start('three-steps', { value: i });
  const outcome = await orchestrator.result(id);
  if (outcome.status !== 'completed') throw new Error(`workflow ${id} ended ${outcome.status}`);
}

// ---------- (a) in-process peers, memory store ----------
async function inProcess() {
  console.log(`\n(a) in-process peers + memory store (${SEQUENTIAL_IN_PROCESS} sequential, ${CONCURRENT_TOTAL} at ${CONCURRENCY} concurrent)`);
  const nodes = { a: new StepNode(), b: new StepNode(), c: new StepNode() };
  for (const n of Object.values(nodes)) await n.initialize();
  const peers = Object.fromEntries(Object.entries(nodes).map(([k, n]) => [k, createInProcessClient(n)]));
  const orchestrator = new Orchestrator(defineOrchestrator({ workflows: [workflow] }), { store: new MemoryWorkflowStore({ maxFinished: 1000 }), peers, logger: createSilentLogger() });
  await orchestrator.initialize();

  const direct = await sequential(async (i) => work(work(work({ value: i }))), SEQUENTIAL_IN_PROCESS, WARMUP);
  const viaHandle = await sequential(async (i) => {
    let v = { value: i };
    for (const n of Object.values(nodes)) {
      const r = await n.handle(v);
      v = r.value;
    }
  }, SEQUENTIAL_IN_PROCESS, WARMUP);
  const wf1 = await sequential((i) => runWorkflow(orchestrator, i), SEQUENTIAL_IN_PROCESS, WARMUP);
  const wf64 = await concurrent((i) => runWorkflow(orchestrator, i), CONCURRENT_TOTAL, CONCURRENCY);
  row('baseline: 3 direct function calls', direct);
  row('baseline: 3 node.handle() calls', viaHandle);
  row('ONEX workflow, concurrency 1', wf1);
  row(`ONEX workflow, concurrency ${CONCURRENCY}`, wf64);
  console.log(
    `  framework overhead per workflow vs 3 direct calls: p50 ${fmt(wf1.p50 - direct.p50)}, mean ${fmt(wf1.mean - direct.mean)}` +
      `; of it the 3 node.handle() calls: p50 ${fmt(viaHandle.p50 - direct.p50)} (target ≤ 50 µs)`,
  );
  await orchestrator.shutdown();
}

// ---------- (b) HTTP peers on loopback, SQLite store ----------
async function overHttp() {
  console.log(`\n(b) HTTP peers on loopback + SQLite store (WAL, synchronous=NORMAL) (${SEQUENTIAL} sequential, ${CONCURRENT_TOTAL} at ${CONCURRENCY} concurrent)`);
  const bare = await Promise.all([bareServer(work), bareServer(work), bareServer(work)]);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const ports = bare.map((s) => s.address().port);
  const chain = async (i) => {
    let v = { value: i };
    for (const port of ports) v = await bareCall(agent, port, v);
  };
  const served = await Promise.all([serveNode(new StepNode()), serveNode(new StepNode()), serveNode(new StepNode())]);
  const peers = { a: createNodeClient(served[0].url, contract), b: createNodeClient(served[1].url, contract), c: createNodeClient(served[2].url, contract) };
  const dir = mkdtempSync(join(tmpdir(), 'onex-bench-'));
  const orchestrator = new Orchestrator(defineOrchestrator({ workflows: [workflow] }), { store: new SqliteWorkflowStore({ path: join(dir, 'wf.db') }), peers, logger: createSilentLogger() });
  await orchestrator.initialize();

  // Interleaved rounds, so that the machine's drift hits the baseline and ONEX alike.
  const [bare1, wf1] = await interleaved([chain, (i) => runWorkflow(orchestrator, i)], SEQUENTIAL, 10, 500);
  const bare64 = await concurrent(chain, CONCURRENT_TOTAL, CONCURRENCY);
  const wf64 = await concurrent((i) => runWorkflow(orchestrator, i), CONCURRENT_TOTAL, CONCURRENCY);
  row('baseline: bare 3-hop chain, concurrency 1', bare1);
  row('ONEX workflow, concurrency 1', wf1);
  row(`baseline: bare 3-hop chain, concurrency ${CONCURRENCY}`, bare64);
  row(`ONEX workflow, concurrency ${CONCURRENCY}`, wf64);
  console.log(`  ratio p50, concurrency 1: ${(wf1.p50 / bare1.p50).toFixed(2)}× the bare chain (target ≤ 1.5×)`);
  console.log(`  ratio throughput, concurrency ${CONCURRENCY}: ${(wf64.perSec / bare64.perSec).toFixed(2)}× the bare chain`);
  await orchestrator.shutdown();
  await Promise.all(served.map((s) => s.close()));
  for (const p of Object.values(peers)) await p.close();
  agent.destroy();
  await Promise.all(bare.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
}

await inProcess();
await overHttp();
