// Dashboard overhead on the workflow path: 3-step in-process workflows on the memory store, at concurrency 64, in
// three set-ups measured in the same run, interleaved round by round:
// (a) baseline: nobody watches the orchestrator's change feed;
// (b) 32 in-process watchers, each coalescing changes by id into a bounded map (what one dashboard stream does);
// (c) the dashboard served over HTTP with 8 open /ui/events streams read by real clients.
// Prints workflows/s per set-up (median of the rounds) and the ratio to the baseline; then (d) the cost of one emit
// of the change feed (what every commit of a run pays) with 0, 1 and 32 coalescing watchers, in ns, beside the
// baseline's time per commit.
// Run: pnpm bench dashboard (or, after pnpm build, node --expose-gc bench/dashboard.bench.mjs)
import { request } from 'node:http';
import { z } from 'zod';
import { createInProcessClient, createSilentLogger, defineContract, NodeKind, NodeService, serveNode } from '../packages/core/dist/index.js';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, workflowRoutes } from '../packages/orchestrator/dist/index.js';
import { WorkflowChanges } from '../packages/orchestrator/dist/engine/workflow-changes.js';

const PER_ROUND = Number(process.env.BENCH_DASHBOARD_WORKFLOWS ?? 3000);
const ROUNDS = Number(process.env.BENCH_DASHBOARD_ROUNDS ?? 5);
const CONCURRENCY = 64;
const STREAMS = 8;
const WATCHERS = 32;

const contract = defineContract({ name: 'step', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ value: z.number() }), output: z.object({ value: z.number() }) });
class StepNode extends NodeService {
  constructor() {
    super(contract, { logger: createSilentLogger() });
  }
  async process(input) {
    return { value: input.value + 1 };
  }
}
const ref = (name) => peer(name, contract);
const flow = defineWorkflow({ type: 'three', version: '1.0.0', input: z.object({ value: z.number() }), output: z.object({ value: z.number() }) })
  .step('a', { target: ref('step'), input: ({ input }) => input })
  .step('b', { target: ref('step'), dependsOn: ['a'], input: ({ steps }) => steps.a })
  .step('c', { target: ref('step'), dependsOn: ['b'], input: ({ steps }) => steps.b })
  .returns(({ steps }) => steps.c);

const node = new StepNode();
await node.initialize();

async function orchestrator() {
  const o = new Orchestrator({ workflows: [flow] }, { store: new MemoryWorkflowStore({ maxFinished: 1000 }), peers: { step: createInProcessClient(node) }, logger: createSilentLogger(), maxQueuedWorkflows: 100_000 });
  await o.initialize();
  return o;
}

async function run(o, total) {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next += 1;
      const outcome = await o.result(await o.start(flow, { value: 1 }));
      if (outcome.status !== 'completed') throw new Error(`workflow ended ${outcome.status}`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return total / ((performance.now() - started) / 1000);
}

/** Opens an event stream and counts its events; `close()` ends it. */
function stream(url) {
  let events = 0;
  let req;
  const ready = new Promise((resolve, reject) => {
    req = request(`${url}/ui/events`, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk) => (events += chunk.split('\nevent: ').length - 1 + (chunk.startsWith('event: ') ? 1 : 0)));
      res.on('error', () => undefined);
      resolve();
    });
    req.on('error', reject);
    req.end();
  });
  return { ready, events: () => events, close: () => req.destroy() };
}

const setups = {
  baseline: async () => ({ o: await orchestrator(), close: async (o) => o.shutdown() }),
  watchers: async () => {
    const o = await orchestrator();
    const stops = Array.from({ length: WATCHERS }, () => {
      const pending = new Map();
      return o.watch((change) => {
        if (pending.size >= 256) pending.clear();
        pending.set(change.id, change);
      });
    });
    return { o, close: async () => { for (const stop of stops) stop(); await o.shutdown(); } };
  },
  streams: async () => {
    const o = await orchestrator();
    const served = await serveNode(o, { configure: workflowRoutes(o, { dashboard: true }) });
    const streams = Array.from({ length: STREAMS }, () => stream(served.url));
    await Promise.all(streams.map((s) => s.ready));
    return {
      o,
      events: () => streams.reduce((sum, s) => sum + s.events(), 0),
      close: async () => {
        for (const s of streams) s.close();
        await served.close();
      },
    };
  },
};

const results = Object.fromEntries(Object.keys(setups).map((name) => [name, []]));
let streamed = 0;
// Warm-up (JIT, heap sizing), not counted.
{
  const { o, close } = await setups.baseline();
  await run(o, PER_ROUND);
  await close(o);
}
for (let round = 0; round < ROUNDS; round += 1) {
  for (const [name, make] of Object.entries(setups)) {
    const setup = await make();
    globalThis.gc?.();
    results[name].push(await run(setup.o, PER_ROUND));
    if (setup.events !== undefined) {
      // Let the last writes reach the clients before counting.
      await new Promise((resolve) => setTimeout(resolve, 200));
      streamed += setup.events();
    }
    await setup.close(setup.o);
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const base = median(results.baseline);
console.log(`${PER_ROUND} three-step workflows per round at concurrency ${CONCURRENCY}, ${ROUNDS} rounds interleaved (median):`);
console.table(
  Object.entries(results).map(([name, values]) => ({
    setup: name === 'baseline' ? 'no watcher (baseline)' : name === 'watchers' ? `${WATCHERS} in-process watchers` : `dashboard + ${STREAMS} SSE streams`,
    'workflows/s': Math.round(median(values)),
    'vs baseline': (median(values) / base).toFixed(3),
  })),
);
console.log(`SSE events read by the ${STREAMS} clients over all rounds: ${streamed} (each carries every change since the previous one, coalesced by id)`);

// (d) the feed alone
const EMITS = 2_000_000;
const ids = Array.from({ length: 1024 }, (_, i) => `wf-${i}`);
const emitCost = (watchers) => {
  const feed = new WorkflowChanges(createSilentLogger(), 1024);
  for (let w = 0; w < watchers; w += 1) {
    const pending = new Map();
    feed.watch((change) => {
      if (pending.size >= 256) pending.clear();
      pending.set(change.id, change);
    });
  }
  for (let i = 0; i < EMITS / 10; i += 1) feed.emit(ids[i & 1023], 'running');
  const started = process.hrtime.bigint();
  for (let i = 0; i < EMITS; i += 1) feed.emit(ids[i & 1023], 'running');
  return Number(process.hrtime.bigint() - started) / EMITS;
};
// A three-step workflow commits 5 times (running, 3 step results with the next dispatch, completed).
const perCommitNs = 1e9 / base / 5;
console.table([0, 1, 32].map((w) => {
  const ns = emitCost(w);
  return { watchers: w, 'ns per emit': ns.toFixed(1), 'vs baseline time per commit': `${((ns / perCommitNs) * 100).toFixed(2)} %` };
}));
console.log(`baseline time per commit: ${(perCommitNs / 1000).toFixed(1)} µs (1 / (workflows/s × 5 commits))`);
await node.shutdown();
