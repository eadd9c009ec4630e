// Overhead of @onex/reducer against a hand-written reducer, in one run (bounded: well under 30 s).
//
//   node bench/reducer.bench.mjs                 (after `pnpm build`)
//   BENCH_QUICK=1 node bench/reducer.bench.mjs   (fewer iterations, for a smoke run)
//
// 1. Pure: `reduce()` (payload parse, transition lookup, guard, update, context check) against a hand-written
//    switch doing the same guard and update with no validation.
// 2. Per call, in process: `node.apply()` with the memory store and with the SQLite store (WAL, synchronous NORMAL,
//    a temp file), and `node.handle()` (the contract's input/output validation, deadline, metrics) against a direct
//    async function call of the hand-written reducer over a Map.
// Every call is a legal event with a fresh id (a partial payment on an order in `reserved`), so each one is applied
// and, with a store, persisted. Variants run in interleaved rounds so machine drift hits them alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { z } from 'zod';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const { createSilentLogger } = await import('../packages/core/dist/index.js');
const { defineStateMachine, defineReducerNode, NodeReducer, reduce, MemoryReducerStore } = await import('../packages/reducer/dist/index.js');
const { SqliteReducerStore } = await import('../packages/reducer/dist/sqlite.js');


const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 2 : 5;
const PURE_PER_ROUND = QUICK ? 5_000 : 40_000;
const CALLS_PER_ROUND = QUICK ? 2_000 : 10_000;
const SQLITE_PER_ROUND = QUICK ? 1_000 : 4_000;
const BATCH = 100;
const started = performance.now();

// ---------------------------------------------------------------------------------------------------------
// Measurement (as bench/core-overhead.bench.mjs)
// ---------------------------------------------------------------------------------------------------------

function summarize(samplesUs) {
  const sorted = Float64Array.from(samplesUs).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / sorted.length;
  return { mean, p50: at(0.5), p99: at(0.99), opsPerSec: 1e6 / mean, n: sorted.length };
}

/** Per-op time measured in batches (a single call is below the timer's resolution), µs. */
async function sampleBatched(fn, count, into) {
  for (let i = 0; i < count; i += BATCH) {
    const t0 = performance.now();
    for (let j = 0; j < BATCH; j += 1) await fn();
    into.push(((performance.now() - t0) * 1_000) / BATCH);
  }
}

function sampleBatchedSync(fn, count, into) {
  for (let i = 0; i < count; i += BATCH) {
    const t0 = performance.now();
    for (let j = 0; j < BATCH; j += 1) fn();
    into.push(((performance.now() - t0) * 1_000) / BATCH);
  }
}

async function interleaved(variants, sampler) {
  const samples = new Map(variants.map((v) => [v.name, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) await sampler(v.fn, v.perRound, samples.get(v.name));
  }
  return new Map(variants.map((v) => [v.name, summarize(samples.get(v.name))]));
}

const fmt = (n, digits = 2) => n.toFixed(digits).padStart(9);
function printTable(title, rows) {
  console.log(`\n${title}`);
  console.log(`${'variant'.padEnd(46)}${'mean µs'.padStart(9)}${'p50 µs'.padStart(9)}${'p99 µs'.padStart(9)}${'ops/s'.padStart(11)}`);
  for (const [name, s] of rows) console.log(`${name.padEnd(46)}${fmt(s.mean)}${fmt(s.p50)}${fmt(s.p99)}${Math.round(s.opsPerSec).toString().padStart(11)}`);
}

// ---------------------------------------------------------------------------------------------------------
// The machine (the order lifecycle of the README, trimmed to what the bench drives)
// ---------------------------------------------------------------------------------------------------------

const Context = z.object({ total: z.number().nonnegative().default(0), paid: z.number().nonnegative().default(0), reservation: z.string().nullable().default(null) });
const machine = defineStateMachine({
  name: 'order',
  states: ['created', 'priced', 'reserved', 'paid', 'cancelled'],
  initial: 'created',
  terminal: ['paid', 'cancelled'],
  context: Context,
  events: {
    PRICE: z.object({ total: z.number().positive() }),
    RESERVE: z.object({ reservationId: z.string().min(1) }),
    PAY: z.object({ amount: z.number().positive() }),
    CANCEL: z.object({}),
  },
  intents: { charge: z.object({ amount: z.number() }), ship: z.object({ reservation: z.string() }) },
  transitions: [
    { from: 'created', on: 'PRICE', to: 'priced', update: (ctx, p) => ({ ...ctx, total: p.total }) },
    { from: 'priced', on: 'RESERVE', to: 'reserved', update: (ctx, p) => ({ ...ctx, reservation: p.reservationId }), emit: (ctx) => [{ type: 'charge', payload: { amount: ctx.total } }] },
    {
      from: 'reserved',
      on: 'PAY',
      to: 'paid',
      priority: 1,
      guard: (ctx, p) => ctx.paid + p.amount >= ctx.total,
      update: (ctx, p) => ({ ...ctx, paid: ctx.paid + p.amount }),
      emit: (ctx) => [{ type: 'ship', payload: { reservation: ctx.reservation ?? '' } }],
    },
    { from: 'reserved', on: 'PAY', to: 'reserved', update: (ctx, p) => ({ ...ctx, paid: ctx.paid + p.amount }) },
    { from: '*', on: 'CANCEL', to: 'cancelled' },
  ],
});

// The same reducer by hand: a switch, the same guard and update, no validation.
function handReduce(snapshot, event) {
  const { state, context } = snapshot;
  switch (state) {
    case 'created':
      if (event.type === 'PRICE') return { state: 'priced', context: { ...context, total: event.payload.total }, intents: [] };
      break;
    case 'priced':
      if (event.type === 'RESERVE') {
        return { state: 'reserved', context: { ...context, reservation: event.payload.reservationId }, intents: [{ type: 'charge', payload: { amount: context.total } }] };
      }
      break;
    case 'reserved':
      if (event.type === 'PAY') {
        const next = { ...context, paid: context.paid + event.payload.amount };
        if (context.paid + event.payload.amount >= context.total) return { state: 'paid', context: next, intents: [{ type: 'ship', payload: { reservation: context.reservation } }] };
        return { state: 'reserved', context: next, intents: [] };
      }
      break;
    default:
      break;
  }
  if (event.type === 'CANCEL' && state !== 'paid' && state !== 'cancelled') return { state: 'cancelled', context, intents: [] };
  throw new Error(`illegal: ${event.type} in ${state}`);
}

// An order that stays in `reserved` under partial payments of 1.
const TOTAL = 1e12;
const reserved = { state: 'reserved', context: { total: TOTAL, paid: 0, reservation: 'r-1' } };
const pay = { type: 'PAY', payload: { amount: 1 } };

// ---------------------------------------------------------------------------------------------------------
// 1. Pure
// ---------------------------------------------------------------------------------------------------------

let sink;
const pure = await interleaved(
  [
    { name: 'hand-written switch', perRound: PURE_PER_ROUND, fn: () => (sink = handReduce(reserved, pay)) },
    {
      name: 'reduce()',
      perRound: PURE_PER_ROUND,
      fn: () => {
        const r = reduce(machine, reserved, pay);
        if (!r.ok) throw r.error;
        sink = r.value;
      },
    },
  ],
  async (fn, count, into) => sampleBatchedSync(fn, count, into),
);
printTable('1. Pure reduce (per event, measured in batches of 100)', pure);
const hand = pure.get('hand-written switch');
const pureReduce = pure.get('reduce()');
console.log(`   reduce() / switch = ${(pureReduce.mean / hand.mean).toFixed(1)}x (+${(pureReduce.mean - hand.mean).toFixed(2)} µs per event: zod parse of the payload and of the new context, guard, lookup)`);

// ---------------------------------------------------------------------------------------------------------
// 2. Per call, in process
// ---------------------------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'onex-reducer-bench-'));
const logger = createSilentLogger();
const memoryNode = new NodeReducer(defineReducerNode({ machine, version: '1.0.0' }), { store: new MemoryReducerStore({ maxHistory: 1_000 }), logger });
const sqliteNode = new NodeReducer(defineReducerNode({ machine, version: '1.0.0', name: 'order-sqlite' }), { store: new SqliteReducerStore({ path: join(dir, 'bench.db') }), logger });
await memoryNode.initialize();
await sqliteNode.initialize();
for (const node of [memoryNode, sqliteNode]) {
  for (const id of ['apply', 'handle']) {
    const events = [
      { id: `${id}-price`, type: 'PRICE', payload: { total: TOTAL } },
      { id: `${id}-reserve`, type: 'RESERVE', payload: { reservationId: 'r-1' } },
    ];
    for (const event of events) {
      const r = await node.apply(id, event);
      if (!r.ok) throw r.error;
    }
  }
}

// The floor: an async function applying the hand-written reducer to a Map, with a Set for dedup.
const handStore = new Map([['o', reserved]]);
const handSeen = new Set();
async function handApply(aggregateId, event) {
  if (handSeen.has(event.id)) return { duplicate: true };
  const next = handReduce(handStore.get(aggregateId), event);
  handStore.set(aggregateId, next);
  handSeen.add(event.id);
  return next;
}

let seq = 0;
const nextPay = () => ({ id: `p${(seq += 1)}`, type: 'PAY', payload: { amount: 1 } });
const check = (r) => {
  if (!r.ok) throw r.error;
};
const calls = await interleaved(
  [
    { name: 'direct async call (switch + Map)', perRound: CALLS_PER_ROUND, fn: () => handApply('o', nextPay()) },
    { name: 'node.apply(), memory store', perRound: CALLS_PER_ROUND, fn: async () => check(await memoryNode.apply('apply', nextPay())) },
    { name: 'node.handle(), memory store', perRound: CALLS_PER_ROUND, fn: async () => check(await memoryNode.handle({ aggregateId: 'handle', event: nextPay() })) },
    { name: 'node.apply(), SQLite store', perRound: SQLITE_PER_ROUND, fn: async () => check(await sqliteNode.apply('apply', nextPay())) },
    { name: 'node.handle(), SQLite store', perRound: SQLITE_PER_ROUND, fn: async () => check(await sqliteNode.handle({ aggregateId: 'handle', event: nextPay() })) },
  ],
  sampleBatched,
);
printTable('2. Per call, in process (sequential, measured in batches of 100)', calls);
const direct = calls.get('direct async call (switch + Map)');
for (const name of ['node.apply(), memory store', 'node.handle(), memory store', 'node.apply(), SQLite store', 'node.handle(), SQLite store']) {
  const s = calls.get(name);
  console.log(`   ${name.padEnd(30)} / direct = ${(s.mean / direct.mean).toFixed(1).padStart(6)}x  (+${(s.mean - direct.mean).toFixed(2)} µs per call)`);
}
const apply = calls.get('node.apply(), memory store');
const handled = calls.get('node.handle(), memory store');
console.log(
  `   of node.apply() (memory): reduce() ${pureReduce.mean.toFixed(2)} µs, the rest (queue, dedup lookup, store append with JSON copy, answer) ` +
    `${(apply.mean - pureReduce.mean).toFixed(2)} µs; handle() adds ${(handled.mean - apply.mean).toFixed(2)} µs (contract validation, deadline, metrics)`,
);

await memoryNode.shutdown();
await sqliteNode.shutdown();
rmSync(dir, { recursive: true, force: true });
console.log(`\n(done in ${((performance.now() - started) / 1_000).toFixed(1)} s; sink ${typeof sink})`);
