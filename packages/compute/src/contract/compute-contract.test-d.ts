import type { ContractInput, ContractOutput, NodeContract } from '@onex/core';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineComputation } from '../computation/computation.js';
import { computeContract, type ComputationContract } from './compute-contract.js';

const quote = defineComputation({
  name: 'order.quote',
  input: z.object({ sku: z.string(), quantity: z.int().positive().default(1) }),
  output: z.object({ totalCents: z.int(), currency: z.literal('EUR') }),
  compute: ({ quantity }) => ({ totalCents: quantity * 100, currency: 'EUR' as const }),
});
const verdict = defineComputation({
  name: 'order.fraud-check',
  input: z.object({ customerId: z.string() }),
  output: z.object({ score: z.number(), approved: z.literal(true) }),
  compute: () => ({ score: 0, approved: true as const }),
});
const pricing = computeContract({ name: 'pricing', version: '1.0.0', computations: [quote, verdict] });

describe('computeContract types', () => {
  it("types each computation's output exactly, not as the union of all of them", () => {
    const q = pricing.computation('order.quote');
    expectTypeOf<ContractOutput<typeof q>>().toEqualTypeOf<{ result: { totalCents: number; currency: 'EUR' } }>();
    expectTypeOf<ContractOutput<ReturnType<typeof pricing.computation<'order.fraud-check'>>>>().toEqualTypeOf<{ result: { score: number; approved: true } }>();
    expectTypeOf(q).toEqualTypeOf<ComputationContract<typeof quote>>();
    expectTypeOf(q).toExtend<NodeContract>();
  });

  it('types the input as the envelope of that computation, before and after parsing', () => {
    const q = pricing.computation('order.quote');
    expectTypeOf(q.input).toEqualTypeOf<ComputationContract<typeof quote>['input']>();
    expectTypeOf<z.input<typeof q.input>>().toEqualTypeOf<{ computation: 'order.quote'; input: { sku: string; quantity?: number | undefined } }>();
    expectTypeOf<ContractInput<typeof q>>().toEqualTypeOf<{ computation: 'order.quote'; input: { sku: string; quantity: number } }>();
  });

  it('knows the names of the computations', () => {
    expectTypeOf(pricing.computations).toEqualTypeOf<readonly ('order.quote' | 'order.fraud-check')[]>();
    // @ts-expect-error: not a computation of this node
    pricing.computation('order.refund');
  });
});
