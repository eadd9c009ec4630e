// Limits of a served node: slow clients (headers, body) are answered 408 and disconnected, a caller over its
// concurrency limit gets 429 with Retry-After while other callers still pass, and a 20 MB body sent with `fetch`
// gets a clean 413 JSON answer rather than a reset.
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Keyring } from '../auth/keyring.js';
import { signRequest } from '../auth/request-signing.js';
import { defineContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { createSilentLogger } from '../logging/logger.js';
import { NodeKind } from '../node/node-kind.js';
import { NodeService } from '../node/node-service.js';
import { createNodeClient } from './node-client.js';
import { serveNode, type ServedNode, type ServeNodeOptions } from './serve-node.js';

const contract = defineContract({ name: 'gate', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ text: z.string() }), output: z.object({ text: z.string() }) });

/** Holds every call until `open()`. */
class Gate extends NodeService<(typeof contract)['input'], (typeof contract)['output'], (typeof contract)['config']> {
  entered = 0;
  #waiters: (() => void)[] = [];
  #open = true;

  constructor() {
    super(contract, { logger: createSilentLogger() });
  }

  close(): void {
    this.#open = false;
  }

  open(): void {
    this.#open = true;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  protected async process(input: { text: string }): Promise<{ text: string }> {
    this.entered += 1;
    if (!this.#open) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return { text: input.text };
  }
}

const served: ServedNode[] = [];
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.close()));
});

async function start(node: Gate, options: ServeNodeOptions = {}): Promise<ServedNode> {
  const server = await serveNode(node, options);
  served.push(server);
  return server;
}

/** Writes `chunks` on a raw connection, then waits until the server closes it; answers what it sent. */
function rawExchange(port: number, chunks: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
      // ...and never finish: a slow client.
    });
  });
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('serveNode limits', () => {
  it('answers a client that never finishes its headers with 408 and closes the connection', async () => {
    const server = await start(new Gate(), { headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const answer = await rawExchange(server.port, ['POST /v1/process HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n']);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('disconnects a client that trickles its body past requestTimeoutMs, and keeps serving', async () => {
    const node = new Gate();
    const server = await start(node, { headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const answer = await rawExchange(server.port, ['POST /v1/process HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"text":']);
    // Node answers 408 when nothing was sent yet; either way the connection is gone, and no call ran.
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
    expect(node.entered).toBe(0);
    const client = createNodeClient(server.url, contract);
    expect(await client.call({ text: 'after' })).toEqual({ ok: true, value: { text: 'after' } });
    await client.close();
  });

  it('refuses bad timeout options', async () => {
    await expect(serveNode(new Gate(), { headersTimeoutMs: 500, requestTimeoutMs: 100 })).rejects.toMatchObject({ code: ErrorCode.Validation });
    await expect(serveNode(new Gate(), { maxConcurrentPerCaller: 0 })).rejects.toMatchObject({ code: ErrorCode.Validation });
  });

  it('answers 429 RATE_LIMITED with Retry-After to a caller over its concurrency, not to another caller', async () => {
    const keyring = new Keyring([
      { id: 'busy', secret: 'busy-secret-AAAAAAAAAAAAAAAAAAAA' },
      { id: 'calm', secret: 'calm-secret-BBBBBBBBBBBBBBBBBBBB' },
    ]);
    const node = new Gate();
    const server = await start(node, { maxConcurrentPerCaller: 2, auth: { keyring } });
    const busy = createNodeClient(server.url, contract, { auth: { keyring, keyId: 'busy' } });
    const calm = createNodeClient(server.url, contract, { auth: { keyring, keyId: 'calm' } });
    node.close();
    const held = [busy.call({ text: 'a' }), busy.call({ text: 'b' })];
    await until(() => node.entered === 2);

    const body = JSON.stringify({ text: 'c' });
    const res = await fetch(`${server.url}/v1/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signRequest(keyring.get('busy')!, { method: 'POST', path: '/v1/process', body }) },
      body,
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ error: { code: ErrorCode.RateLimited, retryable: true } });

    // Another principal is not held back by the busy one.
    const other = calm.call({ text: 'd' });
    await until(() => node.entered === 3);
    node.open();
    expect((await Promise.all([...held, other])).map((r) => r.ok)).toEqual([true, true, true]);
    // The busy caller's slots came back.
    expect((await Promise.all([busy.call({ text: 'e' }), busy.call({ text: 'f' })])).map((r) => r.ok)).toEqual([true, true]);
    await Promise.all([busy.close(), calm.close()]);
  });

  it('limits unauthenticated callers by remote address', async () => {
    const node = new Gate();
    const server = await start(node, { maxConcurrentPerCaller: 1 });
    const client = createNodeClient(server.url, contract);
    node.close();
    const first = client.call({ text: 'a' });
    await until(() => node.entered === 1);
    const second = await client.call({ text: 'b' });
    expect(!second.ok && second.error.code).toBe(ErrorCode.RateLimited);
    expect(!second.ok && second.error.retryAfterMs).toBe(1_000);
    node.open();
    expect((await first).ok).toBe(true);
    await client.close();
  });

  it('answers a 20 MB body sent with fetch with a clean 413 JSON error, then keeps serving', async () => {
    const server = await start(new Gate());
    const body = JSON.stringify({ text: 'x'.repeat(20 * 1024 * 1024) });
    const res = await fetch(`${server.url}/v1/process`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toMatchObject({ error: { code: ErrorCode.PayloadTooLarge } });
    const ok = await fetch(`${server.url}/v1/process`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"small"}' });
    expect(await ok.json()).toEqual({ text: 'small' });
  });
});
