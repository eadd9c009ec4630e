import { defineContract, NodeKind } from '@onex/core';
import { defineWorkflow, peer, type WorkflowId, type WorkflowOutcome } from '@onex/orchestrator';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { startWorkflowStack } from './workflow-stack.js';

const doubler = defineContract({ name: 'doubler', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ n: z.number() }), output: z.object({ n: z.number() }) });
const twice = defineWorkflow({ type: 'twice', version: '1.0.0', input: z.object({ n: z.number() }), output: z.object({ total: z.number() }) })
  .step('double', { target: peer('doubler', doubler), input: ({ input }) => ({ n: input.n }) })
  .returns(({ steps }) => ({ total: steps.double.n }));

describe('startWorkflowStack types', () => {
  it('types start, run and the outcome by the definition', async () => {
    const stack = await startWorkflowStack({ workflows: [twice] });
    expectTypeOf(stack.start(twice, { n: 1 })).resolves.toEqualTypeOf<WorkflowId<{ total: number }>>();
    const outcome = await stack.run(twice, { n: 1 });
    expectTypeOf(outcome).toEqualTypeOf<WorkflowOutcome<{ total: number }>>();
    if (outcome.status === 'completed') expectTypeOf(outcome.output).toEqualTypeOf<{ total: number }>();
    // @ts-expect-error the workflow's input is { n: number }
    void stack.run(twice, { n: '1' });
  });
});
