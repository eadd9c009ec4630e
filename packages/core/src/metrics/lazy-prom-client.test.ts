// prom-client is loaded the first time a registry is needed (a scrape, or `metricsRegistry` read), not at
// `@onex/core`'s import: a node's cold start does not pay for its files. Checked in a fresh process on the build
// (a vitest worker has loaded prom-client long before any test runs).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = new URL('../../dist/index.js', import.meta.url);

const probe = `
import { createRequire } from 'node:module';
import { z } from 'zod';
const core = await import(${JSON.stringify(dist.href)});
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('prom-client'));
const seen = { afterImport: loaded() };
const contract = core.defineContract({ name: 'probe', kind: core.NodeKind.Compute, version: '1.0.0', input: z.object({ n: z.number() }), output: z.object({ n: z.number() }) });
class Probe extends core.NodeService { constructor() { super(contract, { logger: core.createSilentLogger() }); } async process(i) { return i; } }
const node = new Probe();
await node.initialize();
const r = await node.handle({ n: 1 });
if (!r.ok) throw r.error;
seen.afterCall = loaded();
const text = await node.metricsRegistry.metrics();
seen.afterScrape = loaded();
seen.callsCounted = /onex_node_calls_total\\{[^}]*node="probe"[^}]*\\} 1/.test(text);
console.log(JSON.stringify(seen));
`;

describe('prom-client is loaded lazily', () => {
  it('has the built package to run in the child process', () => {
    expect(existsSync(dist), 'run `pnpm build` first: the child imports packages/core/dist').toBe(true);
  });

  it('not at import nor on calls; on the first scrape, which shows the calls made before it', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop() ?? '{}')).toEqual({ afterImport: false, afterCall: false, afterScrape: true, callsCounted: true });
  });
});
