// Overhead of @onex/core against the floor it is built on, in one run (see bench/README.md).
//
//   node bench/core-overhead.bench.mjs            (after `pnpm build`; `pnpm bench` does both)
//   BENCH_QUICK=1 node bench/core-overhead.bench.mjs   (fewer iterations, for a smoke run)
//
// 1. In process: `node.handle()` on a trivial node against a direct call of the same function (and against the
//    same function plus the zod parses handle() does, to separate validation from the rest of handle()).
// 2. HTTP, one process, keep-alive: serveNode + createNodeClient against a bare hono app on @hono/node-server
//    called by a minimal http.request client (the same request code, without ONEX's headers, deadline and
//    validation), plus a bare node:http server as the floor. Sequential (concurrency 1) latency and a
//    64-concurrent throughput figure. Variants run in interleaved rounds so machine drift hits them alike.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { z } from 'zod';
import { Agent, createServer, request } from 'node:http';
import { performance } from 'node:perf_hooks';

const core = await import('../packages/core/dist/index.js');
const { NodeService, NodeKind, defineContract, serveNode, createNodeClient, createSilentLogger, createLogger } = core;


const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 2 : 8;
const HTTP_PER_ROUND = QUICK ? 500 : 2_000;
const HTTP_WARMUP = QUICK ? 500 : 3_000;
const LOCAL_PER_ROUND = QUICK ? 5_000 : 40_000;
const LOCAL_BATCH = 100;
const CONCURRENCY = 64;
const CONCURRENT_CALLS = QUICK ? 2_000 : 10_000;

// ---------------------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------------------

function summarize(samplesUs, cpuUs = Number.NaN) {
  const sorted = Float64Array.from(samplesUs).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / sorted.length;
  return { mean, p50: at(0.5), p99: at(0.99), opsPerSec: 1e6 / mean, n: sorted.length, cpu: cpuUs / sorted.length };
}

/** Sequential per-call latency of an async fn, µs. */
async function sampleEach(fn, count, into) {
  for (let i = 0; i < count; i += 1) {
    const t0 = performance.now();
    await fn(i);
    into.push((performance.now() - t0) * 1_000);
  }
}

/** Per-op time of a fast async fn measured in batches (a single call is below the timer's resolution), µs. */
async function sampleBatched(fn, count, into) {
  for (let i = 0; i < count; i += LOCAL_BATCH) {
    const t0 = performance.now();
    for (let j = 0; j < LOCAL_BATCH; j += 1) await fn(j);
    into.push(((performance.now() - t0) * 1_000) / LOCAL_BATCH);
  }
}

/**
 * Runs variants in interleaved rounds; returns a summary per variant. Besides wall-clock latency it records the
 * process's CPU time (user + system) per call: on a shared machine, neighbours inflate latency, not CPU time.
 */
async function interleaved(variants, perRound, sampler) {
  const samples = new Map(variants.map((v) => [v.name, []]));
  const cpu = new Map(variants.map((v) => [v.name, 0]));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const before = process.cpuUsage();
      await sampler(v.fn, perRound, samples.get(v.name));
      const used = process.cpuUsage(before);
      cpu.set(v.name, cpu.get(v.name) + used.user + used.system);
    }
  }
  const batch = sampler === sampleBatched ? LOCAL_BATCH : 1;
  return new Map(variants.map((v) => [v.name, summarize(samples.get(v.name), cpu.get(v.name) / batch)]));
}

/** Calls/s with `CONCURRENCY` callers in flight until `total` calls are done. */
async function throughput(fn, total) {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next += 1;
      await fn(next);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return total / ((performance.now() - t0) / 1_000);
}

const fmt = (n, digits = 1) => n.toFixed(digits).padStart(9);
function printTable(title, rows) {
  console.log(`\n${title}`);
  console.log(`${'variant'.padEnd(44)}${'mean µs'.padStart(9)}${'p50 µs'.padStart(9)}${'p99 µs'.padStart(9)}${'ops/s'.padStart(11)}${'CPU µs'.padStart(9)}`);
  for (const [name, s] of rows) {
    console.log(`${name.padEnd(44)}${fmt(s.mean, 2)}${fmt(s.p50, 2)}${fmt(s.p99, 2)}${Math.round(s.opsPerSec).toString().padStart(11)}${fmt(s.cpu, 2)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The trivial node
// ---------------------------------------------------------------------------------------------------------

const contract = defineContract({
  name: 'adder',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ a: z.number(), b: z.number() }),
  output: z.object({ sum: z.number() }),
});

async function add(input) {
  return { sum: input.a + input.b };
}

class Adder extends NodeService {
  constructor(logger = createSilentLogger()) {
    super(contract, { logger });
  }
  process(input) {
    return add(input);
  }
}

// ---------------------------------------------------------------------------------------------------------
// 1. In process
// ---------------------------------------------------------------------------------------------------------

const node = new Adder();
await node.initialize();
// A production logger (pino with the default redaction, level info) writing nowhere: a successful call logs no
// line, so this measures what handle() pays for its per-call child logger.
const pinoNode = new Adder(createLogger({ name: 'adder', level: 'info', destination: { write: () => true } }));
await pinoNode.initialize();
const input = { a: 1, b: 2 };
const withZod = async (raw) => contract.output.parse(await add(contract.input.parse(raw)));

const local = await interleaved(
  [
    { name: 'direct call of the function', fn: () => add(input) },
    { name: 'function + zod parse of input and output', fn: () => withZod(input) },
    { name: 'node.handle()', fn: () => node.handle(input) },
    { name: 'node.handle() with a correlation id', fn: () => node.handle(input, { correlationId: 'bench' }) },
    { name: 'node.handle(), default pino logger', fn: () => pinoNode.handle(input) },
  ],
  LOCAL_PER_ROUND,
  sampleBatched,
);
printTable('1. In process (per call, measured in batches of 100; CPU = process CPU time per call)', local);
const direct = local.get('direct call of the function');
const handle = local.get('node.handle()');
const zodOnly = local.get('function + zod parse of input and output');
console.log(
  `   handle() / direct = ${(handle.mean / direct.mean).toFixed(1)}x  (+${(handle.mean - direct.mean).toFixed(2)} µs per call; ` +
    `zod parses account for ${(zodOnly.mean - direct.mean).toFixed(2)} µs of it)`,
);

// ---------------------------------------------------------------------------------------------------------
// 2. HTTP
// ---------------------------------------------------------------------------------------------------------

const served = await serveNode(node, { shutdownNode: false });
const client = createNodeClient(served.url, contract);

const bareApp = new Hono();
bareApp.post('/v1/process', async (c) => {
  const body = await c.req.json();
  return c.json(await add(body));
});
const bareHono = await new Promise((resolve) => {
  const server = serve({ fetch: bareApp.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve({ server, port: info.port }));
});

const floorServer = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const out = JSON.stringify({ sum: body.a + body.b });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
  });
});
await new Promise((resolve) => floorServer.listen(0, '127.0.0.1', resolve));
const floorPort = floorServer.address().port;

// The same request code the ONEX client runs (keep-alive agent, headers as a flat array, which spares
// http.request a setHeader per header), minus ONEX's extra headers, deadline timer and output validation.
const bareAgent = new Agent({ keepAlive: true, maxSockets: 256 });
function bareCall(port, value) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(value);
    const req = request({
      agent: bareAgent,
      hostname: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/process',
      headers: ['host', `127.0.0.1:${port}`, 'content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))],
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text}`));
        else resolve(JSON.parse(text));
      });
      res.on('error', reject);
    });
    req.end(body);
  });
}

const onex = async (i) => {
  const r = await client.call({ a: i, b: 1 });
  if (!r.ok) throw r.error;
  return r.value;
};
const httpVariants = [
  { name: 'floor: node:http server + http.request', fn: (i) => bareCall(floorPort, { a: i, b: 1 }) },
  { name: 'bare hono app + http.request', fn: (i) => bareCall(bareHono.port, { a: i, b: 1 }) },
  { name: 'ONEX serveNode + createNodeClient', fn: onex },
];
for (const v of httpVariants) await sampleEach(v.fn, HTTP_WARMUP, []);

const http = await interleaved(httpVariants, HTTP_PER_ROUND, sampleEach);
printTable('2. HTTP, sequential (concurrency 1), keep-alive, client and server in one process (CPU: both sides)', http);
const bare = http.get('bare hono app + http.request');
const onexSeq = http.get('ONEX serveNode + createNodeClient');
const floor = http.get('floor: node:http server + http.request');
const ratio = onexSeq.mean / bare.mean;
console.log(
  `   ONEX / bare hono = ${ratio.toFixed(2)}x mean, ${(onexSeq.p50 / bare.p50).toFixed(2)}x p50, ${(onexSeq.cpu / bare.cpu).toFixed(2)}x CPU ` +
    `(+${(onexSeq.mean - bare.mean).toFixed(1)} µs mean, +${(onexSeq.cpu - bare.cpu).toFixed(1)} µs CPU per call; ` +
    `target <= 1.20x: ${ratio <= 1.2 ? 'met' : 'NOT met'}); bare hono / node:http floor = ${(bare.mean / floor.mean).toFixed(2)}x`,
);

console.log(`\n3. HTTP, ${CONCURRENCY} concurrent callers, ${CONCURRENT_CALLS} calls`);
const tputs = new Map(httpVariants.map((v) => [v.name, []]));
for (let round = 0; round < Math.max(2, ROUNDS - 2); round += 1) {
  for (const v of round % 2 === 0 ? httpVariants : [...httpVariants].reverse()) tputs.get(v.name).push(await throughput(v.fn, CONCURRENT_CALLS));
}
const best = new Map([...tputs].map(([name, values]) => [name, Math.max(...values)]));
for (const [name, value] of best) console.log(`${name.padEnd(44)}${Math.round(value).toString().padStart(9)} calls/s (best of ${tputs.get(name).length})`);
const tRatio = best.get('bare hono app + http.request') / best.get('ONEX serveNode + createNodeClient');
console.log(`   bare hono / ONEX throughput = ${tRatio.toFixed(2)}x`);

await client.close();
await served.close();
await node.shutdown();
await pinoNode.shutdown();
bareAgent.destroy();
bareHono.server.close();
floorServer.close();
