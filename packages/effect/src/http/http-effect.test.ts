import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CircuitBreakerRegistry, ErrorCode, type OnexError } from '@onex/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpEffect, type HttpEffect } from './http-effect.js';
import { parseRetryAfter } from './retry-after.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function server(handlers: Handler[]): Promise<{ url: string; hits: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] }> {
  const hits: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const srv: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const handler = handlers[Math.min(hits.length - 1, handlers.length - 1)] as Handler;
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, hits };
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
};

function effect(url: string, options: Partial<Parameters<typeof createHttpEffect>[0]> = {}): HttpEffect {
  const api = createHttpEffect({ baseUrl: url, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5_000 }, ...options });
  closers.push(() => api.close());
  return api;
}

describe('createHttpEffect', () => {
  it('retries a 503 and returns the 200 that follows', async () => {
    const { url, hits } = await server([json(503, { error: 'busy' }), json(200, { id: 'r1' })]);
    const api = effect(`${url}/v1`);
    const r = await api.request<{ id: string }>({ path: '/things', query: { limit: 2, skip: undefined } });
    expect(r).toMatchObject({ status: 200, body: { id: 'r1' }, attempts: 2 });
    expect(hits.map((h) => h.url)).toEqual(['/v1/things?limit=2', '/v1/things?limit=2']);
  });

  it('honours Retry-After on 429', async () => {
    const { url, hits } = await server([json(429, {}, { 'retry-after': '1' }), json(200, { ok: true })]);
    const api = effect(url);
    const started = Date.now();
    const r = await api.request({ method: 'POST', path: '/charges', body: { amount: 1 } }); // 429: not processed, safe to retry
    expect(r.body).toEqual({ ok: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(hits).toHaveLength(2);
    expect(hits[0]?.headers['content-type']).toBe('application/json');
    expect(hits[0]?.body).toBe('{"amount":1}');
  });

  it('times out an attempt, and does not retry a POST without an idempotency key', async () => {
    const { url, hits } = await server([() => undefined]); // never answers
    const api = effect(url, { timeoutMs: 50 });
    const error = (await api.request({ method: 'POST', path: '/slow', body: {} }).catch((e: unknown) => e)) as OnexError;
    expect(error.code).toBe(ErrorCode.Timeout);
    expect(hits).toHaveLength(1);
  });

  it('retries a POST carrying an idempotency key, and sends the key', async () => {
    const { url, hits } = await server([json(500, {}), json(201, { id: 'c1' })]);
    const api = effect(url);
    const r = await api.request({ method: 'POST', path: '/charges', body: { amount: 1 }, idempotencyKey: 'wf-1:charge' });
    expect(r.status).toBe(201);
    expect(hits.map((h) => h.headers['idempotency-key'])).toEqual(['wf-1:charge', 'wf-1:charge']);
  });

  it('fails typed and sanitized, never leaking headers or query secrets', async () => {
    const { url, hits } = await server([json(404, { message: 'missing' })]);
    const api = effect(url, { headers: { authorization: 'Bearer sk_live_secret' } });
    const error = (await api.request({ path: '/users/1', query: { api_key: 'sk_live_secret' } }).catch((e: unknown) => e)) as OnexError;
    expect(error.code).toBe(ErrorCode.NotFound);
    expect(error.context['status']).toBe(404);
    expect(JSON.stringify({ message: error.message, context: error.context })).not.toContain('sk_live_secret');
    expect(hits).toHaveLength(1);
    expect(hits[0]?.headers['authorization']).toBe('Bearer sk_live_secret');
    expect(() => createHttpEffect({ baseUrl: 'http://user:pw@127.0.0.1' })).toThrow(/credentials/);
  });

  it('limits the response size and maps refused connections to UNAVAILABLE', async () => {
    const { url } = await server([(_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(2_000))]);
    const api = effect(url, { maxResponseBytes: 1_000 });
    await expect(api.request({ path: '/big' })).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge });
    const refused = effect('http://127.0.0.1:1', { retry: { maxAttempts: 2, initialDelayMs: 1 } });
    await expect(refused.request({ path: '/' })).rejects.toMatchObject({ code: ErrorCode.Unavailable, context: { attempts: 2 } });
  });

  it('opens the host breaker after repeated failures', async () => {
    const { url, hits } = await server([json(503, {})]);
    const breakers = new CircuitBreakerRegistry();
    closers.push(() => breakers.shutdown());
    const api = effect(url, { retry: { maxAttempts: 1 }, breakers, breaker: { volumeThreshold: 2, resetTimeoutMs: 60_000 } });
    for (let i = 0; i < 3; i++) await api.request({ path: '/' }).catch(() => undefined);
    await expect(api.request({ path: '/' })).rejects.toMatchObject({ code: ErrorCode.CircuitOpen });
    expect(hits.length).toBeLessThanOrEqual(3);
    expect(Object.values(breakers.states())).toEqual(['open']);
  });

  it('cancels with the caller signal', async () => {
    const { url } = await server([() => undefined]);
    const api = effect(url);
    const controller = new AbortController();
    const pending = api.request({ path: '/', signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.Cancelled });
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter(new Date(0).toUTCString(), 4_000)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-1')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
