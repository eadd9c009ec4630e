import { defineContract, NodeKind } from '@onex/core';
import { describe, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import type { RecordedError, WorkflowError } from '../store/workflow-record.js';
import { peer } from '../workflow/definition.js';
import { defineWorkflow } from '../workflow/workflow-builder.js';
import type { UnsuccessfulWorkflowStatus, WorkflowId, WorkflowOutcome } from './orchestrator-contract.js';
import type { Orchestrator } from './orchestrator.js';

declare const orchestrator: Orchestrator;

const Receipt = z.object({ chargeId: z.string(), totalCents: z.int() });
const payments = peer(
  'payments',
  defineContract({ name: 'payments', kind: NodeKind.Effect, version: '1.0.0', input: z.object({ amount: z.int() }), output: z.object({ chargeId: z.string() }) }),
);
const checkout = defineWorkflow({ type: 'checkout', version: '1.0.0', input: z.object({ amount: z.int() }), output: Receipt })
  .step('charge', { target: payments, input: ({ input }) => input })
  .returns(({ input, steps }) => ({ chargeId: steps.charge.chargeId, totalCents: input.amount }));

describe('typed results end to end', () => {
  test('start(definition) answers an id that remembers the output; result(id) answers it typed', async () => {
    const id = await orchestrator.start(checkout, { amount: 100 });
    expectTypeOf(id).toEqualTypeOf<WorkflowId<{ chargeId: string; totalCents: number }>>();
    expectTypeOf(id).toExtend<string>();
    const outcome = await orchestrator.result(id);
    expectTypeOf(outcome).toEqualTypeOf<WorkflowOutcome<{ chargeId: string; totalCents: number }>>();
    if (outcome.status === 'completed') {
      expectTypeOf(outcome.output).toEqualTypeOf<{ chargeId: string; totalCents: number }>();
    } else {
      expectTypeOf(outcome.status).toEqualTypeOf<UnsuccessfulWorkflowStatus>();
      expectTypeOf(outcome.error).toEqualTypeOf<WorkflowError>();
    }
    // @ts-expect-error without checking the status, the output may be absent
    const total: number = outcome.output.totalCents;
    void total;
    expectTypeOf(await orchestrator.cancel(id)).toEqualTypeOf<WorkflowOutcome<{ chargeId: string; totalCents: number }>>();
  });

  test('starting by type, or reading by a plain id, answers unknown output', async () => {
    const id = await orchestrator.start('checkout', { amount: 100 });
    expectTypeOf(await orchestrator.result(id)).toEqualTypeOf<WorkflowOutcome>();
    const outcome = await orchestrator.result('some-id');
    expectTypeOf(outcome).toEqualTypeOf<WorkflowOutcome<unknown>>();
    if (outcome.status === 'completed') expectTypeOf(outcome.output).toEqualTypeOf<unknown>();
  });

  test("the input is checked against the definition's schema", async () => {
    // @ts-expect-error `amount` must be a number
    await orchestrator.start(checkout, { amount: 'ten' });
  });
});

describe('failures keep their context', () => {
  test('the error of an unsuccessful outcome names the step and carries its attempts', () => {
    expectTypeOf<WorkflowError['step']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<WorkflowError['attempts']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<WorkflowError['attemptErrors']>().toEqualTypeOf<readonly RecordedError[] | undefined>();
    expectTypeOf<WorkflowError>().toExtend<RecordedError>();
    expectTypeOf<Exclude<WorkflowOutcome, { status: 'completed' }>['error']>().toEqualTypeOf<WorkflowError>();
    expectTypeOf<Extract<WorkflowOutcome, { status: 'completed' }>['error']>().toEqualTypeOf<undefined>();
  });
});
