import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { createSilentLogger } from '../logging/logger.js';
import type { CallContext } from '../node/call-context.js';
import { NodeKind } from '../node/node-kind.js';
import { NodeService } from '../node/node-service.js';
import type { Result } from '../node/result.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import { RetryPolicy } from '../resilience/retry-policy.js';
import { createNodeClient, type NodeClient } from './node-client.js';
import { serveNode, type ServedNode } from './serve-node.js';

const contract = defineContract({
  name: 'probe',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({
    text: z.string(),
    delayMs: z.number().int().min(0).default(0),
    failTimes: z.number().int().min(0).default(0),
    badOutput: z.boolean().default(false),
  }),
  output: z.object({
    text: z.string(),
    correlationId: z.string(),
    budgetMs: z.number().nullable(),
    idempotencyKey: z.string().nullable(),
    caller: z.string().nullable(),
  }),
});
type Contract = typeof contract;

class Probe extends NodeService<Contract['input'], Contract['output'], Contract['config']> {
  readonly signals: AbortSignal[] = [];
  readonly keys: (string | undefined)[] = [];
  #failures = new Map<string, number>();

  constructor() {
    super(contract, { logger: createSilentLogger() });
  }

  protected async process(input: z.output<Contract['input']>, ctx: CallContext): Promise<z.input<Contract['output']>> {
    this.signals.push(ctx.signal);
    this.keys.push(ctx.idempotencyKey);
    const failed = this.#failures.get(ctx.correlationId) ?? 0;
    if (failed < input.failTimes) {
      this.#failures.set(ctx.correlationId, failed + 1);
      throw new OnexError(ErrorCode.Unavailable, 'flaky dependency');
    }
    if (input.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, input.delayMs);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (input.badOutput) return { text: 1 } as unknown as z.input<Contract['output']>;
    return {
      text: input.text,
      correlationId: ctx.correlationId,
      budgetMs: ctx.deadlineAt === undefined ? null : ctx.deadlineAt - Date.now(),
      idempotencyKey: ctx.idempotencyKey ?? null,
      caller: ctx.caller === undefined ? null : `${ctx.caller.kind ?? ''}/${ctx.caller.id}`,
    };
  }
}

let node: Probe;
let served: ServedNode;
let client: NodeClient<Contract>;

beforeAll(async () => {
  node = new Probe();
  served = await serveNode(node);
  client = createNodeClient(served.url, contract, { caller: { id: 'tests', kind: 'suite' } });
});

afterAll(async () => {
  await client.close();
  await served.close();
});

function expectError<T>(result: Result<T>): OnexError {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`);
  return result.error;
}

/** A plain HTTP server answering every request with `handler`, for peers that are not ONEX nodes. */
async function rawServer(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('createNodeClient', () => {
  it('makes typed calls and propagates the correlation id and caller', async () => {
    expectTypeOf(client.call).parameter(0).toEqualTypeOf<z.input<Contract['input']>>();
    const result = await client.call({ text: 'hello' }, { correlationId: 'corr-42' });
    expect(result).toEqual({
      ok: true,
      value: expect.objectContaining({ text: 'hello', correlationId: 'corr-42', caller: 'suite/tests', idempotencyKey: null }),
    });
    await expect(client.callOrThrow({ text: 'again' })).resolves.toMatchObject({ text: 'again' });
  });

  it('sends the remaining budget, and the idempotency key', async () => {
    const value = await client.callOrThrow({ text: 'a' }, { timeoutMs: 10_000, idempotencyKey: 'key-1' });
    // The caller's 10 s, not the 30 s default; bounds seconds apart, so a loaded machine cannot flake them.
    expect(value.budgetMs).toBeGreaterThan(0);
    expect(value.budgetMs).toBeLessThanOrEqual(10_000);
    expect(value.idempotencyKey).toBe('key-1');
    const defaulted = await client.callOrThrow({ text: 'a' });
    expect(defaulted.budgetMs).toBeGreaterThan(20_000);
  });

  it('times out a slow call on both sides at the deadline', async () => {
    const before = node.signals.length;
    const started = Date.now();
    const result = await client.call({ text: 'slow', delayMs: 5_000 }, { timeoutMs: 100, correlationId: 'slow-1' });
    const elapsed = Date.now() - started;
    const error = expectError(result);
    expect(error).toMatchObject({ code: ErrorCode.Timeout, retryable: true, correlationId: 'slow-1' });
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(5_000); // before the slow call would have answered
    const serverSignal = node.signals[before];
    await expect.poll(() => serverSignal?.aborted, { timeout: 10_000 }).toBe(true);
    await expect.poll(() => node.metrics().failuresByCode[ErrorCode.Timeout], { timeout: 10_000 }).toBe(1);
  });

  it('cancels on the caller signal', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = expectError(await client.call({ text: 'slow', delayMs: 5_000 }, { signal: controller.signal }));
    expect(error.code).toBe(ErrorCode.Cancelled);
    const already = expectError(await client.call({ text: 'x' }, { signal: AbortSignal.abort() }));
    expect(already.code).toBe(ErrorCode.Cancelled);
  });

  it('turns wire errors back into OnexErrors', async () => {
    const invalid = expectError(await client.call({ text: 7 } as unknown as { text: string }, { correlationId: 'bad-input' }));
    expect(invalid).toBeInstanceOf(OnexError);
    expect(invalid).toMatchObject({ code: ErrorCode.Validation, retryable: false, correlationId: 'bad-input' });
    expect(invalid.details).toEqual([expect.objectContaining({ path: 'text' })]);
    const contractBreak = expectError(await client.call({ text: 'x', badOutput: true }));
    expect(contractBreak.code).toBe(ErrorCode.Contract);
    await expect(client.callOrThrow({ text: 7 } as unknown as { text: string })).rejects.toMatchObject({ code: ErrorCode.Validation });
  });

  it('checks the output against the contract unless validateOutput is false', async () => {
    const lying = defineContract({ name: 'probe', kind: NodeKind.Compute, version: '1.0.0', input: contract.input, output: z.object({ other: z.string() }) });
    const strict = createNodeClient(served.url, lying);
    const error = expectError(await strict.call({ text: 'x' }));
    expect(error).toMatchObject({ code: ErrorCode.Contract });
    expect(error.details).toEqual([expect.objectContaining({ path: 'other' })]);
    const loose = createNodeClient(served.url, lying, { validateOutput: false });
    expect(await loose.call({ text: 'x' })).toMatchObject({ ok: true, value: { text: 'x' } });
    await Promise.all([strict.close(), loose.close()]);
  });

  it('reports a refused connection as retryable UNAVAILABLE', async () => {
    const { server, url } = await rawServer((_req, res) => res.end());
    await new Promise((resolve) => server.close(resolve));
    const dead = createNodeClient(url, contract);
    const error = expectError(await dead.call({ text: 'x' }));
    expect(error).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });
    await expect(dead.health()).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    await dead.close();
  });

  it('handles non-JSON error bodies and oversized responses', async () => {
    const { server, url } = await rawServer((req, res) => {
      if (req.url === '/v1/process') {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ blob: 'x'.repeat(10_000) }));
      }
    });
    const proxy = createNodeClient(url, contract, { maxResponseBytes: 1_000 });
    const error = expectError(await proxy.call({ text: 'x' }, { correlationId: 'via-proxy' }));
    expect(error).toMatchObject({ code: ErrorCode.Unavailable, correlationId: 'via-proxy', message: 'Peer answered HTTP 502' });
    await expect(proxy.metrics()).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge });
    await proxy.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reuses keep-alive connections for sequential calls', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const sockets = new Set<Socket>();
    agent.on('free', (socket: Socket) => sockets.add(socket));
    const pooled = createNodeClient(served.url, contract, { agent });
    for (let i = 0; i < 50; i += 1) expect((await pooled.call({ text: `n${i}` })).ok).toBe(true);
    expect(sockets.size).toBe(1);
    await pooled.close();
    // The agent was given, not owned: close() leaves it open.
    expect(Object.values(agent.freeSockets).flat()).toHaveLength(1);
    agent.destroy();
  });

  it('runs 64 concurrent calls', async () => {
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => client.call({ text: `c${i}` })));
    expect(results.every((r) => r.ok)).toBe(true);
  });

  it('retries retryable failures with the same idempotency key', async () => {
    const retrying = createNodeClient(served.url, contract, { retry: new RetryPolicy({ maxAttempts: 3, initialDelayMs: 1 }) });
    const before = node.keys.length;
    const value = await retrying.callOrThrow({ text: 'flaky', failTimes: 2 }, { idempotencyKey: 'once-only' });
    expect(value.text).toBe('flaky');
    expect(node.keys.slice(before)).toEqual(['once-only', 'once-only', 'once-only']);
    const exhausted = expectError(await retrying.call({ text: 'flaky', failTimes: 5 }));
    expect(exhausted).toMatchObject({ code: ErrorCode.Unavailable, context: { attempts: 3 } });
    await retrying.close();
  });

  it('goes through the circuit breaker', async () => {
    const { server, url } = await rawServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'down', retryable: true } }));
    });
    const breaker = new CircuitBreaker('probe', { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 });
    const guarded = createNodeClient(url, contract, { breaker });
    expect(expectError(await guarded.call({ text: 'x' })).code).toBe(ErrorCode.Unavailable);
    expect(expectError(await guarded.call({ text: 'x' })).code).toBe(ErrorCode.Unavailable);
    expect(expectError(await guarded.call({ text: 'x' })).code).toBe(ErrorCode.CircuitOpen);
    await guarded.close();
    breaker.shutdown();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads health, metrics and the contract document', async () => {
    await expect(client.health()).resolves.toMatchObject({ status: 'healthy', node: { name: 'probe' } });
    await expect(client.metrics()).resolves.toMatchObject({ node: 'probe' });
    await expect(client.fetchContract()).resolves.toMatchObject({ name: 'probe', version: '1.0.0' });
  });

  it('refuses ids that cannot cross an HTTP hop, and calls after close()', async () => {
    expect(expectError(await client.call({ text: 'x' }, { correlationId: 'bad id\n' })).code).toBe(ErrorCode.Validation);
    expect(expectError(await client.call({ text: 'x' }, { idempotencyKey: '' })).code).toBe(ErrorCode.Validation);
    expect(() => createNodeClient('https://example.com', contract)).toThrow(OnexError);
    const closing = createNodeClient(served.url, contract);
    await closing.close();
    expect(expectError(await closing.call({ text: 'x' })).code).toBe(ErrorCode.Lifecycle);
  });
});
