// Durable sleep at scale, on the SQLite store (the records live on disk, so the heap measured is the engine's own):
// (1) SLEEPERS workflows parked in a one-hour sleep: the orchestrator's heap after a full GC, sampled as they pile
//     up — it stays flat, since a parked workflow holds no run, promise or timer;
// (2) WAKERS workflows due in the same second: the wake-up lag (woken minus due) at p50, p99 and max.
// Run: pnpm bench sleep (or, after pnpm build, node --expose-gc bench/sleep.bench.mjs)
// (SLEEPERS=100000 and WAKERS=1000 by default; set them smaller for a quick look).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { z } from 'zod';
import { createSilentLogger } from '../packages/core/dist/index.js';
import { defineWorkflow, Orchestrator } from '../packages/orchestrator/dist/index.js';
import { SqliteWorkflowStore } from '../packages/orchestrator/dist/sqlite.js';

const SLEEPERS = Number(process.env.SLEEPERS ?? 100_000);
const WAKERS = Number(process.env.WAKERS ?? 1000);
const BATCH = 1000;
const gc = globalThis.gc;
if (typeof gc !== 'function') throw new Error('run with node --expose-gc');

const dir = mkdtempSync(join(tmpdir(), 'onex-sleep-bench-'));
const Input = z.object({ at: z.number() });
const nap = defineWorkflow({ type: 'nap', version: '1.0.0', input: Input, output: z.object({ dueAt: z.number(), wokeAt: z.number() }) })
  .sleep('nap', { until: ({ input }) => input.at })
  .returns(({ steps }) => steps.nap);

async function open(name) {
  const o = new Orchestrator({ workflows: [nap] }, { store: new SqliteWorkflowStore({ path: join(dir, `${name}.db`), purgeIntervalMs: 0 }), logger: createSilentLogger(), maxQueuedWorkflows: 10_000 });
  await o.initialize();
  return o;
}

/** Waits until nothing runs or waits here: every workflow started so far is parked (or finished). */
async function drained(o) {
  while (o.stats().running + o.stats().queued > 0) await wait(5);
}

function heapMb() {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1_048_576;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

try {
  // (1) heap while sleepers pile up
  const sleepy = await open('sleepers');
  const wakeAt = Date.now() + 3_600_000;
  const samples = [{ parked: 0, heapMb: heapMb() }];
  const started = performance.now();
  for (let n = 0; n < SLEEPERS; n += BATCH) {
    const count = Math.min(BATCH, SLEEPERS - n);
    await Promise.all(Array.from({ length: count }, () => sleepy.start(nap, { at: wakeAt })));
    await drained(sleepy);
    const parked = n + count;
    if (parked % Math.max(BATCH, SLEEPERS / 10) === 0 || parked === SLEEPERS) samples.push({ parked, heapMb: heapMb() });
  }
  const seconds = (performance.now() - started) / 1000;
  const nextWake = await sleepy.store.nextWakeAt([{ type: 'nap', version: '1.0.0' }]);
  console.log(`(1) ${SLEEPERS} workflows parked in ${seconds.toFixed(1)} s; next wake-up in ${((nextWake - Date.now()) / 60_000).toFixed(0)} min; stats: running ${sleepy.stats().running}, queued ${sleepy.stats().queued}`);
  console.table(samples.map((s) => ({ parked: s.parked, 'heap MB': s.heapMb.toFixed(1), 'vs start MB': (s.heapMb - samples[0].heapMb).toFixed(1) })));
  await sleepy.shutdown();

  // (2) wake-up lag of workflows due in the same second
  const wakers = await open('wakers');
  const due = Date.now() + 3_000;
  const ids = await Promise.all(Array.from({ length: WAKERS }, (_, i) => wakers.start(nap, { at: due + (i % 1000) })));
  await drained(wakers);
  // The engine's timers are unref'd (they never keep a process alive): this one does, until every result is in.
  const keepAlive = setInterval(() => undefined, 1_000);
  const lags = [];
  for (const id of ids) {
    const outcome = await wakers.result(id);
    if (outcome.status !== 'completed') throw new Error(`${id} ended ${outcome.status}`);
    lags.push(outcome.output.wokeAt - outcome.output.dueAt);
  }
  clearInterval(keepAlive);
  lags.sort((a, b) => a - b);
  console.log(`(2) ${WAKERS} workflows due within one second: wake-up lag p50 ${percentile(lags, 50)} ms, p99 ${percentile(lags, 99)} ms, max ${lags.at(-1)} ms`);
  await wakers.shutdown();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
