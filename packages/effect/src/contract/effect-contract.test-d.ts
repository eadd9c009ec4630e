import type { ContractInput, ContractOutput, NodeClient, NodeContract } from '@onex/core';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createEffectClient } from '../client/effect-client.js';
import { defineOperation } from '../operation/effect-operation.js';
import type { OperationSignature } from '../operation/operation-signature.js';
import { defineEffectContract, type EffectContract, type EffectOperationContract } from './effect-contract.js';

// Signatures only: what a caller knows of the node, without its code.
const charge = {
  name: 'charge',
  input: z.object({ orderId: z.string(), amountCents: z.int().positive(), currency: z.literal('EUR').default('EUR') }),
  output: z.object({ chargeId: z.string(), amountCents: z.int() }),
} as const satisfies OperationSignature;
const refund = {
  name: 'refund',
  input: z.object({ orderId: z.string() }),
  output: z.object({ refunded: z.boolean(), chargeId: z.string().nullable() }),
} as const satisfies OperationSignature;
const payments = defineEffectContract({ name: 'payments', version: '1.0.0', operations: [charge, refund] });

describe('defineEffectContract types', () => {
  it("types each operation's result exactly, not as unknown nor as the union of all of them", () => {
    const c = payments.operation('charge');
    expectTypeOf<ContractOutput<typeof c>>().toEqualTypeOf<{ result: { chargeId: string; amountCents: number } }>();
    expectTypeOf<ContractOutput<ReturnType<typeof payments.operation<'refund'>>>>().toEqualTypeOf<{ result: { refunded: boolean; chargeId: string | null } }>();
    expectTypeOf(c).toEqualTypeOf<EffectOperationContract<typeof charge>>();
    expectTypeOf(c).toExtend<NodeContract>();
  });

  it("types the input as that operation's envelope, before and after parsing", () => {
    const c = payments.operation('charge');
    expectTypeOf(c.input).toEqualTypeOf<EffectOperationContract<typeof charge>['input']>();
    expectTypeOf<z.input<typeof c.input>>().toEqualTypeOf<{
      operation: 'charge';
      input: { orderId: string; amountCents: number; currency?: 'EUR' | undefined };
    }>();
    expectTypeOf<ContractInput<typeof c>>().toEqualTypeOf<{ operation: 'charge'; input: { orderId: string; amountCents: number; currency: 'EUR' } }>();
  });

  it('the whole contract takes any operation and keeps its operations', () => {
    expectTypeOf<ContractInput<typeof payments>>().toEqualTypeOf<
      { operation: 'charge'; input: { orderId: string; amountCents: number; currency: 'EUR' } } | { operation: 'refund'; input: { orderId: string } }
    >();
    expectTypeOf(payments.operations).toEqualTypeOf<readonly [typeof charge, typeof refund]>();
    expectTypeOf(payments).toExtend<EffectContract<readonly [typeof charge, typeof refund]>>();
  });

  it('refuses a name that is not an operation of the node', () => {
    // @ts-expect-error: not an operation of this node
    payments.operation('capture');
  });

  it('accepts operations made by defineOperation as signatures', () => {
    const send = defineOperation({ name: 'send', input: z.object({ to: z.string() }), output: z.object({ id: z.string() }), run: async () => ({ id: '1' }) });
    const mailer = defineEffectContract({ name: 'mailer', version: '1.0.0', operations: [send] });
    expectTypeOf(mailer.operations).toEqualTypeOf<readonly [typeof send]>();
    expectTypeOf<ContractOutput<ReturnType<typeof mailer.operation<'send'>>>>().toEqualTypeOf<{ result: { id: string } }>();
  });
});

describe('createEffectClient types', () => {
  it('answers typed results from a client made with the effect contract', async () => {
    const client = {} as NodeClient<typeof payments>;
    const typed = createEffectClient(client);
    expectTypeOf(typed.executeOrThrow('charge', { orderId: 'o-1', amountCents: 5 })).resolves.toEqualTypeOf<{ chargeId: string; amountCents: number }>();
    const r = await typed.execute('refund', { orderId: 'o-1' });
    if (r.ok) expectTypeOf(r.value).toEqualTypeOf<{ refunded: boolean; chargeId: string | null }>();
    // @ts-expect-error: the input of `charge` needs an amount
    void typed.execute('charge', { orderId: 'o-1' });
    // @ts-expect-error: not an operation of this node
    void typed.execute('capture', {});
  });

  it('answers typed results from any client given the operations', () => {
    const client = {} as NodeClient<NodeContract>;
    const typed = createEffectClient(client, [charge, refund]);
    expectTypeOf(typed.executeOrThrow('charge', { orderId: 'o-1', amountCents: 5 })).resolves.toEqualTypeOf<{ chargeId: string; amountCents: number }>();
    // @ts-expect-error: a client without an effect contract needs the operations
    createEffectClient(client);
  });
});
