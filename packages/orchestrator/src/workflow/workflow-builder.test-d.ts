import { defineContract, NodeKind } from '@onex/core';
import { describe, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { peer, type StepCallContext, type WorkflowDefinition } from './definition.js';
import type { SignalReceived, SignalTimedOut, SleepOutput, WorkflowSteps } from './step-spec.js';
import { defineWorkflow } from './workflow-builder.js';

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number() });
const stepContract = defineContract({
  name: 'scripted',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.object({ value: z.number() }),
  output: z.object({ value: z.number(), by: z.string() }),
});
const a = peer('a', stepContract);
type Answer = { value: number; by: string };

describe('.returns sees exactly the steps that are there', () => {
  test('steps without when/continueOnError are required, conditional ones and their dependents optional', () => {
    defineWorkflow({ type: 'exact', version: '1.0.0', input: Input, output: Output })
      .step('first', { target: a, input: ({ input }) => ({ value: input.value }) })
      .step('maybe', { target: a, dependsOn: ['first'], when: ({ input, steps }) => input.value > steps.first.value, input: ({ steps }) => steps.first })
      .step('soft', { target: a, continueOnError: true, input: () => ({ value: 1 }) })
      .step('afterMaybe', { target: a, dependsOn: ['maybe'], input: ({ steps }) => ({ value: steps.maybe.value }) })
      .step('afterSoft', { target: a, dependsOn: ['first', 'soft'], input: ({ steps }) => ({ value: steps.soft.value }) })
      .step('strict', { target: a, dependsOn: ['first'], continueOnError: false, input: ({ steps }) => ({ value: steps.first.value }) })
      .returns(({ steps }) => {
        expectTypeOf(steps).toEqualTypeOf<{
          readonly first: Answer;
          readonly strict: Answer;
          readonly maybe?: Answer;
          readonly soft?: Answer;
          readonly afterMaybe?: Answer;
          readonly afterSoft?: Answer;
        }>();
        expectTypeOf(steps.first.value).toEqualTypeOf<number>();
        // @ts-expect-error `maybe` has a `when`: it may be absent, so it needs a check
        const unchecked: number = steps.maybe.value;
        return { total: unchecked + (steps.afterSoft?.value ?? 0) };
      });
  });

  test('a continueOnError that is not literally false makes the step optional', () => {
    const lenient: boolean = Math.random() > 0.5;
    defineWorkflow({ type: 'lenient', version: '1.0.0', input: Input, output: Output })
      .step('maybe', { target: a, continueOnError: lenient, input: ({ input }) => input })
      .returns(({ steps }) => {
        expectTypeOf(steps).toEqualTypeOf<{ readonly maybe?: Answer }>();
        return { total: steps.maybe?.value ?? 0 };
      });
  });

  test('a conditional nested workflow is optional, a plain one required', () => {
    const child = defineWorkflow({ type: 'child', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: a, input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.only.value }));
    defineWorkflow({ type: 'parent', version: '1.0.0', input: Input, output: Output })
      .subworkflow('always', { workflow: child, input: ({ input }) => input })
      .subworkflow('sometimes', { workflow: child, when: ({ input }) => input.value > 0, input: ({ input }) => input })
      .returns(({ steps }) => {
        expectTypeOf(steps).toEqualTypeOf<{ readonly always: { total: number }; readonly sometimes?: { total: number } }>();
        return { total: steps.always.total };
      });
  });

  test('mappers see their dependencies as present (a skipped dependency skips the step)', () => {
    defineWorkflow({ type: 'mapped', version: '1.0.0', input: Input, output: Output })
      .step('maybe', { target: a, when: () => true, input: ({ input }) => input })
      .step('after', {
        target: a,
        dependsOn: ['maybe'],
        input: ({ steps }) => {
          expectTypeOf(steps).toEqualTypeOf<Pick<{ readonly maybe: Answer }, 'maybe'>>();
          return { value: steps.maybe.value };
        },
      })
      .returns(() => ({ total: 0 }));
  });

  test('WorkflowSteps names the rule', () => {
    expectTypeOf<WorkflowSteps<{ a: 1; b: 2 }, 'b'>>().toEqualTypeOf<{ readonly a: 1; readonly b?: 2 }>();
    expectTypeOf<WorkflowSteps<{ a: 1 }, never>>().toEqualTypeOf<{ readonly a: 1 }>();
  });
});

describe('defaults and interceptors', () => {
  test('defaults take the step-level option shapes', () => {
    defineWorkflow({
      type: 'defaults',
      version: '1.0.0',
      input: Input,
      output: Output,
      defaults: {
        timeoutMs: 2_000,
        retry: { maxAttempts: 4 },
        compensation: { retry: { maxAttempts: 30 }, timeoutMs: 1_000 },
        interceptors: [async (input, ctx, next) => (ctx.attempt > 1 ? next(input) : next(input))],
      },
    });
    defineWorkflow({
      type: 'defaults',
      version: '1.0.0',
      input: Input,
      output: Output,
      // @ts-expect-error a retry policy is an options object, not a number of attempts
      defaults: { retry: 3 },
    });
  });

  test("a step's interceptors are typed by its peer's contract", () => {
    defineWorkflow({ type: 'typed-interceptors', version: '1.0.0', input: Input, output: Output })
      .step('one', {
        target: a,
        interceptors: [
          async (input, ctx, next) => {
            expectTypeOf(input).toEqualTypeOf<{ value: number }>();
            expectTypeOf(ctx).toEqualTypeOf<StepCallContext>();
            const answer = await next({ value: input.value + 1 });
            expectTypeOf(answer).toEqualTypeOf<Answer>();
            return answer;
          },
        ],
        input: ({ input }) => input,
      })
      .step('two', {
        target: a,
        // @ts-expect-error an interceptor must answer the peer's output
        interceptors: [async () => ({ value: 'not a number' })],
        input: ({ input }) => input,
      })
      .returns(({ steps }) => ({ total: steps.one.value }));
  });

  test('returns() closes a typed definition', () => {
    const wf = defineWorkflow({ type: 'closed', version: '1.0.0', input: Input, output: Output })
      .step('one', { target: a, input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.one.value }));
    expectTypeOf(wf).toEqualTypeOf<WorkflowDefinition<typeof Input, typeof Output>>();
  });
});

describe('sleep steps', () => {
  test("a sleep's output is typed in later mappers and in .returns; a conditional one is optional", () => {
    const Order = z.object({ deliverBy: z.string(), value: z.number() });
    defineWorkflow({ type: 'sleepy', version: '1.0.0', input: Order, output: Output })
      .step('first', { target: a, input: ({ input }) => ({ value: input.value }) })
      .sleep('cool', { dependsOn: ['first'], ms: ({ steps }) => steps.first.value * 1_000 })
      .sleep('delivery', { until: ({ input }) => new Date(input.deliverBy) })
      .sleep('maybe', { ms: 5, when: ({ input }) => input.value > 1 })
      .step('after', { target: a, dependsOn: ['cool'], input: ({ steps }) => ({ value: steps.cool.wokeAt - steps.cool.dueAt }) })
      .returns(({ steps }) => {
        expectTypeOf(steps.cool).toEqualTypeOf<SleepOutput>();
        expectTypeOf(steps.delivery.wokeAt).toEqualTypeOf<number>();
        expectTypeOf(steps.maybe).toEqualTypeOf<SleepOutput | undefined>();
        return { total: steps.after.value };
      });
  });

  test('a sleep takes ms or until, not both nor neither; its mapper sees only its dependencies', () => {
    const builder = defineWorkflow({ type: 'sleepy', version: '1.0.0', input: Input, output: Output }).step('first', { target: a, input: ({ input }) => input });
    // @ts-expect-error both ms and until
    builder.sleep('both', { ms: 1, until: 2 });
    // @ts-expect-error neither
    builder.sleep('neither', {});
    builder.sleep('blind', {
      ms: ({ steps }) => {
        expectTypeOf(steps).not.toHaveProperty('first');
        return 1;
      },
    });
    builder.sleep('sighted', {
      dependsOn: ['first'],
      ms: ({ steps }) => {
        expectTypeOf(steps.first).toEqualTypeOf<{ value: number; by: string }>();
        return steps.first.value;
      },
    });
    // @ts-expect-error until answers a date or epoch ms
    builder.sleep('text', { until: () => '2030-01-01' });
  });
});

describe('waits for a signal', () => {
  test("the payload is typed by the wait's schema; 'continue' adds the timed-out branch; a conditional wait is optional", () => {
    const Shipped = z.object({ trackingId: z.string(), boxes: z.number() });
    defineWorkflow({ type: 'waity', version: '1.0.0', input: Input, output: Output })
      .waitFor('shipped', { schema: Shipped, timeoutMs: 1_000 })
      .waitFor('maybe', { signal: 'approval', schema: z.object({ by: z.string() }), onTimeout: 'continue', timeoutMs: ({ input }) => input.value })
      .waitFor('sometimes', { schema: z.boolean(), when: ({ input }) => input.value > 1 })
      .step('after', { target: a, dependsOn: ['shipped', 'maybe'], input: ({ steps }) => ({ value: steps.shipped.payload.boxes + (steps.maybe.received ? 1 : 0) }) })
      .returns(({ steps }) => {
        expectTypeOf(steps.shipped).toEqualTypeOf<SignalReceived<{ trackingId: string; boxes: number }>>();
        expectTypeOf(steps.maybe).toEqualTypeOf<SignalReceived<{ by: string }> | SignalTimedOut>();
        expectTypeOf(steps.sometimes).toEqualTypeOf<SignalReceived<boolean> | undefined>();
        if (steps.maybe.received) expectTypeOf(steps.maybe.payload.by).toEqualTypeOf<string>();
        return { total: steps.after.value };
      });
  });

  test('a wait needs a schema; onTimeout is fail or continue; its timeout mapper sees only its dependencies', () => {
    const builder = defineWorkflow({ type: 'waity', version: '1.0.0', input: Input, output: Output }).step('first', { target: a, input: ({ input }) => input });
    // @ts-expect-error no schema
    builder.waitFor('bare', {});
    // @ts-expect-error unknown timeout policy
    builder.waitFor('odd', { schema: z.string(), onTimeout: 'retry' });
    builder.waitFor('blind', {
      schema: z.string(),
      timeoutMs: ({ steps }) => {
        expectTypeOf(steps).not.toHaveProperty('first');
        return 1;
      },
    });
  });
});
