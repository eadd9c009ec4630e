// Tracing overhead on the HTTP workflow path: 3-step workflows, orchestrator + three peers behind serveNode, called
// with createNodeClient over loopback, on the SQLite store (WAL) as in orchestrator.bench.mjs (b), in one process. Three stacks, alike but for their tracing, run in
// interleaved rounds so the machine's drift hits them alike:
//   off  — no OpenTelemetry SDK at all: the api's global no-op (what a user without an SDK gets);
//   noop — a no-op TracerProvider handed to every node and client (`tracerProvider`), as a registered no-op is;
//   als  — no spans (the noop stack), but the SDK's AsyncLocalStorage context manager registered and entered once,
//          so Node 20's async_hooks run on every promise: the tax any OpenTelemetry setup on Node 20 pays;
//   unsampled — the SDK with an AlwaysOff sampler: every span is a non-recording one that still carries the
//          trace, so contexts are made current (Node 20's AsyncLocalStorage: async_hooks on every promise), and
//          traceparent injected, extracted and stored, but nothing is recorded or exported — the cost of context
//          propagation alone, and what a sampled-out workflow costs;
//   sdk  — the SDK: BasicTracerProvider + BatchSpanProcessor over an exporter that drops the batches, with the
//          AsyncLocalStorage context manager and the W3C propagator registered during its rounds (context and
//          propagation are global in the api; they are unregistered for the other stacks' rounds).
// The providers are injected rather than registered globally: the api's proxy tracer keeps the first delegate it
// finds, so switching the global provider between rounds would leak one mode into another.
// Targets (issue 13): noop ≤ 1.05× off, sdk ≤ 1.15× off. Run: pnpm bench (builds first), or
// `node bench/tracing.bench.mjs` after `pnpm build`. BENCH_STORE=memory runs on the memory store instead: no
// durability cost, so tracing is a larger share of each workflow (the stricter figure).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, propagation, ProxyTracerProvider, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOffSampler, BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { createNodeClient, createSilentLogger, defineContract, NodeKind, NodeService, serveNode } from '../packages/core/dist/index.js';
import { defineOrchestrator, defineWorkflow, MemoryWorkflowStore, Orchestrator, peer } from '../packages/orchestrator/dist/index.js';
import { SqliteWorkflowStore } from '../packages/orchestrator/dist/sqlite.js';

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 3000);
const ROUNDS = 10;
const WARMUP = 600;
const CONCURRENT_TOTAL = Number(process.env.BENCH_CONCURRENT ?? 1500);
const CONCURRENCY = 64;
const STORE = process.env.BENCH_STORE === 'memory' ? 'memory' : 'sqlite';

const contract = defineContract({ name: 'step', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ value: z.number() }), output: z.object({ value: z.number() }) });
class StepNode extends NodeService {
  constructor(tracerProvider) {
    super(contract, { logger: createSilentLogger(), ...(tracerProvider === undefined ? {} : { tracerProvider }) });
  }
  async process(input) {
    return { value: input.value + 1 };
  }
}
const ref = (name) => peer(name, contract);
const Value = z.object({ value: z.number() });
const workflow = defineWorkflow({ type: 'three-steps', version: '1.0.0', input: Value, output: Value })
  .step('a', { target: ref('a'), input: ({ input }) => input })
  .step('b', { target: ref('b'), dependsOn: ['a'], input: ({ steps }) => steps.a })
  .step('c', { target: ref('c'), dependsOn: ['b'], input: ({ steps }) => steps.b })
  .returns(({ steps }) => ({ value: steps.c?.value ?? -1 }));

/** Drops every batch, counting the spans: the SDK's whole cost but the network. */
class CountingExporter {
  spans = 0;
  export(spans, done) {
    this.spans += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  shutdown() {
    return Promise.resolve();
  }
  forceFlush() {
    return Promise.resolve();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'onex-bench-tracing-'));
let serial = 0;
async function stack(name, tracerProvider) {
  const served = await Promise.all([0, 1, 2].map(() => serveNode(new StepNode(tracerProvider))));
  const withTracing = tracerProvider === undefined ? {} : { tracerProvider };
  const peers = Object.fromEntries(['a', 'b', 'c'].map((k, i) => [k, createNodeClient(served[i].url, contract, withTracing)]));
  const store = STORE === 'sqlite' ? new SqliteWorkflowStore({ path: join(dir, `${name}.db`) }) : new MemoryWorkflowStore({ maxFinished: 1000 });
  const orchestrator = new Orchestrator(defineOrchestrator({ workflows: [workflow] }), { store, peers, logger: createSilentLogger(), ...withTracing });
  await orchestrator.initialize();
  return {
    // Ids given (not random UUIDs): one UUID in ~40 000 starts with digit groups that the credential check on
    // idempotency keys takes for a card number, and its workflow fails BAD_REQUEST (an issue of its own).
    run: async (i) => {
      const outcome = await orchestrator.result(await orchestrator.start('three-steps', { value: i }, { id: `${name}-${(serial += 1)}` }));
      if (outcome.status !== 'completed') throw new Error(`workflow ended ${outcome.status}: ${JSON.stringify(outcome.error)}`);
    },
    close: async () => {
      await orchestrator.shutdown();
      for (const p of Object.values(peers)) await p.close();
      await Promise.all(served.map((s) => s.close()));
    },
  };
}

const exporter = new CountingExporter();
const sdk = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 8192, maxExportBatchSize: 512, scheduledDelayMillis: 200 })] });
const contextManager = new AsyncLocalStorageContextManager();
const w3c = new W3CTraceContextPropagator();
// Only the SDK's rounds see a context manager and a propagator.
const enterSdk = () => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(w3c);
};
const leaveSdk = () => {
  context.disable();
  propagation.disable();
};

const modes = [
  { name: 'off (no SDK)', stack: await stack('off', undefined) },
  { name: 'noop provider', stack: await stack('noop', new ProxyTracerProvider()) },
  {
    name: 'ALS hooks on, no spans',
    stack: await stack('als', new ProxyTracerProvider()),
    enter: () => {
      enterSdk();
      context.with(ROOT_CONTEXT, () => undefined); // enables AsyncLocalStorage's hooks until context.disable()
    },
    leave: leaveSdk,
  },
  { name: 'sdk, sampled out', stack: await stack('unsampled', new BasicTracerProvider({ sampler: new AlwaysOffSampler() })), enter: enterSdk, leave: leaveSdk },
  { name: 'sdk + batch exporter', stack: await stack('sdk', sdk), enter: enterSdk, leave: leaveSdk },
];

function stats(samplesMs, wallMs) {
  const s = [...samplesMs].sort((x, y) => x - y);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { n: s.length, mean: s.reduce((a, b) => a + b, 0) / s.length, p50: q(0.5), p99: q(0.99), perSec: (s.length / wallMs) * 1000 };
}

async function concurrent(fn, total) {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) await fn(next++);
    }),
  );
  return (total / (performance.now() - start)) * 1000;
}

const fmt = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(3)} ms`);
console.log(`HTTP workflow path: 3 steps over loopback, ${STORE} store; ${SEQUENTIAL} sequential workflows per mode in ${ROUNDS} interleaved rounds, then ${CONCURRENT_TOTAL} at ${CONCURRENCY} concurrent per round`);

for (const mode of modes) {
  mode.enter?.();
  for (let i = 0; i < WARMUP; i += 1) await mode.stack.run(i);
  mode.leave?.();
}
const spansBefore = exporter.spans;
const samples = modes.map(() => []);
const walls = modes.map(() => 0);
const throughput = modes.map(() => []);
const perRound = Math.ceil(SEQUENTIAL / ROUNDS);
for (let round = 0; round < ROUNDS; round += 1) {
  // Rotate the order each round: no mode always runs right after another's GC debt.
  for (let k = 0; k < modes.length; k += 1) {
    const index = (k + round) % modes.length;
    const mode = modes[index];
    mode.enter?.();
    const start = performance.now();
    for (let i = 0; i < perRound; i += 1) {
      const t = performance.now();
      await mode.stack.run(i);
      samples[index].push(performance.now() - t);
    }
    walls[index] += performance.now() - start;
    if (round % 3 === 0) throughput[index].push(await concurrent(mode.stack.run, CONCURRENT_TOTAL));
    mode.leave?.();
  }
}
await sdk.forceFlush();
const results = modes.map((m, k) => ({ ...stats(samples[k], walls[k]), best: Math.max(...throughput[k]) }));
for (const [k, mode] of modes.entries()) {
  const r = results[k];
  console.log(
    `  ${mode.name.padEnd(22)} mean ${fmt(r.mean).padStart(10)}  p50 ${fmt(r.p50).padStart(10)}  p99 ${fmt(r.p99).padStart(10)}  ${Math.round(r.perSec).toLocaleString('en').padStart(6)} wf/s sequential  ${Math.round(r.best).toLocaleString('en').padStart(6)} wf/s at ${CONCURRENCY}`,
  );
}
const workflowsTraced = SEQUENTIAL + Math.ceil(ROUNDS / 3) * CONCURRENT_TOTAL;
console.log(`  spans exported by the SDK during the measured rounds: ${exporter.spans - spansBefore} (${((exporter.spans - spansBefore) / workflowsTraced).toFixed(1)} per workflow)`);
const [off, noop, als, unsampled, traced] = results;
const verdict = (ratio, target) => `${ratio.toFixed(3)}× (target ≤ ${target.toFixed(2)}×: ${ratio <= target ? 'met' : 'NOT met'})`;
console.log(`  noop / off: mean ${verdict(noop.mean / off.mean, 1.05)}, p50 ${(noop.p50 / off.p50).toFixed(3)}×, throughput at ${CONCURRENCY} ${(off.best / noop.best).toFixed(3)}× the time`);
console.log(`  sdk  / off: mean ${verdict(traced.mean / off.mean, 1.15)}, p50 ${(traced.p50 / off.p50).toFixed(3)}×, throughput at ${CONCURRENCY} ${(off.best / traced.best).toFixed(3)}× the time`);
console.log(`    of which Node 20's AsyncLocalStorage hooks (als / off): mean ${(als.mean / off.mean).toFixed(3)}×, p50 ${(als.p50 / off.p50).toFixed(3)}×; ONEX's context plumbing over them (unsampled / als): mean ${(unsampled.mean / als.mean).toFixed(3)}×, p50 ${(unsampled.p50 / als.p50).toFixed(3)}×`);
console.log(`    context propagation in all (unsampled / off): mean ${(unsampled.mean / off.mean).toFixed(3)}×, p50 ${(unsampled.p50 / off.p50).toFixed(3)}×; recording and exporting over it (sdk / unsampled): mean ${(traced.mean / unsampled.mean).toFixed(3)}×, p50 ${(traced.p50 / unsampled.p50).toFixed(3)}×`);

for (const mode of modes) await mode.stack.close();
await sdk.shutdown();
rmSync(dir, { recursive: true, force: true });
