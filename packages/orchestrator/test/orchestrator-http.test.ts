import { request, type IncomingHttpHeaders } from 'node:http';
import { createNodeApp, createNodeClient, createSilentLogger, serveNode, type ServedNode } from '@onex/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineOrchestrator, defineWorkflow, MemoryWorkflowStore, Orchestrator, orchestratorContract, peer, serveOrchestrator, workflowRoutes } from '../src/index.js';
import { ScriptedPeer, stepContract } from './scripted-peer.js';

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number() });

let peerServer: ServedNode;
let server: ServedNode;
let orchestrator: Orchestrator;
const slowPeer = new ScriptedPeer('slow', { delayMs: 0 });

function http(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  url = server.url,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(`${url}${path}`, { method, headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as unknown }),
      );
    });
    req.on('error', reject);
    req.end(payload);
  });
}

interface Streamed {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  /** Body bytes the client had handed to its socket when the answer arrived. */
  readonly writtenWhenAnswered: number;
  /** Whether the client got to send the whole body. */
  readonly sentAll: boolean;
}

/**
 * POSTs a JSON body of about `totalBytes` with chunked transfer encoding (no content-length), honouring
 * backpressure: the client can only get ahead of what the server reads by the sockets' buffers. It stops
 * writing as soon as the answer arrives.
 */
function streamChunked(url: string, path: string, totalBytes: number): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let written = 0;
    let answered = false;
    let sentAll = false;
    req.on('response', (res) => {
      answered = true;
      const writtenWhenAnswered = written;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
          writtenWhenAnswered,
          sentAll,
        }),
      );
      res.on('error', reject);
    });
    // Once the server has answered and closed the connection, writes of the rest fail: expected.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const pump = (): void => {
      while (!answered && written < totalBytes) {
        written += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) {
        sentAll = true;
        req.end('"}');
      }
    };
    req.write('{"type":"remote","input":"');
    pump();
  });
}

const workflow = defineWorkflow({ type: 'remote', version: '1.0.0', input: Input, output: Output })
  .step('one', { target: peer('slow', stepContract), input: ({ input }) => input })
  .step('two', { target: peer('slow', stepContract), dependsOn: ['one'], input: ({ steps }) => ({ value: steps.one.value }) })
  .returns(({ steps }) => ({ total: steps.two?.value ?? 0 }));

beforeAll(async () => {
  peerServer = await serveNode(slowPeer);
  orchestrator = new Orchestrator(defineOrchestrator({ name: 'order-flows', workflows: [workflow] }), {
    store: new MemoryWorkflowStore(),
    peers: { slow: createNodeClient(peerServer.url, stepContract) },
    logger: createSilentLogger(),
  });
  server = await serveOrchestrator(orchestrator);
});

afterAll(async () => {
  await server.close();
  await peerServer.close();
});

describe('orchestrator over HTTP, peers over HTTP', () => {
  it('runs a workflow to completion through POST /v1/process with createNodeClient', async () => {
    const client = createNodeClient(server.url, orchestratorContract);
    const r = await client.call({ type: 'remote', input: { value: 1 } }, { idempotencyKey: 'p-1' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ status: 'completed', output: { total: 3 } });
    // The step call carried its idempotency key to the peer, over HTTP.
    expect(slowPeer.log.at(-1)?.key).toBe(`${r.value.id}:two`);
    const again = await client.call({ type: 'remote', input: { value: 1 } }, { idempotencyKey: 'p-1' });
    expect(again.ok && again.value.id).toBe(r.value.id);
    await client.close();
  });

  it('starts, reads, lists and waits through /v1/workflows', async () => {
    const started = await http('POST', '/v1/workflows', { type: 'remote', input: { value: 10 }, idempotencyKey: 'h-1' });
    expect(started.status).toBe(202);
    const { id } = started.body as { id: string };
    const result = await http('GET', `/v1/workflows/${id}/result`);
    expect(result.body).toMatchObject({ id, status: 'completed', output: { total: 12 } });
    const state = await http('GET', `/v1/workflows/${id}`);
    expect(state.body).toMatchObject({ id, status: 'completed', steps: { one: { status: 'completed' }, two: { status: 'completed' } } });
    const list = await http('GET', '/v1/workflows?status=completed&limit=10');
    expect((list.body as { workflows: { id: string }[] }).workflows.map((w) => w.id)).toContain(id);
  });

  it('cancels a running workflow through POST /v1/workflows/:id/cancel', async () => {
    slowPeer.script = { delayMs: 5_000 };
    try {
      const { body } = await http('POST', '/v1/workflows', { type: 'remote', input: { value: 1 } });
      const { id } = body as { id: string };
      await new Promise((r) => setTimeout(r, 50));
      const cancelled = await http('POST', `/v1/workflows/${id}/cancel`);
      expect(cancelled.body).toMatchObject({ id, status: 'cancelled' });
    } finally {
      slowPeer.script = {};
    }
  });

  it('answers bad requests with typed 4xx errors and keeps serving', async () => {
    expect((await http('POST', '/v1/workflows', '{not json')).status).toBe(400);
    expect((await http('POST', '/v1/workflows', 'x', { 'content-type': 'text/plain' })).status).toBe(415);
    const unknownType = await http('POST', '/v1/workflows', { type: 'nope', input: {} });
    expect(unknownType).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    const badInput = await http('POST', '/v1/workflows', { type: 'remote', input: { value: 'x' } });
    expect(badInput).toMatchObject({ status: 422, body: { error: { code: 'VALIDATION' } } });
    expect((await http('GET', '/v1/workflows?status=bogus')).status).toBe(422);
    expect((await http('GET', '/v1/workflows/does-not-exist')).status).toBe(404);
    const health = await http('GET', '/health');
    expect(health).toMatchObject({ status: 200, body: { node: { name: 'order-flows', kind: 'orchestrator' } } });
  });
});

const MiB = 1024 * 1024;

describe("issue 9 #14: workflow routes read bodies with core's streaming limit", () => {
  it('answers a 50 MiB chunked body with a clean 413 JSON error before the client could send it all', async () => {
    const total = 50 * MiB;
    const res = await streamChunked(server.url, '/v1/workflows', total);
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', retryable: false } });
    // The rest of the body is left unread: the server closes the connection instead of draining it.
    expect(res.headers['connection']).toBe('close');
    // Backpressure bounds the client by what the server read plus socket buffers; had the server read the whole
    // body before answering (the fault), the client would have sent all 50 MiB first.
    expect(res.sentAll).toBe(false);
    expect(res.writtenWhenAnswered).toBeLessThan(total / 2);
    // And it keeps serving.
    expect((await http('POST', '/v1/workflows', { type: 'remote', input: { value: 1 } })).status).toBe(202);
  });

  it("applies serveOrchestrator's bodyLimitBytes to /v1/workflows, declared or streamed", async () => {
    const small = new Orchestrator(
      { name: 'small-bodies', workflows: [workflow] },
      { store: new MemoryWorkflowStore(), peers: { slow: createNodeClient(peerServer.url, stepContract) }, logger: createSilentLogger() },
    );
    const served = await serveOrchestrator(small, { bodyLimitBytes: 1024 });
    try {
      const declared = await http('POST', '/v1/workflows', { type: 'remote', input: { value: 1 }, pad: 'x'.repeat(2048) }, {}, served.url);
      expect(declared).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
      const streamed = await streamChunked(served.url, '/v1/workflows', 8 * 1024);
      expect(streamed).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
      // Under the limit, the same route starts the workflow.
      expect((await http('POST', '/v1/workflows', { type: 'remote', input: { value: 1 } }, {}, served.url)).status).toBe(202);
    } finally {
      await served.close();
    }
  });

  it("workflowRoutes' own bodyLimitBytes wins over the app's, through app.request() too", async () => {
    const app = createNodeApp(orchestrator, { bodyLimitBytes: 64 * 1024, configure: workflowRoutes(orchestrator, { bodyLimitBytes: 100 }) });
    const post = (body: string, type = 'application/json'): Promise<Response> =>
      Promise.resolve(app.request('/v1/workflows', { method: 'POST', headers: { 'content-type': type }, body }));
    const big = await post(JSON.stringify({ type: 'remote', input: { value: 1 }, idempotencyKey: 'k'.repeat(200) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect((await post('{"type":')).status).toBe(400);
    expect((await post('{}', 'application/json-patch+json')).status).toBe(415);
    expect((await post(JSON.stringify({ type: 'remote', input: { value: 1 } }))).status).toBe(202);
    expect(() => workflowRoutes(orchestrator, { bodyLimitBytes: -1 })).toThrow(/bodyLimitBytes/);
  });
});

describe('issue 9 #14: workflow routes parse x-correlation-id as /v1/process does', () => {
  it('replaces a malformed x-correlation-id with a new one, and the steps do not fail VALIDATION', async () => {
    for (const bad of ['has spaces <script>', 'x'.repeat(129)]) {
      const started = await http('POST', '/v1/workflows', { type: 'remote', input: { value: 5 } }, { 'x-correlation-id': bad });
      expect(started.status).toBe(202);
      const generated = started.headers['x-correlation-id'];
      expect(generated).toMatch(/^[0-9a-f-]{36}$/);
      const { id } = started.body as { id: string };
      const result = await http('GET', `/v1/workflows/${id}/result`);
      expect(result.body).toMatchObject({ id, status: 'completed', output: { total: 7 } });
      const state = await http('GET', `/v1/workflows/${id}`);
      expect(state.body).toMatchObject({ correlationId: generated, steps: { one: { status: 'completed' }, two: { status: 'completed' } } });
    }
  });

  it('keeps a valid x-correlation-id, echoes it and hands it to the workflow', async () => {
    const started = await http('POST', '/v1/workflows', { type: 'remote', input: { value: 1 } }, { 'x-correlation-id': 'corr-wf-14' });
    expect(started).toMatchObject({ status: 202, headers: { 'x-correlation-id': 'corr-wf-14' } });
    const { id } = started.body as { id: string };
    expect((await http('GET', `/v1/workflows/${id}/result`)).body).toMatchObject({ status: 'completed' });
    expect((await http('GET', `/v1/workflows/${id}`)).body).toMatchObject({ correlationId: 'corr-wf-14' });
  });
});
