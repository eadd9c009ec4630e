// Cost of the error sanitizer per error, against plain JSON.stringify of the same error, in one run
// (see bench/README.md for the house rules).
//
//   node bench/sanitizer.bench.mjs            (after `pnpm build`; `pnpm bench` does both)
//   BENCH_QUICK=1 node bench/sanitizer.bench.mjs   (fewer rounds, for a smoke run)
//
// A typical error: a 422 OnexError with a message, two validation details, five context fields, a foreign cause and
// a stack (the stack goes to the log shape, not to the wire). It is sanitized
// - as the logger writes it (`sanitizeError`: message, context, details, cause chain, stack), and
// - as a node answers it (`toWireError` with the sanitizer's `forWire`, then `JSON.stringify`),
// without secrets (the common case: every rule's keyword prefilter says no) and with three planted (a payments live
// key as an unknown JSON key, a chat token in a detail, a URL password in the context). The baseline is
// `JSON.stringify` of the same fields, which any logger or transport pays anyway. Variants run in interleaved rounds
// so machine drift hits them alike; per-error times are measured in batches of 100.
import { performance } from 'node:perf_hooks';

const core = await import('../packages/core/dist/index.js');
const { ErrorSanitizer, OnexError, ErrorCode, toWireError } = core;

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 2 : 8;
const PER_ROUND = QUICK ? 2_000 : 10_000;
const BATCH = 100;

// Built from parts, as in the tests: no literal here is a whole token.
const LIVE_KEY = ['sk', 'live', '51Hx9BenchOnly0Fake0Key0Ab12Cd34Ef56Gh78'].join('_');
const CHAT_TOKEN = ['xoxb', '17398442118', '2389011843021', 'Q9fYbench0nlyFakeT0ken0'].join('-');

function typicalError(withSecrets) {
  const unknownKey = withSecrets ? LIVE_KEY : 'amout';
  const cause = new Error(withSecrets ? 'connect postgres://ledger:Hunter2Hunter2@db.internal:5432/orders failed' : 'upstream answered 503 from http://ledger:8080/v1/process');
  return new OnexError(ErrorCode.Validation, `Validation failed: (root): Unrecognized key: "${unknownKey}"`, {
    correlationId: 'c-7f3a9e21-4b2d-4c1e-9a0f-3d5e6f708192',
    context: { orderId: 'ord_2024_000123', node: 'payments', operation: 'charge', attempt: 2, peer: 'http://ledger:8080/v1/process' },
    details: [
      { path: '(root)', message: `Unrecognized key: "${unknownKey}"` },
      { path: 'metadata.channel', message: withSecrets ? `Invalid input: expected string, received ${CHAT_TOKEN}` : 'Invalid input: expected string, received number' },
    ],
    cause,
  });
}

const clean = typicalError(false);
const dirty = typicalError(true);
const sanitizer = new ErrorSanitizer();
const withPii = new ErrorSanitizer({ pii: true });
const strict = new ErrorSanitizer({ preset: 'strict' });

const stringify = (e) => JSON.stringify({ name: e.name, message: e.message, code: e.code, context: e.context, details: e.details, cause: { name: e.cause.name, message: e.cause.message }, stack: e.stack });
const wire = (s, e) => JSON.stringify(toWireError(e, { sanitize: s.forWire, exposeForeignMessages: true }));
const plainWire = (e) => JSON.stringify(toWireError(e, { exposeForeignMessages: true }));

// Sanity: the sanitized shapes hold no planted secret, and the clean error comes out unchanged.
for (const out of [JSON.stringify(sanitizer.sanitizeError(dirty)), wire(sanitizer, dirty)]) {
  for (const secret of [LIVE_KEY, CHAT_TOKEN, 'Hunter2Hunter2']) if (out.includes(secret)) throw new Error(`bench setup: ${secret} leaked`);
}
if (wire(sanitizer, clean) !== plainWire(clean)) throw new Error('bench setup: the clean error changed on the wire');

const variants = [
  { name: 'baseline: JSON.stringify of the error', fn: () => stringify(clean) },
  { name: 'sanitizeError, no secret (log shape)', fn: () => JSON.stringify(sanitizer.sanitizeError(clean)) },
  { name: 'sanitizeError, 3 secrets (log shape)', fn: () => JSON.stringify(sanitizer.sanitizeError(dirty)) },
  { name: 'toWireError unsanitized (wire floor)', fn: () => plainWire(clean) },
  { name: 'toWireError + forWire, no secret', fn: () => wire(sanitizer, clean) },
  { name: 'toWireError + forWire, 3 secrets', fn: () => wire(sanitizer, dirty) },
  { name: 'sanitizeError, no secret, pii: true', fn: () => JSON.stringify(withPii.sanitizeError(clean)) },
  { name: 'sanitizeError, no secret, strict', fn: () => JSON.stringify(strict.sanitizeError(clean)) },
];

function summarize(samples, cpuUs) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { mean: sum / sorted.length, p50: at(0.5), p99: at(0.99), cpu: cpuUs };
}

function sampleBatched(fn, count, into) {
  for (let i = 0; i < count; i += BATCH) {
    const t0 = performance.now();
    for (let j = 0; j < BATCH; j += 1) fn();
    into.push(((performance.now() - t0) * 1_000) / BATCH);
  }
}

// Warm-up: JIT every path before measuring.
for (const v of variants) sampleBatched(v.fn, PER_ROUND / 2, []);

const samples = new Map(variants.map((v) => [v.name, []]));
const cpu = new Map(variants.map((v) => [v.name, 0]));
for (let round = 0; round < ROUNDS; round += 1) {
  for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
    const before = process.cpuUsage();
    sampleBatched(v.fn, PER_ROUND, samples.get(v.name));
    const used = process.cpuUsage(before);
    cpu.set(v.name, cpu.get(v.name) + used.user + used.system);
  }
}
const results = new Map(variants.map((v) => [v.name, summarize(samples.get(v.name), cpu.get(v.name) / (ROUNDS * PER_ROUND))]));

const fmt = (n, digits = 2) => n.toFixed(digits).padStart(9);
const baseline = results.get(variants[0].name);
const wireFloor = results.get('toWireError unsanitized (wire floor)');
console.log(`Sanitizer cost per error (${ROUNDS} rounds x ${PER_ROUND} errors, batches of ${BATCH}; Node ${process.version})`);
console.log(`${'variant'.padEnd(42)}${'mean µs'.padStart(9)}${'p50 µs'.padStart(9)}${'p99 µs'.padStart(9)}${'CPU µs'.padStart(9)}${'x base'.padStart(9)}`);
for (const [name, r] of results) {
  console.log(`${name.padEnd(42)}${fmt(r.mean)}${fmt(r.p50)}${fmt(r.p99)}${fmt(r.cpu)}${fmt(r.mean / baseline.mean, 1)}`);
}
const logClean = results.get('sanitizeError, no secret (log shape)');
const wireClean = results.get('toWireError + forWire, no secret');
console.log(
  `   sanitizeError / JSON.stringify = ${(logClean.mean / baseline.mean).toFixed(1)}x mean (${(logClean.mean - baseline.mean).toFixed(1)} µs per error); ` +
    `wire: forWire adds ${(wireClean.mean - wireFloor.mean).toFixed(1)} µs per error (${(wireClean.mean / wireFloor.mean).toFixed(1)}x the unsanitized wire shape)`,
);
