// Fuzzes every HTTP route of every node kind — compute, effect, reducer, orchestrator, served in process on loopback
// with `auth` — and of the demo's nodes (each its own process, as the demo runs them): random methods, paths, headers,
// bodies (JSON, garbage bytes), content types and encodings, signed or not, with live-looking secrets planted in
// bodies, headers and paths. Every answer must be a JSON 4xx or a valid 2xx — never a 5xx, a reset or a hang — and no
// planted secret may come back in a response or reach a log line. Each node is healthy afterwards. Bounded in time.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger, createNodeClient, defineContract, ErrorSanitizer, Keyring, type AnyNodeService, NodeKind, NodeService, serveNode, signRequest, type ClientAuthOptions, type Logger, type ServedNode } from '@onex/core';
import { defineComputeNode, NodeCompute } from '@onex/compute';
import { defineEffectNode, defineOperation, NodeEffect } from '@onex/effect';
import { defineOrchestrator, defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, serveOrchestrator } from '@onex/orchestrator';
import { defineReducerNode, MemoryReducerStore, NodeReducer } from '@onex/reducer';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { orderLedgerMachine } from '../src/domain/order-ledger.js';
import { CONTRACT_VERSION, PeerName } from '../src/domain/peers.js';
import { pricingComputations, pricingDefaults } from '../src/domain/pricing.js';
import { ServiceName, Stack } from '../src/stack/stack.js';

/** The whole file's time budget for fuzzing, ms (CI bound: 60 s in total with the stack's start). */
const FUZZ_BUDGET_MS = Number(process.env['ONEX_FUZZ_BUDGET_MS'] ?? 40_000);
const RUNS_PER_TARGET = Number(process.env['ONEX_FUZZ_RUNS'] ?? 1500);

// Fake but format-valid credentials, built from parts so that no scanner flags this file.
const PLANTED = [
  ['sk', 'live', '51Hx9FuzzOnly0Fake0Key0Ab12Cd34Ef56Gh78'].join('_'),
  ['glpat', 'Fuzz0nly-FakeT0ken0aB'].join('-'),
  ['AKIA', 'FUZZ0NLYFAKEKEY7'].join(''),
  ['xoxb', '17398442118', '2389011843021', 'Q9fYfuzz0nlyFakeT0ken0ab'].join('-'),
  ['sk', 'proj', 'Fuzz0nlyT3st0K3yForTheSanitizerA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6'].join('-'),
] as const;

class Lines extends Writable {
  text = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    callback();
  }
}

interface Route {
  readonly method: string;
  /** `:id` is replaced by a fuzzed segment. */
  readonly path: string;
}

const NODE_ROUTES: readonly Route[] = [
  { method: 'POST', path: '/v1/process' },
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/metrics.json' },
  { method: 'GET', path: '/contract' },
];
const WORKFLOW_ROUTES: readonly Route[] = [
  { method: 'POST', path: '/v1/workflows' },
  { method: 'GET', path: '/v1/workflows' },
  { method: 'GET', path: '/v1/workflows/:id' },
  { method: 'GET', path: '/v1/workflows/:id/result' },
  { method: 'POST', path: '/v1/workflows/:id/cancel' },
  { method: 'POST', path: '/v1/workflows/:id/signals/:id' },
  { method: 'POST', path: '/v1/schedules' },
  { method: 'GET', path: '/v1/schedules' },
  { method: 'GET', path: '/v1/schedules/:id' },
  { method: 'POST', path: '/v1/schedules/:id/pause' },
  { method: 'POST', path: '/v1/schedules/:id/resume' },
  { method: 'DELETE', path: '/v1/schedules/:id' },
];

interface Target {
  readonly name: string;
  readonly url: string;
  readonly routes: readonly Route[];
  /** Valid-looking bodies of the target's POST routes, so that fuzzing gets past the schema sometimes. */
  readonly seeds: readonly unknown[];
  readonly auth: ClientAuthOptions;
}

const secretArb = fc.constantFrom(...PLANTED);
const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.:/;=+ ~!*()\'"%,{}[]<>'.split('')), maxLength: 40 });
/** A string that often carries a planted secret. */
// Embedded between separators: glued to more token characters it would be another (not secret-shaped) token.
const textArb = fc.oneof(
  printable,
  secretArb,
  fc.tuple(printable, fc.constantFrom(' ', '/', ',', '"'), secretArb, fc.constantFrom(' ', '/', ',', '"'), printable).map((parts) => parts.join('')),
);
const segmentArb = fc.oneof(
  textArb.map((t) => encodeURIComponent(t)),
  fc.constantFrom('..', '%2e%2e', '%ZZ', '%00', '', 'a%2Fb', '%F0%9F%92%A5'),
  fc.string({ maxLength: 20 }).map((t) => encodeURIComponent(t)),
);
/** JSON with planted secrets as keys and values, somewhere. */
const jsonArb = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 2 }),
    textArb,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(textArb, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const bodyArb = (seeds: readonly unknown[]) =>
  fc.oneof(
    fc.constant<{ kind: 'none' }>({ kind: 'none' }),
    jsonArb.map((value) => ({ kind: 'json' as const, bytes: Buffer.from(JSON.stringify(value) ?? 'null') })),
    (seeds.length === 0 ? fc.constant({}) : fc.constantFrom(...seeds)).chain((seed) =>
      fc.tuple(fc.constant(seed), textArb).map(([s, t]) => ({ kind: 'json' as const, bytes: Buffer.from(JSON.stringify(plant(s, t))) })),
    ),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ kind: 'bytes' as const, bytes: Buffer.from(bytes) })),
    textArb.map((t) => ({ kind: 'bytes' as const, bytes: Buffer.from(`{"truncated":"${t}`) })),
    textArb.map((t) => ({ kind: 'bytes' as const, bytes: Buffer.from(JSON.stringify({ t }), 'utf16le') })),
  );

/** A seed body with one string field swapped for `text`, or an extra key. */
function plant(seed: unknown, text: string): unknown {
  if (typeof seed !== 'object' || seed === null || Array.isArray(seed)) return seed;
  return { ...seed, [text.slice(0, 30) || 'x']: text };
}

const headersArb = fc.record(
  {
    'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', '*/*', 'garbage'),
    'content-encoding': fc.constantFrom('gzip', 'br', 'identity', 'x-unknown'),
    'x-correlation-id': textArb,
    'idempotency-key': textArb,
    'x-onex-caller': textArb,
    'x-onex-timeout-ms': fc.oneof(fc.constantFrom('0', '50', '-1', '1e3', '99999999999999999'), printable),
    authorization: textArb.map((t) => `Bearer ${t}`),
    'x-api-key': textArb,
    'x-onex-key-id': textArb,
    'x-onex-signature': textArb.map((t) => `v1=${t}`),
  },
  { requiredKeys: [] },
);

const requestArb = (target: Target) =>
  fc.record({
    route: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...target.routes) }, { weight: 1, arbitrary: fc.array(segmentArb, { minLength: 1, maxLength: 3 }).map((s) => ({ method: 'GET', path: `/${s.join('/')}` })) }),
    method: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), { freq: 3 }),
    id: segmentArb,
    query: fc.option(fc.tuple(textArb, textArb).map(([k, v]) => `?${encodeURIComponent(k)}=${encodeURIComponent(v)}&status=${encodeURIComponent(v)}&limit=${encodeURIComponent(k)}`), { freq: 2 }),
    headers: headersArb,
    body: bodyArb(target.seeds),
    signed: fc.boolean(),
  });

type FuzzRequest = ReturnType<typeof requestArb> extends fc.Arbitrary<infer R> ? R : never;

/** Sends one fuzzed request; returns what must be checked, or throws on a reset or a hang. */
async function send(target: Target, r: FuzzRequest): Promise<{ status: number; contentType: string; text: string; headers: string; method: string; path: string }> {
  const method = r.method ?? r.route.method;
  const path = `${r.route.path.replaceAll(':id', r.id || 'x')}${r.query ?? ''}`;
  const url = new URL(`${target.url}${path}`);
  const sentPath = `${url.pathname}${url.search}`;
  const body = method === 'GET' || method === 'HEAD' || r.body.kind === 'none' ? undefined : r.body.bytes;
  const headers: Record<string, string> = { ...r.headers };
  if (body === undefined) delete headers['content-encoding'];
  if (r.signed) {
    const key = target.auth.keyring.signingKey(Date.now(), target.auth.keyId);
    if (key !== undefined) Object.assign(headers, signRequest(key, { method, path: sentPath, ...(body === undefined ? {} : { body }) }));
  }
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, headers: JSON.stringify([...res.headers]), method, path: sentPath };
}

function check(target: Target, answer: Awaited<ReturnType<typeof send>>): void {
  const what = `${target.name}: ${answer.method} ${answer.path} → ${answer.status} ${answer.text.slice(0, 300)}`;
  expect(answer.status, what).toBeGreaterThanOrEqual(200);
  expect(answer.status, what).toBeLessThan(500);
  expect(answer.status >= 300 && answer.status < 400, what).toBe(false);
  if (answer.method !== 'HEAD') {
    if (answer.status >= 400) {
      expect(answer.contentType, what).toMatch(/^application\/json/);
      const wire = JSON.parse(answer.text) as { error?: { code?: unknown } };
      expect(typeof wire.error?.code, what).toBe('string');
    } else if (answer.contentType.startsWith('application/json')) {
      expect(() => JSON.parse(answer.text) as unknown, what).not.toThrow();
    } else {
      // Only the Prometheus scrape answers in another format.
      expect(answer.path.split('?')[0], what).toBe('/metrics');
    }
  }
  for (const secret of PLANTED) {
    expect(answer.text.includes(secret), `${what}: body echoes a planted secret`).toBe(false);
    expect(answer.headers.includes(secret), `${what}: headers echo a planted secret: ${answer.headers}`).toBe(false);
  }
}

async function fuzz(target: Target, timeLimitMs: number): Promise<number> {
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(requestArb(target), async (r) => {
      sent += 1;
      check(target, await send(target, r));
    }),
    { numRuns: RUNS_PER_TARGET, interruptAfterTimeLimit: timeLimitMs, markInterruptAsFailure: false, endOnFailure: true },
  );
  return sent;
}

function expectNoPlantedSecret(text: string, where: string): void {
  for (const secret of PLANTED) {
    const line = text.split('\n').find((l) => l.includes(secret));
    expect(line, `${where} holds a planted secret`).toBeUndefined();
  }
}

// ---- The four node kinds, in process -------------------------------------------------------------------------

const echoContract = defineContract({ name: 'echo', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ value: z.number() }), output: z.object({ value: z.number() }) });
class Echo extends NodeService<(typeof echoContract)['input'], (typeof echoContract)['output'], (typeof echoContract)['config']> {
  protected async process(input: { value: number }): Promise<{ value: number }> {
    return { value: input.value + 1 };
  }
}

const chargeOperation = defineOperation({
  name: 'charge',
  input: z.object({ amount: z.number().positive(), currency: z.enum(['eur', 'usd']) }),
  output: z.object({ chargeId: z.string() }),
  // Answers nothing of the caller's: a 2xx body is the handler's own, and echoing input there is the application's choice.
  run: async ({ amount }) => ({ chargeId: `ch-${amount}` }),
});

const keyring = new Keyring([{ id: 'fuzzer', secret: 'fuzz-secret-0123456789abcdefABCDEF', scopes: ['workflows:start', 'workflows:admin', 'workflows:signal', 'schedules:admin', 'inventory:admin'] }]);
const fuzzAuth: ClientAuthOptions = { keyring };

const distDir = fileURLToPath(new URL('../dist', import.meta.url));
const built = existsSync(join(distDir, 'nodes', 'pricing.js'));
const dataDir = mkdtempSync(join(tmpdir(), 'onex-fuzz-'));
const logs = new Lines();
const logger: Logger = createLogger({ level: 'debug', destination: logs });
const servers: ServedNode[] = [];
let stack: Stack | undefined;
const targets: Target[] = [];

beforeAll(async () => {
  const serve = async (name: string, node: AnyNodeService, routes: readonly Route[], seeds: readonly unknown[]): Promise<void> => {
    const served = await serveNode(node, { logger, auth: { keyring } });
    servers.push(served);
    targets.push({ name, url: served.url, routes, seeds, auth: fuzzAuth });
  };
  await serve('compute', new NodeCompute(defineComputeNode({ name: 'pricing', version: CONTRACT_VERSION, computations: pricingComputations, defaults: pricingDefaults }), { logger }), NODE_ROUTES, [
    { computation: 'quote', input: { orderId: 'o-1', customerId: 'c-1', country: 'FR', lines: [{ sku: 'MUG-ONEX', quantity: 1 }] } },
  ]);
  await serve('effect', new NodeEffect(defineEffectNode({ name: 'charges', version: '1.0.0', operations: [chargeOperation] }), { logger }), NODE_ROUTES, [
    { operation: 'charge', input: { amount: 5, currency: 'eur' } },
  ]);
  await serve('reducer', new NodeReducer(defineReducerNode({ machine: orderLedgerMachine, name: PeerName.Ledger, version: CONTRACT_VERSION }), { store: new MemoryReducerStore(), logger }), NODE_ROUTES, [
    { entityId: 'o-1', event: { type: 'OPEN' } },
  ]);
  const echo = await serveNode(new Echo(echoContract, { logger }), { logger, auth: { keyring } });
  servers.push(echo);
  const workflow = defineWorkflow({ type: 'add', version: '1.0.0', input: z.object({ value: z.number() }), output: z.object({ total: z.number() }) })
    .step('one', { target: peer('echo', echoContract), input: ({ input }) => input })
    .returns(({ steps }) => ({ total: steps.one.value }));
  const orchestrator = new Orchestrator(defineOrchestrator({ name: 'flows', workflows: [workflow] }), {
    store: new MemoryWorkflowStore(),
    peers: { echo: createNodeClient(echo.url, echoContract, { auth: fuzzAuth }) },
    logger,
  });
  const served = await serveOrchestrator(orchestrator, { logger, auth: { keyring } });
  servers.push(served);
  targets.push({ name: 'orchestrator', url: served.url, routes: [...NODE_ROUTES, ...WORKFLOW_ROUTES], seeds: [{ type: 'add', input: { value: 1 } }], auth: fuzzAuth });

  // ---- The demo's nodes, each its own process, with the run's random keys ---------------------------------------
  if (built) {
    stack = await Stack.start({ dataDir, distDir, env: { ONEX_LOG_LEVEL: 'debug' } });
    const auth = stack.authOption().auth as ClientAuthOptions;
    const demo = (name: string, service: ServiceName, extra: readonly Route[], seeds: readonly unknown[]): void => {
      targets.push({ name: `demo ${name}`, url: stack!.url(service), routes: [...NODE_ROUTES, ...extra], seeds, auth });
    };
    demo('orchestrator', ServiceName.Orchestrator, [...WORKFLOW_ROUTES, { method: 'GET', path: '/v1/breakers' }], [{ type: 'order-fulfilment', input: { orderId: 'o-1' } }]);
    demo('pricing', ServiceName.Pricing, [], [{ computation: 'fraud-check', input: {} }]);
    demo('inventory', ServiceName.Inventory, [
      { method: 'GET', path: '/v1/stock' },
      { method: 'GET', path: '/v1/reservations' },
      { method: 'GET', path: '/admin/config' },
      { method: 'POST', path: '/admin/config' },
    ], [{ damageRate: 0 }, { operation: 'reserve', input: {} }]);
    demo('payments', ServiceName.Payments, [{ method: 'GET', path: '/v1/breakers' }], [{ operation: 'charge', input: {} }]);
    demo('ledger', ServiceName.Ledger, [{ method: 'GET', path: '/v1/orders/:id' }], [{ entityId: 'o-1', event: { type: 'OPEN' } }]);
  }
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('fuzzing every route of every node kind and of the demo nodes', () => {
  it('plants secrets the sanitizer recognises', () => {
    const sanitizer = new ErrorSanitizer();
    for (const secret of PLANTED) expect(sanitizer.sanitizeText(secret), secret.slice(0, 6)).not.toContain(secret);
  });

  it('has the built demo to fuzz', () => {
    expect(built, 'build the demo first: pnpm --filter @onex/demo... build').toBe(true);
  });

  it('answers every request with a JSON 4xx or a valid 2xx, echoes no planted secret, logs none, and stays healthy', async () => {
    const perTarget = Math.floor(FUZZ_BUDGET_MS / targets.length);
    const counts: Record<string, number> = {};
    for (const target of targets) counts[target.name] = await fuzz(target, perTarget);
    for (const target of targets) {
      const health = await fetch(`${target.url}/health`);
      expect(health.status, `${target.name} is healthy afterwards`).toBe(200);
      expect(((await health.json()) as { status: string }).status, target.name).toMatch(/healthy|degraded/);
    }
    expectNoPlantedSecret(logs.text, 'the in-process log');
    if (stack !== undefined) {
      await stack.stop();
      const dir = join(dataDir, 'logs');
      for (const file of readdirSync(dir)) expectNoPlantedSecret(readFileSync(join(dir, file), 'utf8'), `logs/${file}`);
    }
    // Every target got a real share of the budget.
    for (const [name, count] of Object.entries(counts)) expect(count, name).toBeGreaterThan(20);
    console.log(`fuzzed: ${Object.entries(counts).map(([name, n]) => `${name} ${n}`).join(', ')}`);
  }, 120_000);
});
