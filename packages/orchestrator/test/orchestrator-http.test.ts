import { request } from 'node:http';
import { createNodeClient, createSilentLogger, serveNode, type ServedNode } from '@onex/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, orchestratorContract, peer, serveOrchestrator } from '../src/index.js';
import { ScriptedPeer, stepContract } from './scripted-peer.js';

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number() });

let peerServer: ServedNode;
let server: ServedNode;
let orchestrator: Orchestrator;
const slowPeer = new ScriptedPeer('slow', { delayMs: 0 });

function http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(`${server.url}${path}`, { method, headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as unknown }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

beforeAll(async () => {
  peerServer = await serveNode(slowPeer);
  const wf = defineWorkflow({ type: 'remote', version: '1.0.0', input: Input, output: Output })
    .step('one', { target: peer('slow', stepContract), input: ({ input }) => input })
    .step('two', { target: peer('slow', stepContract), dependsOn: ['one'], input: ({ steps }) => ({ value: steps.one.value }) })
    .returns(({ steps }) => ({ total: steps.two?.value ?? 0 }));
  orchestrator = new Orchestrator({
    store: new MemoryWorkflowStore(),
    peers: { slow: createNodeClient(peerServer.url, stepContract) },
    workflows: [wf],
    logger: createSilentLogger(),
    name: 'order-flows',
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
