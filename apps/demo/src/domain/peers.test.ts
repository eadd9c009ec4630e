import { createHttpEffect, NodeEffect } from '@onex/effect';
import { describe, expect, it } from 'vitest';
import { inventoryDefinition } from '../nodes/inventory-operations.js';
import { paymentsDefinition } from '../nodes/payments-operations.js';
import { chargePeer, inventoryContract, paymentsContract, PeerName, reservePeer } from './peers.js';

describe('demo peer contracts', () => {
  it("describe the effect nodes exactly as the nodes' own contracts do (one source for names and schemas)", () => {
    const provider = createHttpEffect({ baseUrl: 'http://127.0.0.1:1' });
    try {
      const payments = new NodeEffect(paymentsDefinition(provider));
      expect(paymentsContract.toDocument()).toEqual(payments.contract.toDocument());
      expect(chargePeer.contract.toDocument()).toEqual(payments.contract.operation('charge').toDocument());
      const inventory = new NodeEffect(inventoryDefinition({ damageRate: 0 }, () => ({}) as never), { transactions: { run: () => Promise.reject(new Error('unused')) } });
      expect(inventoryContract.toDocument()).toEqual(inventory.contract.toDocument());
      expect(reservePeer).toMatchObject({ peer: PeerName.Inventory });
    } finally {
      provider.close();
    }
  });

  it("check a step's result against its operation's schema", () => {
    const answer = { result: { orderId: 'o-1', chargeId: 'ch_1', amountCents: 500 } };
    expect(chargePeer.contract.output.parse(answer)).toEqual(answer);
    expect(chargePeer.contract.output.safeParse({ result: { orderId: 'o-1' } }).success).toBe(false);
    expect(chargePeer.contract.input.safeParse({ operation: 'refund', input: { orderId: 'o-1' } }).success).toBe(false);
  });

  it('give the nodes the defaults their operations share', () => {
    const provider = createHttpEffect({ baseUrl: 'http://127.0.0.1:1' });
    try {
      expect(paymentsDefinition(provider).defaults).toEqual({ timeoutMs: 2_500, retry: { maxAttempts: 1 }, breaker: false });
      const inventory = inventoryDefinition({ damageRate: 0 }, () => ({}) as never);
      expect(inventory.defaults).toMatchObject({ timeoutMs: 2_000, retry: { maxAttempts: 2 }, breaker: false });
      expect(inventory.operations.map((op) => [op.name, op.timeoutMs, op.transactional])).toEqual([
        ['reserve', undefined, true],
        ['release', undefined, true],
        ['commit', undefined, true],
        ['stock', undefined, true],
      ]);
    } finally {
      provider.close();
    }
  });
});
