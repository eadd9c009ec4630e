// Per-call overhead of @onex/effect in process, against a direct call of the same async function.
//
//   node bench/effect.bench.mjs              (after `pnpm build`)
//   BENCH_QUICK=1 node bench/effect.bench.mjs
//
// Variants: the function itself; core's NodeService.handle() around it (baseline); node.handle() and node.execute() without a key (with and without the
// operation's breaker); node.execute() with a fresh idempotency key per call on the memory store and on the SQLite
// store (file in WAL + synchronous=NORMAL: two commits per call, claim and completion); and a replayed key.
// Bounded to well under 30 s; variants run in interleaved rounds so machine drift hits them alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const core = await import('../packages/core/dist/index.js');
const effect = await import('../packages/effect/dist/index.js');
const { SqliteIdempotencyStore } = await import('../packages/effect/dist/sqlite.js');
const requireFromEffect = createRequire(new URL('../packages/effect/package.json', import.meta.url));
const Database = requireFromEffect('better-sqlite3');
const { z } = await import(requireFromEffect.resolve('zod').replace(/index\.cjs$/, 'index.js'));

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 2 : 4;
const PER_ROUND = QUICK ? 3_000 : 15_000;
const SQLITE_PER_ROUND = QUICK ? 500 : 2_000;
const BATCH = 100;

function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { mean, p50: at(0.5), p99: at(0.99), n: sorted.length };
}

/** Per-call µs, measured over batches of BATCH sequential calls (one call is below the timer's resolution). */
async function sampleBatched(fn, count, into) {
  for (let i = 0; i < count; i += BATCH) {
    const t0 = performance.now();
    for (let j = 0; j < BATCH; j += 1) await fn();
    into.push(((performance.now() - t0) * 1_000) / BATCH);
  }
}

async function interleaved(variants) {
  const samples = new Map(variants.map((v) => [v.name, []]));
  for (const v of variants) await sampleBatched(v.fn, Math.min(v.perRound, 2_000), []); // warm-up
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) await sampleBatched(v.fn, v.perRound, samples.get(v.name));
  }
  return new Map(variants.map((v) => [v.name, summarize(samples.get(v.name))]));
}

// The operation: a trivial async function, so the figures are the node's overhead.
async function send(input) {
  return { id: input.n + 1 };
}
const input = { n: 1 };
const Input = z.object({ n: z.number() });
const Output = z.object({ id: z.number() });
const op = (name, extra = {}) => effect.defineOperation({ name, input: Input, output: Output, run: (i) => send(i), ...extra });
const logger = core.createSilentLogger();
const dir = mkdtempSync(join(tmpdir(), 'onex-effect-bench-'));

const plain = new effect.NodeEffect(effect.defineEffectNode({ name: 'bench', version: '1.0.0', operations: [op('send'), op('bare', { breaker: false })] }), {
  logger,
  idempotencyStore: new effect.MemoryIdempotencyStore({ maxEntries: 1_000_000 }),
});
const db = new Database(join(dir, 'idempotency.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
const sqliteStore = new SqliteIdempotencyStore({ database: db });
const durable = new effect.NodeEffect(effect.defineEffectNode({ name: 'bench-sqlite', version: '1.0.0', operations: [op('send')] }), { logger, idempotencyStore: sqliteStore });
await plain.initialize();
await durable.initialize();
// Core's NodeService.handle() around the same function: the part of the overhead that is not the effect node's.
class CoreBaseline extends core.NodeService {
  constructor() {
    super(core.defineContract({ name: 'baseline', kind: core.NodeKind.Effect, version: '1.0.0', input: Input, output: Output }), { logger });
  }
  process(i) {
    return send(i);
  }
}
const baseline = new CoreBaseline();
await baseline.initialize();

// The floor of a durable fresh key: the same two commits (claim, completion) issued directly on the same file.
db.exec('CREATE TABLE IF NOT EXISTS floor (k TEXT PRIMARY KEY, v TEXT)');
const floorInsert = db.prepare('INSERT INTO floor (k, v) VALUES (?, NULL)');
const floorUpdate = db.prepare('UPDATE floor SET v = ? WHERE k = ?');
async function floorTwoCommits(k) {
  floorInsert.run(k);
  const out = await send(input);
  floorUpdate.run(JSON.stringify(out), k);
  return out;
}

let seq = 0;
const check = (r) => {
  if (!r.ok) throw r.error;
};
const variants = [
  { name: 'direct call of the function', perRound: PER_ROUND, fn: () => send(input) },
  { name: 'core NodeService.handle() (baseline)', perRound: PER_ROUND, fn: async () => check(await baseline.handle(input)) },
  { name: 'node.handle({ operation, input })', perRound: PER_ROUND, fn: async () => check(await plain.handle({ operation: 'send', input })) },
  { name: 'node.execute()', perRound: PER_ROUND, fn: async () => check(await plain.execute('send', input)) },
  { name: 'node.execute(), no breaker', perRound: PER_ROUND, fn: async () => check(await plain.execute('bare', input)) },
  { name: 'node.execute(), fresh key, memory store', perRound: PER_ROUND, fn: async () => check(await plain.execute('send', input, { idempotencyKey: `m-${seq++}` })) },
  { name: 'node.execute(), replayed key, memory store', perRound: PER_ROUND, fn: async () => check(await plain.execute('send', input, { idempotencyKey: 'same' })) },
  { name: 'floor: function + 2 SQLite commits', perRound: SQLITE_PER_ROUND, fn: () => floorTwoCommits(`f-${seq++}`) },
  { name: 'node.execute(), fresh key, SQLite store', perRound: SQLITE_PER_ROUND, fn: async () => check(await durable.execute('send', input, { idempotencyKey: `s-${seq++}` })) },
  { name: 'node.execute(), replayed key, SQLite store', perRound: SQLITE_PER_ROUND, fn: async () => check(await durable.execute('send', input, { idempotencyKey: 'same' })) },
];

const started = performance.now();
const results = await interleaved(variants);
const direct = results.get('direct call of the function');
console.log(`\n@onex/effect in-process overhead (Node ${process.version}; per call, batches of ${BATCH})`);
console.log(`${'variant'.padEnd(46)}${'mean µs'.padStart(10)}${'p50 µs'.padStart(10)}${'p99 µs'.padStart(10)}${'× direct'.padStart(10)}${'+µs'.padStart(9)}`);
for (const [name, s] of results) {
  console.log(
    `${name.padEnd(46)}${s.mean.toFixed(2).padStart(10)}${s.p50.toFixed(2).padStart(10)}${s.p99.toFixed(2).padStart(10)}` +
      `${(s.mean / direct.mean).toFixed(1).padStart(10)}${(s.mean - direct.mean).toFixed(2).padStart(9)}`,
  );
}
console.log(`(${((performance.now() - started) / 1_000).toFixed(1)} s)`);

await plain.shutdown();
await baseline.shutdown();
await durable.shutdown();
sqliteStore.close();
db.close();
rmSync(dir, { recursive: true, force: true });
