// The orchestrator and its peers served with `auth`: the orchestrator signs its peer calls, starting a workflow needs
// `workflows:start` and cancelling it `workflows:admin`; a caller without a key gets a 401, one without the scope a
// 403. A 20 MB start body sent with `fetch` gets a clean 413, not a reset.
import type { AuthKey} from '@onex/core';
import { createNodeClient, createSilentLogger, Keyring, serveNode, signRequest, type ServedNode } from '@onex/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineOrchestrator, defineWorkflow, MemoryWorkflowStore, Orchestrator, orchestratorContract, peer, serveOrchestrator } from '../src/index.js';
import { ScriptedPeer, stepContract } from './scripted-peer.js';

const secret = (c: string): string => `${c}-secret-`.padEnd(40, c);
const keyring = new Keyring([
  { id: 'orchestrator', secret: secret('o') },
  { id: 'operator', secret: secret('p'), scopes: ['workflows:start'] },
  { id: 'admin', secret: secret('a'), scopes: ['workflows:start', 'workflows:admin'] },
]);
const peerKeys = new Keyring([keyring.get('orchestrator') as AuthKey]);

const workflow = defineWorkflow({ type: 'remote', version: '1.0.0', input: z.object({ value: z.number() }), output: z.object({ total: z.number() }) })
  .step('one', { target: peer('slow', stepContract), input: ({ input }) => input })
  .returns(({ steps }) => ({ total: steps.one.value }));

const slowPeer = new ScriptedPeer('slow', { delayMs: 0 });
let peerServer: ServedNode;
let server: ServedNode;

beforeAll(async () => {
  peerServer = await serveNode(slowPeer, { auth: { keyring: peerKeys } });
  const orchestrator = new Orchestrator(defineOrchestrator({ name: 'flows', workflows: [workflow] }), {
    store: new MemoryWorkflowStore(),
    peers: { slow: createNodeClient(peerServer.url, stepContract, { auth: { keyring: peerKeys } }) },
    logger: createSilentLogger(),
  });
  server = await serveOrchestrator(orchestrator, { auth: { keyring } });
});

afterAll(async () => {
  await server.close();
  await peerServer.close();
});

async function signed(keyId: string | undefined, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const key = keyId === undefined ? undefined : keyring.get(keyId);
  const headers: Record<string, string> = {
    ...(text === undefined ? {} : { 'content-type': 'application/json' }),
    ...(key === undefined ? {} : signRequest(key, { method, path, ...(text === undefined ? {} : { body: text }) })),
  };
  const res = await fetch(`${server.url}${path}`, { method, headers, ...(text === undefined ? {} : { body: text }) });
  return { status: res.status, body: (await res.json()) };
}

describe('orchestrator with auth', () => {
  it('runs a workflow over signed peer calls, started with workflows:start', async () => {
    const started = await signed('operator', 'POST', '/v1/workflows', { type: 'remote', input: { value: 2 } });
    expect(started.status).toBe(202);
    const { id } = started.body as { id: string };
    const result = await signed('operator', 'GET', `/v1/workflows/${id}/result`);
    expect(result.body).toMatchObject({ id, status: 'completed', output: { total: 3 } });
    // The step reached the peer, which refuses unsigned calls: the orchestrator signed it.
    expect(slowPeer.log.map((entry) => entry.value)).toContain(2);
    const unsigned = createNodeClient(peerServer.url, stepContract);
    const refused = await unsigned.call({ value: 1 });
    expect(!refused.ok && refused.error.code).toBe('UNAUTHORIZED');
    await unsigned.close();
  });

  it('runs POST /v1/process for a signing client', async () => {
    const client = createNodeClient(server.url, orchestratorContract, { auth: { keyring, keyId: 'operator' } });
    const r = await client.call({ type: 'remote', input: { value: 5 } });
    expect(r.ok && r.value).toMatchObject({ status: 'completed', output: { total: 6 } });
    await client.close();
  });

  it('refuses a start without a key (401) and a cancel without workflows:admin (403)', async () => {
    const unsigned = await signed(undefined, 'POST', '/v1/workflows', { type: 'remote', input: { value: 1 } });
    expect(unsigned).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } });
    const noScope = await signed('orchestrator', 'POST', '/v1/workflows', { type: 'remote', input: { value: 1 } });
    expect(noScope).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    const { body } = await signed('operator', 'POST', '/v1/workflows', { type: 'remote', input: { value: 1 } });
    const { id } = body as { id: string };
    expect(await signed('operator', 'POST', `/v1/workflows/${id}/cancel`, {})).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await signed('admin', 'POST', `/v1/workflows/${id}/signals/go`, { payload: 1 })).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await signed('admin', 'POST', '/v1/schedules', { id: 's1', type: 'remote', cron: '* * * * *', input: { value: 1 } })).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await signed('admin', 'DELETE', '/v1/schedules/s1')).toMatchObject({ status: 403 });
    const cancelled = await signed('admin', 'POST', `/v1/workflows/${id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect((await signed(undefined, 'GET', `/v1/workflows/${id}`)).status).toBe(401);
    expect((await signed(undefined, 'GET', '/health')).status).toBe(200);
  });

  it('answers a 20 MB start body sent with fetch with a clean 413 JSON error', async () => {
    const text = JSON.stringify({ type: 'remote', input: { value: 1, pad: 'x'.repeat(20 * 1024 * 1024) } });
    const headers = { 'content-type': 'application/json', ...signRequest(keyring.get('operator') as AuthKey, { method: 'POST', path: '/v1/workflows', body: text }) };
    const res = await fetch(`${server.url}/v1/workflows`, { method: 'POST', headers, body: text });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect((await signed(undefined, 'GET', '/health')).status).toBe(200);
  });
});
