// A reducer node's definition is a pure value: checked and frozen when defined, served by `new NodeReducer(definition,
// options)` as often as one likes, and the source of the contract callers build clients from.
import { createSilentLogger, ErrorCode, isOnexError, OnexError } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { defineReducerNode, MemoryReducerStore, NodeReducer, reducerContract, type AppliedEvent, type TransitionRecordOf } from '../src/index.js';
import { orderMachine, type OrderMachine } from './order-machine.js';

const logger = createSilentLogger();

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isOnexError(error) ? error.code : 'not-onex';
  }
  return undefined;
}

describe('defineReducerNode', () => {
  it('answers a frozen definition, not a node', () => {
    const orders = defineReducerNode({ machine: orderMachine, name: 'orders', version: '1.2.0', description: 'Orders.' });
    expect(orders).toEqual({ machine: orderMachine, name: 'orders', version: '1.2.0', description: 'Orders.' });
    expect(orders).not.toBeInstanceOf(NodeReducer);
    expect(Object.isFrozen(orders)).toBe(true);
    expect(defineReducerNode({ machine: orderMachine, version: '1.0.0' })).toEqual({ machine: orderMachine, version: '1.0.0' });
  });

  it('refuses an invalid definition with CONTRACT when defined, and so does the constructor', () => {
    expect(codeOf(() => defineReducerNode({ machine: orderMachine, version: 'one' }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineReducerNode({ machine: orderMachine, name: 'Orders', version: '1.0.0' }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineReducerNode({ machine: { name: 'order' } as unknown as OrderMachine, version: '1.0.0' }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => new NodeReducer({ machine: orderMachine, version: 'x' }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => new NodeReducer({ machine: orderMachine, version: '1.0.0' }, { maxConflictRetries: -1 }))).toBe(ErrorCode.Validation);
  });

  it('is served by many nodes, each with its own store and figures', async () => {
    const orders = defineReducerNode({ machine: orderMachine, version: '1.0.0' });
    const [a, b] = [new NodeReducer(orders, { logger, store: new MemoryReducerStore() }), new NodeReducer(orders, { logger })];
    await Promise.all([a.initialize(), b.initialize()]);
    await a.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } });
    expect(await a.get('o-1')).toMatchObject({ state: 'priced' });
    expect(await b.get('o-1')).toBeUndefined();
    expect([a.stats().applied, b.stats().applied]).toEqual([1, 0]);
    await Promise.all([a.shutdown(), b.shutdown()]);
  });

  it('describes the node to callers: reducerContract(definition) is the contract the node serves', () => {
    const orders = defineReducerNode({ machine: orderMachine, name: 'orders', version: '1.2.0' });
    const node = new NodeReducer(orders, { logger });
    const contract = reducerContract(orders);
    expect(contract).toMatchObject({ name: 'orders', kind: 'reducer', version: '1.2.0' });
    expect(contract.toDocument()).toEqual(node.contract.toDocument());
    expect(contract.toDocument()).toEqual(reducerContract(orderMachine, { name: 'orders', version: '1.2.0' }).toDocument());
  });
});

describe('NodeReducer options', () => {
  it('runs the onTransition option after each recorded transition, not for replays; its failure does not fail the call', async () => {
    const seen: string[] = [];
    const onTransition = (applied: AppliedEvent<OrderMachine>, record: TransitionRecordOf<OrderMachine>): void => {
      if (applied.state === 'cancelled') throw new Error('sink down');
      seen.push(`${applied.aggregateId}:${record.version}:${record.from}->${record.to}`);
    };
    const node = new NodeReducer(defineReducerNode({ machine: orderMachine, version: '1.0.0' }), { logger, onTransition });
    await node.initialize();
    await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } });
    await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } });
    const cancelled = await node.apply('o-2', { id: 'e1', type: 'CANCEL', payload: {} });
    expect(cancelled.ok && cancelled.value.state).toBe('cancelled');
    expect(seen).toEqual(['o-1:1:created->priced']);
    await node.shutdown();
  });

  it('runs the options interceptors around calls through handle(), typed by the machine', async () => {
    const seen: string[] = [];
    const node = new NodeReducer(defineReducerNode({ machine: orderMachine, version: '1.0.0' }), {
      logger,
      interceptors: [
        async (input, _ctx, next) => {
          seen.push(`${input.aggregateId}:${input.event.type}`);
          if (input.event.type === 'CANCEL') throw new OnexError(ErrorCode.Forbidden, 'cancellations are closed');
          const applied = await next(input);
          seen.push(`-> ${applied.state}`);
          return applied;
        },
      ],
    });
    await node.initialize();
    expect(await node.handle({ aggregateId: 'o-1', event: { id: 'e1', type: 'PRICE', payload: { total: 30 } } })).toMatchObject({ ok: true, value: { state: 'priced' } });
    const refused = await node.handle({ aggregateId: 'o-1', event: { id: 'e2', type: 'CANCEL', payload: {} } });
    expect(!refused.ok && refused.error.code).toBe(ErrorCode.Forbidden);
    expect(await node.get('o-1')).toMatchObject({ state: 'priced', version: 1 });
    expect(seen).toEqual(['o-1:PRICE', '-> priced', 'o-1:CANCEL']);
    await node.shutdown();
  });

  it('leaves the store open on shutdown when closeStore is false', async () => {
    const store = new MemoryReducerStore();
    const node = new NodeReducer(defineReducerNode({ machine: orderMachine, version: '1.0.0' }), { logger, store, closeStore: false });
    await node.initialize();
    await node.apply('o-1', { id: 'e1', type: 'PRICE', payload: { total: 30 } });
    await node.shutdown();
    expect(await store.load('o-1')).toMatchObject({ state: 'priced' });
  });
});
