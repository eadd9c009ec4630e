// End to end: a reducer node served over HTTP with serveNode, called with createNodeClient.
import { createNodeClient, createSilentLogger, ErrorCode, serveNode, type ServedNode } from '@onex/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineReducerNode, NodeReducer, reducerContract, reduceErrorReason } from '../src/index.js';
import { orderMachine } from './order-machine.js';

const orders = defineReducerNode({ machine: orderMachine, version: '1.0.0' });
let node: NodeReducer<typeof orders>;
let served: ServedNode;
// The client needs only the contract, not the node: from the definition, or from the machine alone.
const contract = reducerContract(orderMachine, { version: '1.0.0' });
let client: ReturnType<typeof createNodeClient<typeof contract>>;

beforeAll(async () => {
  node = new NodeReducer(orders, { logger: createSilentLogger() });
  served = await serveNode(node, { host: '127.0.0.1', port: 0 });
  client = createNodeClient(served.url, contract, { timeoutMs: 5_000 });
});

afterAll(async () => {
  await client.close();
  await served.close();
});

describe('a reducer served over HTTP', () => {
  it('applies events and returns typed answers with intents', async () => {
    await client.callOrThrow({ aggregateId: 'o-1', event: { id: 'e1', type: 'PRICE', payload: { total: 30 } } });
    const reserved = await client.callOrThrow({ aggregateId: 'o-1', event: { id: 'e2', type: 'RESERVE', payload: { reservationId: 'r-1' } } });
    expect(reserved).toMatchObject({ state: 'reserved', previousState: 'priced', version: 2, duplicate: false });
    expect(reserved.intents).toEqual([{ type: 'charge', payload: { amount: 30 }, key: 'order:o-1:e2:0' }]);

    const replay = await client.callOrThrow({ aggregateId: 'o-1', event: { id: 'e2', type: 'RESERVE', payload: { reservationId: 'r-1' } } });
    expect(replay).toEqual({ ...reserved, duplicate: true });
  });

  it('answers an illegal event with 409 CONFLICT and its reason, leaving the state alone', async () => {
    const r = await client.call({ aggregateId: 'o-1', event: { id: 'e3', type: 'FULFIL', payload: {} } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(ErrorCode.Conflict);
    expect(reduceErrorReason(r.error)).toBe('ILLEGAL_TRANSITION');
    expect(r.error.context).toMatchObject({ state: 'reserved', trigger: 'FULFIL', aggregateId: 'o-1' });
    expect(await node.get('o-1')).toMatchObject({ state: 'reserved', version: 2 });
  });

  it('answers a malformed event with 422 without touching the state', async () => {
    const response = await fetch(`${served.url}/v1/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ aggregateId: 'o-1', event: { id: 'e4', type: 'PAY', payload: { amount: 'lots' } } }),
    });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { error: { code: string; details: { path: string }[] } };
    expect(body.error.code).toBe('VALIDATION');
    expect(body.error.details[0]?.path).toBe('event.payload.amount');

    const unknownType = await client.call({ aggregateId: 'o-1', event: { id: 'e5', type: 'SHIP', payload: {} } as never });
    expect(!unknownType.ok && unknownType.error.httpStatus).toBe(422);
    expect(await node.get('o-1')).toMatchObject({ state: 'reserved', version: 2 });
    expect(await node.history('o-1')).toHaveLength(2);
  });

  it('serves health, metrics and a contract document with the machine in it', async () => {
    const health = await client.health();
    expect(health).toMatchObject({ status: 'healthy', node: { name: 'order', kind: 'reducer' }, components: { store: { status: 'healthy' } } });
    const metrics = await client.metrics();
    expect(metrics.extra).toMatchObject({ applied: 2, duplicates: 1, rejected: 1 });
    const document = await client.fetchContract();
    expect(JSON.stringify(document.input)).toContain('"RESERVE"');
    expect(JSON.stringify(document.output)).toContain('"payment-failed"');
  });
});
