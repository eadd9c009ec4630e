import { createInProcessClient, createNodeClient, createSilentLogger, defineContract, ErrorCode, NodeKind, serveNode } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEffectClient } from '../client/effect-client.js';
import { defineEffectNode } from '../node/define-effect-node.js';
import { NodeEffect } from '../node/node-effect.js';
import { defineOperation } from '../operation/effect-operation.js';
import { defineEffectContract } from './effect-contract.js';

// What a caller knows: the operations' names and schemas.
const chargeSignature = {
  name: 'charge',
  description: 'Charges an order',
  input: z.object({ orderId: z.string(), amountCents: z.int().positive() }),
  output: z.object({ chargeId: z.string(), at: z.coerce.date() }),
} as const;
const refundSignature = { name: 'refund', input: z.object({ orderId: z.string() }), output: z.object({ refunded: z.boolean() }) } as const;
const signatures = [chargeSignature, refundSignature] as const;

// What the node adds: the code.
const charge = defineOperation({ ...chargeSignature, run: async ({ orderId }) => ({ chargeId: `ch_${orderId}`, at: new Date('2026-01-02T03:04:05.000Z') }) });
const refund = defineOperation({ ...refundSignature, run: async () => ({ refunded: true }) });
const definition = defineEffectNode({ name: 'payments', version: '1.2.3', operations: [charge, refund] });

describe('defineEffectContract', () => {
  it("builds, per operation, a contract of the node's identity with that operation's envelope and typed result", () => {
    const contract = defineEffectContract({ name: 'payments', version: '1.2.3', operations: signatures });
    const c = contract.operation('charge');
    expect(c).toMatchObject({ name: 'payments', kind: NodeKind.Effect, version: '1.2.3' });
    expect(contract.operation('charge')).toBe(c);
    expect(contract.operations).toBe(signatures);
    expect(c.input.safeParse({ operation: 'charge', input: { orderId: 'o-1', amountCents: 5 } }).success).toBe(true);
    expect(c.input.safeParse({ operation: 'refund', input: { orderId: 'o-1' } }).success).toBe(false);
    // The result goes through the operation's output schema: its JSON form comes back as a Date.
    const answer = c.output.parse({ result: { chargeId: 'ch_1', at: '2026-01-02T03:04:05.000Z' } });
    expect(answer.result.at).toBeInstanceOf(Date);
    expect(c.output.safeParse({ result: { chargeId: 7 } }).success).toBe(false);
    expect(c.toDocument().output).toMatchObject({ properties: { result: { properties: { chargeId: { type: 'string' } } } } });
  });

  it('refuses a name that is not one of the operations, an empty list and duplicates', () => {
    const contract = defineEffectContract({ name: 'payments', version: '1.0.0', operations: signatures });
    expect(() => (contract.operation as (name: string) => unknown)('capture')).toThrow(expect.objectContaining({ code: ErrorCode.Contract }));
    expect(() => defineEffectContract({ name: 'payments', version: '1.0.0', operations: [] })).toThrow(/no operation/);
    expect(() => defineEffectContract({ name: 'payments', version: '1.0.0', operations: [chargeSignature, chargeSignature] })).toThrow(/twice/);
  });

  it("describes the node as the node's own contract does: callers need only the signatures", () => {
    const node = new NodeEffect(definition, { logger: createSilentLogger() });
    const callers = defineEffectContract({ name: 'payments', version: '1.2.3', operations: signatures });
    expect(callers.toDocument()).toEqual(node.contract.toDocument());
    expect(callers.operation('refund').toDocument()).toEqual(node.contract.operation('refund').toDocument());
    // A node definition is a contract definition too.
    expect(defineEffectContract(definition).toDocument()).toEqual(node.contract.toDocument());
  });
});

describe('typed callers of an effect node', () => {
  it('a node client on one operation’s contract answers its typed, parsed result over HTTP', async () => {
    const served = await serveNode(new NodeEffect(definition, { logger: createSilentLogger() }), { port: 0 });
    const contract = defineEffectContract({ name: 'payments', version: '1.2.3', operations: signatures });
    const client = createNodeClient(served.url, contract.operation('charge'));
    try {
      const answer = await client.callOrThrow({ operation: 'charge', input: { orderId: 'o-1', amountCents: 5 } });
      expect(answer.result.chargeId).toBe('ch_o-1');
      expect(answer.result.at).toBeInstanceOf(Date);
    } finally {
      await client.close();
      await served.close();
    }
  });

  it('createEffectClient takes its operations from an effect contract, or from the list given', async () => {
    const node = new NodeEffect(definition, { logger: createSilentLogger() });
    await node.initialize();
    try {
      const fromContract = createEffectClient({ ...createInProcessClient(node), contract: node.contract });
      expect(await fromContract.executeOrThrow('refund', { orderId: 'o-1' })).toEqual({ refunded: true });
      const fromList = createEffectClient(createInProcessClient(node), node.operations);
      const charged = await fromList.executeOrThrow('charge', { orderId: 'o-2', amountCents: 5 });
      expect(charged).toEqual({ chargeId: 'ch_o-2', at: new Date('2026-01-02T03:04:05.000Z') });
      expect(await fromList.execute('capture' as 'charge', { orderId: 'o-2', amountCents: 5 })).toMatchObject({ ok: false, error: { code: ErrorCode.Validation } });
      const plain = defineContract({ name: 'payments', kind: NodeKind.Effect, version: '1.2.3', input: z.unknown(), output: z.unknown() });
      expect(() => (createEffectClient as (client: unknown) => unknown)({ ...createInProcessClient(node), contract: plain })).toThrow(/pass the operations/);
    } finally {
      await node.shutdown();
    }
  });
});
