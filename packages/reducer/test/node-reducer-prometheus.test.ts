// What a reducer node adds to its Prometheus metrics: calls labelled by event type, events by result, transitions by
// state, conflict retries, restores and busy aggregates — read through prom-client's registry. (The exposition
// format itself is parsed in @onex/core's tests.)
import { createInProcessClient, createSilentLogger, ErrorCode } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { defineReducerNode, NodeReducer } from '../src/index.js';
import { orderMachine } from './order-machine.js';

type Labels = Readonly<Record<string, string>>;

async function valueOf(node: Pick<NodeReducer, 'metricsRegistry'>, name: string, labels: Labels): Promise<number | undefined> {
  const metric = (await node.metricsRegistry.getMetricsAsJSON()).find((m) => m.name === name);
  const wanted = JSON.stringify(Object.entries({ node: 'order', ...labels }).sort());
  return metric?.values.find((v) => JSON.stringify(Object.entries(v.labels).map(([k, l]) => [k, String(l)]).sort()) === wanted)?.value;
}

describe('NodeReducer Prometheus metrics', () => {
  it('counts events applied, replayed and rejected, transitions by state, restores, and labels calls by event type', async () => {
    const node = new NodeReducer(defineReducerNode({ machine: orderMachine, version: '1.0.0' }), { logger: createSilentLogger() });
    await node.initialize();
    await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } });
    await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } }); // replay
    await node.apply('o-1', { id: 'e2', type: 'FULFIL', payload: {} }); // no transition from priced
    const client = createInProcessClient(node);
    await client.call({ aggregateId: 'o-2', event: { id: 'e1', type: 'PRICE', payload: { total: 10 } } });
    await client.call({ aggregateId: 'o-2', event: { id: 'e2', type: 'CANCEL', payload: {} } });
    await client.call({ aggregateId: 'o-2', event: { id: 'e3', type: 'PAY', payload: { amount: 1 } } }); // cancelled is terminal
    await node.restore('o-1', { version: 0 });

    expect(await valueOf(node, 'onex_reducer_events_total', { result: 'applied' })).toBe(3);
    expect(await valueOf(node, 'onex_reducer_events_total', { result: 'duplicate' })).toBe(1);
    expect(await valueOf(node, 'onex_reducer_events_total', { result: 'rejected' })).toBe(2);
    expect(await valueOf(node, 'onex_reducer_transitions_total', { state: 'priced' })).toBe(2);
    expect(await valueOf(node, 'onex_reducer_transitions_total', { state: 'cancelled' })).toBe(1);
    expect(await valueOf(node, 'onex_reducer_transitions_total', { state: 'fulfilled' })).toBe(0);
    expect(await valueOf(node, 'onex_reducer_restores_total', {})).toBe(1);
    expect(await valueOf(node, 'onex_reducer_conflict_retries_total', {})).toBe(0);
    expect(await valueOf(node, 'onex_reducer_busy_aggregates', {})).toBe(0);
    // Calls through handle() (the in-process client, HTTP) are labelled by their event type.
    expect(await valueOf(node, 'onex_node_calls_total', { operation: 'PRICE', outcome: 'success' })).toBe(1);
    expect(await valueOf(node, 'onex_node_calls_total', { operation: 'CANCEL', outcome: 'success' })).toBe(1);
    expect(await valueOf(node, 'onex_node_call_errors_total', { operation: 'PAY', code: ErrorCode.Conflict })).toBe(1);
    await client.close();
    await node.shutdown();
  });
});
