import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { parseScrape } from '../../test/prometheus-text.js';
import { defineContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import type { WireError } from '../errors/wire-error.js';
import { createSilentLogger } from '../logging/logger.js';
import type { CallContext } from '../node/call-context.js';
import { NodeKind } from '../node/node-kind.js';
import { LifecycleStatus, NodeService, type NodeHealth, type NodeServiceOptions } from '../node/node-service.js';
import {
  formatCallerHeader,
  formatTimeoutHeader,
  MAX_TIMEOUT_MS,
  parseCallerHeader,
  parseCorrelationIdHeader,
  parseIdempotencyKeyHeader,
  parseTimeoutHeader,
} from './headers.js';
import { createNodeApp, serveNode, type AnyNodeService, type ServedNode } from './serve-node.js';

const contract = defineContract({
  name: 'sample',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({
    text: z.string(),
    delayMs: z.number().int().min(0).default(0),
    mode: z.enum(['ok', 'foreign-secret', 'onex-secret']).default('ok'),
  }),
  output: z.object({ text: z.string(), correlationId: z.string() }),
});
type Contract = typeof contract;

class Sample extends NodeService<Contract['input'], Contract['output'], Contract['config']> {
  lastSignal: AbortSignal | undefined;
  readonly aborted: Promise<unknown>;
  /** Settles once a call with a delay is being processed: tests wait for it rather than for a guessed time. */
  readonly delaying: Promise<void>;
  #onAbort: (reason: unknown) => void = () => undefined;
  #onDelaying: () => void = () => undefined;

  constructor(options: NodeServiceOptions<Contract['config']> = {}) {
    super(contract, { logger: createSilentLogger(), ...options });
    this.aborted = new Promise((resolve) => (this.#onAbort = resolve));
    this.delaying = new Promise((resolve) => (this.#onDelaying = resolve));
  }

  protected async process(input: z.output<Contract['input']>, ctx: CallContext): Promise<z.input<Contract['output']>> {
    this.lastSignal = ctx.signal;
    if (input.delayMs > 0) {
      this.#onDelaying();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, input.delayMs);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          this.#onAbort(ctx.signal.reason);
          resolve();
        });
      });
    }
    if (input.mode === 'foreign-secret') throw new Error('login failed: password=hunter2');
    if (input.mode === 'onex-secret') {
      throw new OnexError(ErrorCode.Unavailable, 'cannot reach postgres://app:hunter2@db:5432/orders', { context: { dbPassword: 'hunter2' } });
    }
    return { text: input.text, correlationId: ctx.correlationId };
  }
}

interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const agent = new Agent({ keepAlive: true });

function send(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; chunks?: readonly Buffer[] } = {},
): Promise<RawResponse> {
  const target = new URL(options.path ?? '/v1/process', url);
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      { agent, method: options.method ?? 'POST', headers: { 'content-type': 'application/json', ...options.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.chunks !== undefined) {
      for (const chunk of options.chunks) req.write(chunk);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

function wire(response: RawResponse): WireError['error'] {
  return (JSON.parse(response.body) as WireError).error;
}

const open: ServedNode[] = [];
async function start(node: AnyNodeService = new Sample(), options: Parameters<typeof serveNode>[1] = {}): Promise<ServedNode> {
  const served = await serveNode(node, options);
  open.push(served);
  return served;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

describe('serveNode', () => {
  it('accepts a concrete NodeService subclass as AnyNodeService', () => {
    expectTypeOf<Sample>().toExtend<AnyNodeService>();
  });

  it('initialises the node, binds 127.0.0.1 on a free port and answers a call', async () => {
    const node = new Sample();
    const served = await start(node);
    expect(node.status).toBe(LifecycleStatus.Ready);
    expect(served.url).toBe(`http://127.0.0.1:${served.port}`);
    expect(served.port).toBeGreaterThan(0);
    const res = await send(served.url, { body: JSON.stringify({ text: 'hi' }), headers: { 'x-correlation-id': 'corr-1' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-correlation-id']).toBe('corr-1');
    expect(JSON.parse(res.body)).toEqual({ text: 'hi', correlationId: 'corr-1' });
  });

  it('makes a correlation id when the request has none or a malformed one', async () => {
    const served = await start();
    const none = await send(served.url, { body: '{"text":"a"}' });
    const generated = none.headers['x-correlation-id'];
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect((JSON.parse(none.body) as { correlationId: string }).correlationId).toBe(generated);
    const bad = await send(served.url, { body: '{"text":"a"}', headers: { 'x-correlation-id': 'has spaces <script>' } });
    expect(bad.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers malformed JSON with 400 BAD_REQUEST and keeps serving', async () => {
    const served = await start();
    const res = await send(served.url, { body: '{"text":', headers: { 'x-correlation-id': 'c-400' } });
    expect(res.status).toBe(400);
    expect(wire(res)).toMatchObject({ code: ErrorCode.BadRequest, retryable: false, correlationId: 'c-400' });
    expect(res.headers['x-correlation-id']).toBe('c-400');
    const next = await send(served.url, { body: '{"text":"still here"}' });
    expect(next.status).toBe(200);
  });

  it('answers a missing or wrong content type with 415', async () => {
    const served = await start();
    const wrong = await send(served.url, { body: '{"text":"a"}', headers: { 'content-type': 'text/plain' } });
    expect(wrong.status).toBe(415);
    expect(wire(wrong).code).toBe(ErrorCode.UnsupportedMediaType);
    const withCharset = await send(served.url, { body: '{"text":"a"}', headers: { 'content-type': 'Application/JSON; charset=utf-8' } });
    expect(withCharset.status).toBe(200);
  });

  it('answers an oversized body with 413, by content-length and while streaming, and keeps serving', async () => {
    const served = await start(new Sample(), { bodyLimitBytes: 1024 });
    const declared = await send(served.url, { body: JSON.stringify({ text: 'x'.repeat(5000) }) });
    expect(declared.status).toBe(413);
    expect(wire(declared).code).toBe(ErrorCode.PayloadTooLarge);
    // No content-length: chunked, so the limit is enforced while reading.
    const chunked = await send(served.url, { chunks: [Buffer.from('{"text":"'), Buffer.alloc(4096, 'x'), Buffer.from('"}')] });
    expect(chunked.status).toBe(413);
    const next = await send(served.url, { body: '{"text":"small"}' });
    expect(next.status).toBe(200);
  });

  it('answers a schema violation with 422 VALIDATION and details', async () => {
    const served = await start();
    const res = await send(served.url, { body: JSON.stringify({ text: 42 }) });
    expect(res.status).toBe(422);
    const error = wire(res);
    expect(error.code).toBe(ErrorCode.Validation);
    expect(error.details).toEqual([expect.objectContaining({ path: 'text' })]);
  });

  it('answers invalid ONEX headers with 400 and never crashes', async () => {
    const served = await start();
    for (const headers of [{ 'x-onex-timeout-ms': 'soon' }, { 'x-onex-timeout-ms': '-5' }, { 'idempotency-key': 'two words' }, { 'x-onex-caller': 'a;role=x' }]) {
      const res = await send(served.url, { body: '{"text":"a"}', headers });
      expect(res.status).toBe(400);
      expect(wire(res).code).toBe(ErrorCode.BadRequest);
    }
    expect((await send(served.url, { body: '{"text":"a"}' })).status).toBe(200);
  });

  it('sanitizes error messages and context on the wire and sends no stack', async () => {
    const served = await start();
    const foreign = await send(served.url, { body: JSON.stringify({ text: 'a', mode: 'foreign-secret' }) });
    expect(foreign.status).toBe(500);
    expect(foreign.body).not.toContain('hunter2');
    expect(wire(foreign)).toMatchObject({ code: ErrorCode.Internal, message: 'Internal error' });
    expect(wire(foreign).stack).toBeUndefined();

    const onex = await send(served.url, { body: JSON.stringify({ text: 'a', mode: 'onex-secret' }) });
    expect(onex.status).toBe(503);
    expect(onex.body).not.toContain('hunter2');
    expect(wire(onex)).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });
    expect(wire(onex).message).toContain('postgres://app:');
    expect(wire(onex).stack).toBeUndefined();
  });

  it('sends a sanitized stack only with exposeStack', async () => {
    const served = await start(new Sample(), { exposeStack: true });
    const res = await send(served.url, { body: JSON.stringify({ text: 'a', mode: 'onex-secret' }) });
    expect(wire(res).stack).toContain('OnexError');
    expect(res.body).not.toContain('hunter2');
  });

  it('answers unknown routes with a 404 wire error', async () => {
    const served = await start();
    const res = await send(served.url, { method: 'GET', path: '/nope', headers: { 'x-correlation-id': 'c-404' } });
    expect(res.status).toBe(404);
    expect(wire(res)).toMatchObject({ code: ErrorCode.NotFound, correlationId: 'c-404' });
    expect(res.headers['x-correlation-id']).toBe('c-404');
    expect((await send(served.url, { method: 'GET', path: '/v1/process' })).status).toBe(404);
  });

  it('serves health, metrics and the contract document', async () => {
    const served = await start();
    await send(served.url, { body: '{"text":"a"}' });
    const health = await send(served.url, { method: 'GET', path: '/health' });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'healthy', lifecycle: 'ready', node: { name: 'sample' } });
    expect(health.headers['x-correlation-id']).toBeDefined();
    const metrics = await send(served.url, { method: 'GET', path: '/metrics.json' });
    expect(JSON.parse(metrics.body)).toMatchObject({ node: 'sample', calls: 1, successes: 1 });
    const doc = await send(served.url, { method: 'GET', path: '/contract' });
    expect(JSON.parse(doc.body)).toMatchObject({ name: 'sample', version: '1.0.0', input: { type: 'object' } });
  });

  it('serves Prometheus metrics at GET /metrics, in the text exposition format a parser reads', async () => {
    const served = await start();
    await send(served.url, { body: '{"text":"a"}' });
    await send(served.url, { body: '{"text":"b"}' });
    await send(served.url, { body: '{"nope":1}' });
    const res = await send(served.url, { method: 'GET', path: '/metrics', headers: { 'x-correlation-id': 'scrape-1' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['x-correlation-id']).toBe('scrape-1');
    const scrape = parseScrape(res.body);
    expect(scrape.family('onex_node_calls_total').type).toBe('COUNTER');
    expect(scrape.family('onex_node_call_duration_seconds').type).toBe('HISTOGRAM');
    expect(scrape.value('onex_node_calls_total', { node: 'sample', outcome: 'success' })).toBe(2);
    expect(scrape.value('onex_node_call_errors_total', { node: 'sample', code: ErrorCode.Validation })).toBe(1);
    expect(scrape.histogram('onex_node_call_duration_seconds', { node: 'sample' })?.count).toBe(3);
    expect(scrape.value('onex_node_lifecycle_status', { node: 'sample', status: 'ready' })).toBe(1);
    // The parser is strict: a broken line fails the scrape rather than going unnoticed.
    expect(() => parseScrape(`${res.body}onex_broken{node="x" 1\n`)).toThrow();
  });

  it('turns x-onex-timeout-ms into the call deadline (TIMEOUT, ctx.signal aborted)', async () => {
    const node = new Sample();
    const served = await start(node);
    const started = Date.now();
    const res = await send(served.url, { body: JSON.stringify({ text: 'a', delayMs: 5_000 }), headers: { 'x-onex-timeout-ms': '50' } });
    expect(Date.now() - started).toBeLessThan(5_000); // answered before the call's own delay would have ended
    expect(res.status).toBe(504);
    expect(wire(res)).toMatchObject({ code: ErrorCode.Timeout, retryable: true });
    expect(node.lastSignal?.aborted).toBe(true);
  });

  it('aborts the node call when the client disconnects', async () => {
    const node = new Sample();
    const served = await start(node);
    const req = request(new URL('/v1/process', served.url), { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ text: 'a', delayMs: 10_000 }));
    await node.delaying; // the call is running: a fixed wait could end before it even arrived on a loaded machine
    req.destroy();
    const reason = await node.aborted;
    expect(reason).toMatchObject({ code: ErrorCode.Cancelled });
    await expect.poll(() => node.metrics().failuresByCode).toEqual({ [ErrorCode.Cancelled]: 1 });
  });

  it('close() waits for an in-flight call, refuses new connections, then shuts the node down', async () => {
    const node = new Sample();
    const served = await serveNode(node, { drainTimeoutMs: 5_000 });
    const inFlight = send(served.url, { body: JSON.stringify({ text: 'slow', delayMs: 300 }) });
    await node.delaying; // in flight for sure, not merely sent
    const closing = served.close();
    expect(served.close()).toBe(closing);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ text: 'slow' });
    await closing;
    expect(node.status).toBe(LifecycleStatus.Stopped);
    await expect(send(served.url, { body: '{"text":"late"}' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('close() leaves the node running with shutdownNode: false', async () => {
    const node = new Sample();
    const served = await serveNode(node, { shutdownNode: false });
    await served.close();
    expect(node.status).toBe(LifecycleStatus.Ready);
    await node.shutdown();
  });

  it('adds routes with configure; a throwing route answers a sanitized wire error', async () => {
    const served = await start(new Sample(), {
      configure: (app) => {
        app.get('/v1/extra', (c) => c.json({ extra: true }));
        app.get('/v1/broken', () => {
          throw new Error('token=abc123 leaked');
        });
      },
    });
    const extra = await send(served.url, { method: 'GET', path: '/v1/extra' });
    expect(JSON.parse(extra.body)).toEqual({ extra: true });
    const broken = await send(served.url, { method: 'GET', path: '/v1/broken', headers: { 'x-correlation-id': 'c-500' } });
    expect(broken.status).toBe(500);
    expect(broken.body).not.toContain('abc123');
    expect(wire(broken)).toMatchObject({ code: ErrorCode.Internal, correlationId: 'c-500' });
  });
});

describe('createNodeApp', () => {
  it('serves through app.request() without a server', async () => {
    const node = new Sample();
    await node.initialize();
    const app = createNodeApp(node, { bodyLimitBytes: 64 });
    const ok = await app.request('/v1/process', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-correlation-id': 'in-app' },
      body: JSON.stringify({ text: 'a' }),
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-correlation-id')).toBe('in-app');
    expect(await ok.json()).toEqual({ text: 'a', correlationId: 'in-app' });
    const big = await app.request('/v1/process', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'x'.repeat(100) }) });
    expect(big.status).toBe(413);
  });

  it('reports an unready node as 503 on /health and LIFECYCLE on calls', async () => {
    const app = createNodeApp(new Sample());
    const health = await app.request('/health');
    expect(health.status).toBe(503);
    expect(((await health.json()) as NodeHealth).lifecycle).toBe('created');
    const call = await app.request('/v1/process', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"a"}' });
    expect(call.status).toBe(503);
    expect(((await call.json()) as WireError).error.code).toBe(ErrorCode.Lifecycle);
  });
});

describe('ONEX headers', () => {
  it('parse and format the time budget', () => {
    expect(parseTimeoutHeader('250')).toEqual({ ok: true, value: 250 });
    expect(parseTimeoutHeader('0')).toEqual({ ok: true, value: 0 });
    expect(parseTimeoutHeader(undefined)).toEqual({ ok: true, value: undefined });
    expect(parseTimeoutHeader('99999999999')).toEqual({ ok: true, value: MAX_TIMEOUT_MS });
    for (const bad of ['', '-1', '1.5', '1e3', ' 5', 'NaN', ['1', '2']]) expect(parseTimeoutHeader(bad).ok).toBe(false);
    expect(formatTimeoutHeader(1499.2)).toBe('1500');
    expect(formatTimeoutHeader(-3)).toBe('0');
    expect(formatTimeoutHeader(Number.NaN)).toBe('0');
    expect(formatTimeoutHeader(Number.POSITIVE_INFINITY)).toBe(String(MAX_TIMEOUT_MS));
  });

  it('accept safe correlation ids and idempotency keys only', () => {
    expect(parseCorrelationIdHeader('3f2b8c1e-0d4a-4b8e-9a51-7c2d9e0f1a2b')).toBe('3f2b8c1e-0d4a-4b8e-9a51-7c2d9e0f1a2b');
    expect(parseCorrelationIdHeader('a\r\nset-cookie: x')).toBeUndefined();
    expect(parseCorrelationIdHeader('x'.repeat(129))).toBeUndefined();
    expect(parseCorrelationIdHeader(['a', 'b'])).toBeUndefined();
    expect(parseIdempotencyKeyHeader('order-42')).toEqual({ ok: true, value: 'order-42' });
    // A workflow's step key whose UUID has an all-digit head passing the Luhn check is an id, not a card number.
    expect(parseIdempotencyKeyHeader('41234567-8901-4006-a123-123456789abc:charge')).toEqual({ ok: true, value: '41234567-8901-4006-a123-123456789abc:charge' });
    expect(parseIdempotencyKeyHeader('k\u00e9').ok).toBe(false);
    expect(parseIdempotencyKeyHeader('k'.repeat(257)).ok).toBe(false);
  });

  it('round-trip the caller identity', () => {
    for (const caller of [{ id: 'checkout' }, { id: 'urn:svc:checkout', kind: 'node' }]) {
      const formatted = formatCallerHeader(caller);
      expect(formatted).toBeDefined();
      expect(parseCallerHeader(formatted)).toEqual({ ok: true, value: caller });
    }
    expect(formatCallerHeader({ id: 'a;b' })).toBeUndefined();
    expect(formatCallerHeader({ id: 'a', kind: 'no spaces' })).toBeUndefined();
    expect(parseCallerHeader('a; kind=node')).toEqual({ ok: true, value: { id: 'a', kind: 'node' } });
    expect(parseCallerHeader('a;role=x').ok).toBe(false);
    expect(parseCallerHeader('').ok).toBe(false);
  });
});
