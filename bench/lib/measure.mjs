// What the orchestrator benchmarks share: timing loops (sequential, interleaved rounds, closed-loop concurrent), the
// statistics they report, and the bare node:http 3-hop chain that is the HTTP path's baseline.
import { createServer, request } from 'node:http';

/** mean, p50, p99 (ms) and rate (per second) of `samplesMs`, measured over `wallMs`. */
export function stats(samplesMs, wallMs) {
  const s = [...samplesMs].sort((x, y) => x - y);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { n: s.length, mean: s.reduce((a, b) => a + b, 0) / s.length, p50: q(0.5), p99: q(0.99), perSec: (s.length / wallMs) * 1000 };
}

/** `n` calls of `fn` one after another, after `warmup` unmeasured ones. */
export async function sequential(fn, n, warmup) {
  for (let i = 0; i < warmup; i += 1) await fn(i);
  const samples = new Array(n);
  const start = performance.now();
  for (let i = 0; i < n; i += 1) {
    const t = performance.now();
    await fn(i);
    samples[i] = performance.now() - t;
  }
  return stats(samples, performance.now() - start);
}

/** `fns` in interleaved rounds (so the machine's drift hits them alike), `n` calls each in all; one stats per fn. */
export async function interleaved(fns, n, rounds, warmup) {
  for (const fn of fns) for (let i = 0; i < warmup; i += 1) await fn(i);
  const samples = fns.map(() => []);
  const wall = fns.map(() => 0);
  const perRound = Math.ceil(n / rounds);
  for (let round = 0; round < rounds; round += 1) {
    for (const [k, fn] of fns.entries()) {
      const start = performance.now();
      for (let i = 0; i < perRound; i += 1) {
        const t = performance.now();
        await fn(i);
        samples[k].push(performance.now() - t);
      }
      wall[k] += performance.now() - start;
    }
  }
  return samples.map((s, k) => stats(s, wall[k]));
}

/** `total` calls of `fn` by `concurrency` callers in a closed loop. */
export async function concurrent(fn, total, concurrency) {
  const samples = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await fn(i);
        samples.push(performance.now() - t);
      }
    }),
  );
  return stats(samples, performance.now() - start);
}

/** A duration in ms, as µs below 1 ms. */
export const fmt = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(3)} ms`);

/** A bare node:http server answering `work(body)` as JSON: one hop of the baseline chain. */
export function bareServer(work) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify(work(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** One keep-alive `http.request` POST of `payload` to a {@link bareServer}. */
export function bareCall(agent, port, payload) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(payload);
    const req = request({ host: '127.0.0.1', port, path: '/', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
