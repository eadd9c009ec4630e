import type { ContractInput, ContractOutput } from '@onex/core';
import { describe, expectTypeOf, it } from 'vitest';
import type { chargePeer, commitPeer, quotePeer, refundPeer, releasePeer, reservePeer } from './peers.js';

// The workflow's steps are typed by these contracts: `steps.charge.result.chargeId` must stay a string.
describe('demo peers', () => {
  it("type each effect step's result by its operation", () => {
    expectTypeOf<ContractOutput<typeof chargePeer.contract>>().toEqualTypeOf<{ result: { orderId: string; chargeId: string; amountCents: number } }>();
    expectTypeOf<ContractOutput<typeof refundPeer.contract>['result']['chargeId']>().toEqualTypeOf<string | null>();
    expectTypeOf<ContractOutput<typeof reservePeer.contract>['result']['reservationId']>().toBeString();
    expectTypeOf<ContractOutput<typeof releasePeer.contract>['result']['previous']>().toEqualTypeOf<'none' | 'reserved' | 'committed' | 'released'>();
    expectTypeOf<ContractOutput<typeof commitPeer.contract>['result']['shipmentId']>().toBeString();
  });

  it("type each effect step's input as its operation's envelope", () => {
    expectTypeOf<ContractInput<typeof refundPeer.contract>>().toEqualTypeOf<{ operation: 'refund'; input: { orderId: string } }>();
    expectTypeOf<ContractInput<typeof chargePeer.contract>['operation']>().toEqualTypeOf<'charge'>();
  });

  it("type the compute steps by their computation's output", () => {
    expectTypeOf<ContractOutput<typeof quotePeer.contract>['result']['totalCents']>().toBeNumber();
    expectTypeOf<ContractInput<typeof quotePeer.contract>['computation']>().toEqualTypeOf<'order.quote'>();
  });
});
