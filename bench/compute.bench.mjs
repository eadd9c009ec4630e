// Overhead of @onex/compute, in one run (after a build: `pnpm build`, or `npx tsc -b tsconfig.build.json` in
// packages/core and packages/compute).
//
//   node bench/compute.bench.mjs
//   BENCH_QUICK=1 node bench/compute.bench.mjs   (fewer iterations, for a smoke run)
//
// 1. Per-call overhead in process: a direct call of a computation's function, the same with the zod parses of its
//    input and output, `node.compute()` (the typed API: registry, validation, per-computation metrics, through
//    `handle()`), and `node.handle()` with a raw request (the full envelope path a transport uses).
// 2. The result cache: a hit against a miss (hash + lookup + run + freeze + store) and an uncached run of the same
//    computation, plus the key alone (canonical JSON + SHA-256) for that input.
// 3. Batch: per-item cost of a 1 000-item batch against 1 000 single `compute()` calls.
// Variants run in interleaved rounds so machine drift hits them alike; each sample times a run of calls, since one
// direct call is below the timer's resolution. Bounded: a few seconds (QUICK: about one).
import { z } from 'zod';
import { performance } from 'node:perf_hooks';

const compute = await import('../packages/compute/dist/index.js');
const core = await import('../packages/core/dist/index.js');
const { defineComputation, defineComputeNode, NodeCompute, stableKey } = compute;
const { createSilentLogger } = core;


const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 2 : 5;
const PER_ROUND = QUICK ? 2_000 : 10_000;
const RUN = 100; // calls timed together in one sample
const WARMUP = QUICK ? 2_000 : 10_000;
const BATCH = 1_000;
const BATCH_ROUNDS = QUICK ? 3 : 10;

// ---------------------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------------------

function summarize(samplesUs) {
  const sorted = Float64Array.from(samplesUs).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / sorted.length;
  return { mean, p50: at(0.5), p99: at(0.99), opsPerSec: 1e6 / mean, n: sorted.length };
}

/** Per-op time in µs, each sample the mean of a run of RUN calls. `fn(i)` may return a promise. */
async function sampleRuns(fn, count, into, offset) {
  for (let i = 0; i < count; i += RUN) {
    const t0 = performance.now();
    for (let j = 0; j < RUN; j += 1) await fn(offset.next++);
    into.push(((performance.now() - t0) * 1_000) / RUN);
  }
}

async function interleaved(variants) {
  const samples = new Map(variants.map((v) => [v.name, []]));
  const offsets = new Map(variants.map((v) => [v.name, { next: 0 }]));
  for (const v of variants) await sampleRuns(v.fn, WARMUP, [], offsets.get(v.name));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) await sampleRuns(v.fn, PER_ROUND, samples.get(v.name), offsets.get(v.name));
  }
  return new Map(variants.map((v) => [v.name, summarize(samples.get(v.name))]));
}

const fmt = (n, digits = 2) => n.toFixed(digits).padStart(10);
function printTable(title, rows) {
  console.log(`\n${title}`);
  console.log(`${'variant'.padEnd(48)}${'mean µs'.padStart(10)}${'p50 µs'.padStart(10)}${'p99 µs'.padStart(10)}${'ops/s'.padStart(12)}`);
  for (const [name, s] of rows) {
    console.log(`${name.padEnd(48)}${fmt(s.mean)}${fmt(s.p50)}${fmt(s.p99)}${Math.round(s.opsPerSec).toString().padStart(12)}`);
  }
}
const ratio = (a, b) => `${(a.mean / b.mean).toFixed(1)}×`;

function assertOk(r) {
  if (!r.ok) throw new Error(`bench call failed: ${r.error.code} ${r.error.message}`);
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// The node
// ---------------------------------------------------------------------------------------------------------

const Quote = z.object({ unitCents: z.number().int(), quantity: z.number().int(), discountPct: z.number() });
const Total = z.object({ totalCents: z.number() });
const price = ({ unitCents, quantity, discountPct }) => ({ totalCents: Math.round(unitCents * quantity * (1 - discountPct / 100)) });

/** A deliberately costly pure function (tens of µs): what a cache is for. */
const Series = z.object({ terms: z.number().int(), x: z.number() });
const series = ({ terms, x }) => {
  let sum = 0;
  for (let k = 1; k <= terms; k += 1) sum += Math.sin(k * x) / k;
  return { sum };
};
const SeriesOut = z.object({ sum: z.number() });

const quote = defineComputation({ name: 'quote', input: Quote, output: Total, compute: price });
const quoteCached = defineComputation({ name: 'quote.cached', input: Quote, output: Total, compute: price, cache: { maxEntries: 10_000 } });
const heavy = defineComputation({ name: 'series', input: Series, output: SeriesOut, compute: series });
const heavyCached = defineComputation({ name: 'series.cached', input: Series, output: SeriesOut, compute: series, cache: { maxEntries: 10_000 } });

const pricing = defineComputeNode({
  name: 'pricing',
  version: '1.0.0',
  computations: [quote, quoteCached, heavy, heavyCached],
  defaults: { slowThresholdMs: Number.POSITIVE_INFINITY },
});
const node = new NodeCompute(pricing, { logger: createSilentLogger() });
await node.initialize();

const input = { unitCents: 1999, quantity: 3, discountPct: 15 };
const seriesInput = { terms: 2_000, x: 0.5 };
const seriesDistinct = (i) => ({ terms: 2_000, x: 0.5 + i / 1e6 });
const distinct = (i) => ({ unitCents: 1999, quantity: 3, discountPct: i }); // a new key every call

// ---------------------------------------------------------------------------------------------------------
// 1. Per-call overhead
// ---------------------------------------------------------------------------------------------------------

let sink = 0;
const local = await interleaved([
  { name: 'direct function call', fn: () => { sink += price(input).totalCents; } },
  { name: 'direct call + zod parse of input and output', fn: () => { sink += Total.parse(price(Quote.parse(input))).totalCents; } },
  { name: "node.compute('quote', input)", fn: async () => { sink += assertOk(await node.compute('quote', input)).value.totalCents; } },
  { name: "node.handle({ computation: 'quote', input })", fn: async () => { sink += assertOk(await node.handle({ computation: 'quote', input })).value.result.totalCents; } },
]);
printTable('1. Per-call overhead, in process (µs per call)', local);
const direct = local.get('direct function call');
const zodOnly = local.get('direct call + zod parse of input and output');
const viaCompute = local.get("node.compute('quote', input)");
const viaHandle = local.get("node.handle({ computation: 'quote', input })");
console.log(`   compute() / direct = ${ratio(viaCompute, direct)}   handle() / direct = ${ratio(viaHandle, direct)}   ` +
  `compute() - direct+zod = ${(viaCompute.mean - zodOnly.mean).toFixed(2)} µs   compute() / handle() = ${(viaCompute.mean / viaHandle.mean).toFixed(2)}`);

// ---------------------------------------------------------------------------------------------------------
// 2. Cache
// ---------------------------------------------------------------------------------------------------------

await node.compute('quote.cached', input); // prime the hits
await node.compute('series.cached', seriesInput);
const cache = await interleaved([
  { name: 'cheap: cache hit   (same input every call)', fn: async () => { sink += assertOk(await node.compute('quote.cached', input)).value.totalCents; } },
  { name: 'cheap: cache miss  (new input every call)', fn: async (i) => { sink += assertOk(await node.compute('quote.cached', distinct(i + 1_000))).value.totalCents; } },
  { name: 'cheap: no cache', fn: async (i) => { sink += assertOk(await node.compute('quote', distinct(i))).value.totalCents; } },
  { name: 'costly: cache hit', fn: async () => { sink += assertOk(await node.compute('series.cached', seriesInput)).value.sum; } },
  { name: 'costly: cache miss', fn: async (i) => { sink += assertOk(await node.compute('series.cached', seriesDistinct(i + 1))).value.sum; } },
  { name: 'costly: no cache', fn: async (i) => { sink += assertOk(await node.compute('series', seriesDistinct(i))).value.sum; } },
  { name: 'costly: direct function call', fn: (i) => { sink += series(seriesDistinct(i)).sum; } },
  { name: 'stableKey(input) alone', fn: () => { sink += stableKey(input).length; } },
]);
printTable('2. Result cache, through node.compute() (µs per call)', cache);
const row = (name) => cache.get(name);
console.log(`   cheap  (${direct.mean.toFixed(2)} µs function): hit / miss = ${(row('cheap: cache hit   (same input every call)').mean / row('cheap: cache miss  (new input every call)').mean).toFixed(2)}   ` +
  `miss - no cache = ${(row('cheap: cache miss  (new input every call)').mean - row('cheap: no cache').mean).toFixed(2)} µs`);
console.log(`   costly (${row('costly: direct function call').mean.toFixed(1)} µs function): hit / miss = ${(row('costly: cache hit').mean / row('costly: cache miss').mean).toFixed(2)}   ` +
  `hit / direct call = ${ratio(row('costly: cache hit'), row('costly: direct function call'))}   ` +
  `miss - no cache = ${(row('costly: cache miss').mean - row('costly: no cache').mean).toFixed(2)} µs`);
const figures = node.stats().cache['quote.cached'];
console.log(`   cache figures (cheap): hits ${figures.hits}, misses ${figures.misses}, evictions ${figures.evictions}, size ${figures.size}/${figures.maxEntries}`);

// ---------------------------------------------------------------------------------------------------------
// 3. Batch
// ---------------------------------------------------------------------------------------------------------

const inputs = Array.from({ length: BATCH }, (_, i) => distinct(i));
const batchSamples = [];
const singleSamples = [];
for (let round = 0; round < BATCH_ROUNDS + 1; round += 1) {
  let t0 = performance.now();
  const r = assertOk(await node.computeBatch('quote', inputs));
  const batchUs = ((performance.now() - t0) * 1_000) / BATCH;
  if (r.value.length !== BATCH) throw new Error('short batch');
  t0 = performance.now();
  for (const item of inputs) assertOk(await node.compute('quote', item));
  const singleUs = ((performance.now() - t0) * 1_000) / BATCH;
  if (round > 0) {
    batchSamples.push(batchUs);
    singleSamples.push(singleUs);
  }
}
const batch = new Map([
  [`computeBatch, ${BATCH} items (per item)`, summarize(batchSamples)],
  [`${BATCH} × compute() (per call)`, summarize(singleSamples)],
]);
printTable('3. Batch (µs per item)', batch);
console.log(`   batch item / single call = ${(summarize(batchSamples).mean / summarize(singleSamples).mean).toFixed(2)}`);

await node.shutdown();
if (sink === 42) console.log(''); // keep the work observable
