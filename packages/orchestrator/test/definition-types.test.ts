// Type-level checks of workflow definitions, compiled by `pnpm typecheck` (a wrong type here fails the build),
// plus the runtime view of what the builder collected.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract, NodeKind } from '@onex/core';
import { defineWorkflow, peer } from '../src/index.js';
import { stepContract } from './scripted-peer.js';

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number() });
const a = peer('a', stepContract);

describe('workflow definition typing', () => {
  it('types step inputs from the workflow input and the outputs of declared dependencies', () => {
    const wf = defineWorkflow({ type: 'typed', version: '1.0.0', input: Input, output: Output })
      .step('first', { target: a, input: ({ input }) => ({ value: input.value }) })
      .step('second', {
        target: a,
        dependsOn: ['first'],
        input: ({ steps }) => {
          const by: string = steps.first.by;
          return { value: steps.first.value, tag: by };
        },
      })
      .step('third', {
        target: a,
        dependsOn: ['first'],
        // @ts-expect-error 'second' is not a declared dependency of this step
        input: ({ steps }) => ({ value: steps.second.value }),
      })
      .step('fifth', {
        target: a,
        // @ts-expect-error the peer's input needs a number `value`
        input: () => ({ value: 'x' }),
      })
      .returns(({ steps }) => ({ total: steps.second?.value ?? 0 }));
    expect(wf.steps.map((s) => [s.name, s.dependsOn])).toEqual([
      ['first', []],
      ['second', ['first']],
      ['third', ['first']],
      ['fifth', []],
    ]);
    // Only steps defined earlier can be named as dependencies (which also rules out cycles in typed code).
    const open = defineWorkflow({ type: 'typed', version: '1.0.0', input: Input, output: Output }).step('fourth', {
      target: a,
      // @ts-expect-error 'later' is not a step defined before this one
      dependsOn: ['later'],
      input: ({ input }) => input,
    });
    expect(() => open.returns(() => ({ total: 0 }))).toThrow(/depends on unknown step 'later'/);
  });

  it('keeps literals in mappers literal (no `as const` needed for discriminated peer inputs)', () => {
    const ops = peer(
      'ops',
      defineContract({
        name: 'ops',
        kind: NodeKind.Effect,
        version: '1.0.0',
        input: z.discriminatedUnion('operation', [
          z.object({ operation: z.literal('reserve'), qty: z.number() }),
          z.object({ operation: z.literal('release') }),
        ]),
        output: z.object({ ok: z.boolean() }),
      }),
    );
    const wf = defineWorkflow({ type: 'literals', version: '1.0.0', input: Input, output: Output })
      .step('reserve', {
        target: ops,
        input: ({ input }) => ({ operation: 'reserve', qty: input.value }),
        compensate: { target: ops, input: () => ({ operation: 'release' }) },
      })
      .step('checked', {
        target: ops,
        input: () => ({ operation: 'release' }),
        // @ts-expect-error the compensation's input is checked against its own target's contract
        compensate: { target: ops, input: () => ({ operation: 'refund' }) },
      })
      .returns(() => ({ total: 0 }));
    expect(wf.steps[0]?.input({ workflowId: 'w', input: { value: 2 }, steps: {} })).toEqual({ operation: 'reserve', qty: 2 });
  });

  it('types compensations with the step output', () => {
    const wf = defineWorkflow({ type: 'comp', version: '1.0.0', input: Input, output: Output })
      .step('charge', {
        target: a,
        input: ({ input }) => input,
        compensate: {
          target: a,
          // The output is undefined when the step did not answer but may have taken effect.
          input: ({ output }) => ({ value: output === undefined ? -1 : output.value }),
        },
      })
      .returns(() => ({ total: 0 }));
    expect(wf.steps[0]?.compensate?.peer).toBe('a');
  });
});
