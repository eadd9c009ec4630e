// Cost of request signing on a node call over HTTP loopback (see bench/README.md).
//
//   node bench/auth.bench.mjs            (after `pnpm build`; `pnpm bench` does both)
//   BENCH_QUICK=1 node bench/auth.bench.mjs   (fewer iterations, for a smoke run)
//
// Two servers of the same trivial node in one process: one plain, one with `auth` (HMAC-SHA256 verification, replay
// cache, body digest), each called by createNodeClient — the second signing every call. Rounds alternate between
// them so machine drift hits both alike. Prints sequential latency (p50/p99) and 64-concurrent throughput, with the
// signed path as a ratio of the unsigned one, plus sign+verify alone in process.
import { performance } from 'node:perf_hooks';
import { z } from 'zod';

const core = await import('../packages/core/dist/index.js');
const { NodeService, NodeKind, defineContract, serveNode, createNodeClient, createSilentLogger, Keyring, RequestVerifier, signRequest } = core;

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 2 : 8;
const PER_ROUND = QUICK ? 500 : 2_000;
const WARMUP = QUICK ? 500 : 3_000;
const CONCURRENCY = 64;
const CONCURRENT_CALLS = QUICK ? 2_000 : 10_000;
const LOCAL = QUICK ? 10_000 : 100_000;

const contract = defineContract({ name: 'echo', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ id: z.string(), n: z.number() }), output: z.object({ id: z.string(), n: z.number() }) });
class Echo extends NodeService {
  async process(input) {
    return input;
  }
}

const keyring = new Keyring([
  { id: 'bench-old', secret: 'bench-secret-old-0123456789abcdef', notAfter: Date.now() + 3_600_000 },
  { id: 'bench-new', secret: 'bench-secret-new-0123456789abcdef', scopes: ['bench'] },
]);
const plain = await serveNode(new Echo(contract, { logger: createSilentLogger() }));
const signed = await serveNode(new Echo(contract, { logger: createSilentLogger() }), { auth: { keyring } });
const variants = [
  { name: 'unsigned', client: createNodeClient(plain.url, contract), samples: [], throughput: [] },
  { name: 'signed', client: createNodeClient(signed.url, contract, { auth: { keyring } }), samples: [], throughput: [] },
];
const input = { id: 'order-42', n: 1 };

async function sequential(variant, count, record) {
  for (let i = 0; i < count; i += 1) {
    const t = performance.now();
    const r = await variant.client.call(input);
    if (!r.ok) throw r.error;
    if (record) variant.samples.push((performance.now() - t) * 1000);
  }
}

async function concurrent(variant) {
  let left = CONCURRENT_CALLS;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) {
        const r = await variant.client.call(input);
        if (!r.ok) throw r.error;
      }
    }),
  );
  variant.throughput.push(CONCURRENT_CALLS / ((performance.now() - t) / 1000));
}

const quantile = (values, q) => {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const median = (values) => quantile(values, 0.5);

for (const v of variants) await sequential(v, WARMUP, false);
for (let round = 0; round < ROUNDS; round += 1) {
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  for (const v of order) await sequential(v, PER_ROUND, true);
  for (const v of order) await concurrent(v);
  globalThis.gc?.();
}

// Sign + verify alone (in process), the part of the difference that is crypto and bookkeeping.
const verifier = new RequestVerifier({ keyring });
const key = keyring.signingKey();
const body = JSON.stringify(input);
let t = performance.now();
for (let i = 0; i < LOCAL; i += 1) {
  const headers = signRequest(key, { method: 'POST', path: '/v1/process', body });
  const result = verifier.verify({ method: 'POST', path: '/v1/process', header: (name) => headers[name] });
  if (!result.ok || !verifier.bodyMatches(result.value, Buffer.from(body))) throw new Error('verification failed');
}
const signVerifyUs = ((performance.now() - t) * 1000) / LOCAL;

const [base, auth] = variants;
console.log(`Node call over HTTP loopback, ${ROUNDS} interleaved rounds (${PER_ROUND} sequential calls, ${CONCURRENT_CALLS} at concurrency ${CONCURRENCY} per round)`);
console.log('variant    p50 µs   p99 µs   calls/s (64 in flight)');
for (const v of variants) {
  console.log(`${v.name.padEnd(9)} ${median(v.samples).toFixed(1).padStart(7)} ${quantile(v.samples, 0.99).toFixed(1).padStart(8)} ${median(v.throughput).toFixed(0).padStart(10)}`);
}
console.log(`signed / unsigned: p50 latency ×${(median(auth.samples) / median(base.samples)).toFixed(3)}, throughput ×${(median(auth.throughput) / median(base.throughput)).toFixed(3)}`);
console.log(`sign + verify + body digest alone, in process: ${signVerifyUs.toFixed(2)} µs per request (nonces remembered: ${verifier.rememberedNonces})`);

for (const v of variants) await v.client.close();
await plain.close();
await signed.close();
