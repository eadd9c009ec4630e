import { defineContract, NodeKind } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { peer, type StepCallContext, type StepDefinition, type StepInterceptor } from './definition.js';
import { defineWorkflow } from './workflow-builder.js';

const Value = z.object({ value: z.number() });
const a = peer('a', defineContract({ name: 'a', kind: NodeKind.Effect, version: '1.0.0', input: Value, output: Value }));
const ctx: StepCallContext = {
  workflowId: 'w',
  step: 's',
  attempt: 1,
  peer: 'a',
  idempotencyKey: 'w:s',
  correlationId: 'c',
  signal: new AbortController().signal,
};

function stepOf(steps: readonly StepDefinition[], name: string): StepDefinition {
  const step = steps.find((s) => s.name === name);
  if (step === undefined) throw new Error(`no step ${name}`);
  return step;
}

describe('defineWorkflow defaults', () => {
  const wf = defineWorkflow({
    type: 'with-defaults',
    version: '1.0.0',
    input: Value,
    output: Value,
    defaults: {
      timeoutMs: 2_000,
      retry: { maxAttempts: 4, initialDelayMs: 50, maxDelayMs: 500 },
      compensation: { retry: { maxAttempts: 30 }, timeoutMs: 1_500 },
    },
  })
    .step('plain', { target: a, input: ({ input }) => input, compensate: { target: a, input: () => ({ value: 0 }) } })
    .step('own', {
      target: a,
      timeoutMs: 3_000,
      retry: { maxAttempts: 10 },
      input: ({ input }) => input,
      compensate: { target: a, timeoutMs: 4_000, retry: { maxAttempts: 2 }, input: () => ({ value: 0 }) },
    })
    .returns(({ steps }) => steps.own);

  it('gives every step and compensation the defaults it does not override', () => {
    const plain = stepOf(wf.steps, 'plain');
    expect(plain.timeoutMs).toBe(2_000);
    expect(plain.retry.options).toMatchObject({ maxAttempts: 4, initialDelayMs: 50, maxDelayMs: 500 });
    expect(plain.compensate?.timeoutMs).toBe(1_500);
    expect(plain.compensate?.retry.options.maxAttempts).toBe(30);
  });

  it("replaces a default whole with the step's own value (no merge of retry policies)", () => {
    const own = stepOf(wf.steps, 'own');
    expect(own.timeoutMs).toBe(3_000);
    // 10 attempts with core's backoff defaults: the default's 50 ms / 500 ms are not merged in.
    expect(own.retry.options).toMatchObject({ maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 10_000 });
    expect(own.compensate?.timeoutMs).toBe(4_000);
    expect(own.compensate?.retry.options.maxAttempts).toBe(2);
  });

  it('keeps the built-in defaults without `defaults`', () => {
    const bare = defineWorkflow({ type: 'bare', version: '1.0.0', input: Value, output: Value })
      .step('one', { target: a, input: ({ input }) => input, compensate: { target: a, input: () => ({ value: 0 }) } })
      .returns(({ steps }) => steps.one);
    const one = stepOf(bare.steps, 'one');
    expect(one.timeoutMs).toBeUndefined();
    expect(one.retry.options.maxAttempts).toBe(3);
    expect(one.compensate?.retry.options.maxAttempts).toBe(5);
    expect(one.compensate?.timeoutMs).toBeUndefined();
  });
});

describe('step interceptors', () => {
  it("run the defaults' first (outermost), then the step's own, around the call", async () => {
    const trail: string[] = [];
    // Generic, so it fits the defaults (unknown input and output) and a typed step alike.
    function mark<TInput, TOutput>(label: string): StepInterceptor<TInput, TOutput> {
      return async (input, _ctx, next) => {
        trail.push(`${label}>`);
        const output = await next(input);
        trail.push(`<${label}`);
        return output;
      };
    }
    const wf = defineWorkflow({ type: 'chained', version: '1.0.0', input: Value, output: Value, defaults: { interceptors: [mark('default')] } })
      .step('one', { target: a, interceptors: [mark('own')], input: ({ input }) => input })
      .returns(({ steps }) => steps.one);
    const answer = await stepOf(wf.steps, 'one').call({ value: 1 }, ctx, async (input) => {
      trail.push('send');
      return input;
    });
    expect(answer).toEqual({ value: 1 });
    expect(trail).toEqual(['default>', 'own>', 'send', '<own', '<default']);
  });

  it('can change the input, answer without calling on, and see the attempt context', async () => {
    const seen: StepCallContext[] = [];
    const wf = defineWorkflow({ type: 'rewrites', version: '1.0.0', input: Value, output: Value })
      .step('doubled', {
        target: a,
        interceptors: [
          async (input, stepCtx, next) => {
            seen.push(stepCtx);
            return next({ value: input.value * 2 });
          },
        ],
        input: ({ input }) => input,
      })
      .step('cached', { target: a, interceptors: [async () => ({ value: 42 })], input: ({ input }) => input })
      .returns(({ steps }) => steps.doubled);
    const sent: unknown[] = [];
    const send = async (input: unknown): Promise<unknown> => {
      sent.push(input);
      return input;
    };
    expect(await stepOf(wf.steps, 'doubled').call({ value: 3 }, { ...ctx, attempt: 2 }, send)).toEqual({ value: 6 });
    expect(await stepOf(wf.steps, 'cached').call({ value: 3 }, ctx, send)).toEqual({ value: 42 });
    expect(sent).toEqual([{ value: 6 }]);
    expect(seen).toMatchObject([{ workflowId: 'w', step: 's', attempt: 2, idempotencyKey: 'w:s' }]);
  });

  it('sends also when an interceptor hands on a context built from its own, and says so when it does not', async () => {
    type Forward = (input: unknown, ctx: StepCallContext) => Promise<unknown>;
    const wf = defineWorkflow({ type: 'forwarding', version: '1.0.0', input: Value, output: Value })
      // core's composeInterceptors forwards a context given to `next`: one spread from the original keeps the call.
      .step('spread', { target: a, interceptors: [async (input, stepCtx, next) => (next as Forward)(input, { ...stepCtx, attempt: 9 }) as Promise<{ value: number }>], input: ({ input }) => input })
      .step('fresh', { target: a, interceptors: [async (input, stepCtx, next) => (next as Forward)(input, { ...ctx, step: stepCtx.step }) as Promise<{ value: number }>], input: ({ input }) => input })
      .returns(({ steps }) => steps.spread);
    const send = async (input: unknown): Promise<unknown> => input;
    expect(await stepOf(wf.steps, 'spread').call({ value: 1 }, ctx, send)).toEqual({ value: 1 });
    await expect(stepOf(wf.steps, 'fresh').call({ value: 1 }, { ...ctx, step: 'fresh' }, send)).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/step interceptor of 'fresh' handed on a context of its own/),
    });
  });

  it('compose once, at definition: a step without interceptors sends directly', async () => {
    const wf = defineWorkflow({ type: 'direct', version: '1.0.0', input: Value, output: Value })
      .step('one', { target: a, input: ({ input }) => input })
      .step('two', { target: a, input: ({ input }) => input })
      .returns(({ steps }) => steps.one);
    // One shared pass-through for every step without interceptors: nothing is built per step or per call.
    expect(stepOf(wf.steps, 'one').call).toBe(stepOf(wf.steps, 'two').call);
    expect(await stepOf(wf.steps, 'one').call({ value: 1 }, ctx, async () => 'sent')).toBe('sent');
  });
});

describe('sleep steps', () => {
  it('compute their wake-up time from ms (from now) or until (a Date or epoch ms), fixed or from the context', () => {
    const wf = defineWorkflow({ type: 'sleepy', version: '1.0.0', input: Value, output: Value })
      .sleep('fixed', { ms: 1_000 })
      .sleep('mapped', { ms: ({ input }) => input.value })
      .sleep('date', { until: new Date(5_000) })
      .sleep('epoch', { until: ({ input }) => input.value * 2 })
      .returns(({ input }) => input);
    const wakeAt = (name: string) => {
      const target = stepOf(wf.steps, name).target;
      if (target.kind !== 'sleep') throw new Error(`${name} is no sleep`);
      return target.wakeAt({ workflowId: 'w', input: { value: 300 }, steps: {} }, 10_000);
    };
    expect([wakeAt('fixed'), wakeAt('mapped'), wakeAt('date'), wakeAt('epoch')]).toEqual([11_000, 10_300, 5_000, 600]);
  });

  it('refuse a fixed time that is not one when the definition is built, and a computed one when it runs', () => {
    const base = () => defineWorkflow({ type: 'sleepy', version: '1.0.0', input: Value, output: Value });
    expect(() => base().sleep('neg', { ms: -1 })).toThrow(/Invalid workflow 'sleepy': 'ms' must be a finite number >= 0/);
    expect(() => base().sleep('nan', { until: new Date(Number.NaN) })).toThrow(/not a valid date/);
    const wf = base().sleep('computed', { until: () => Number.POSITIVE_INFINITY }).returns(({ input }) => input);
    const target = stepOf(wf.steps, 'computed').target;
    if (target.kind !== 'sleep') throw new Error('no sleep');
    expect(() => target.wakeAt({ workflowId: 'w', input: {}, steps: {} }, 0)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});

describe('waits for a signal', () => {
  it('wait for the step name by default, or the signal named; compute their timeout from ms, fixed or from the context', () => {
    const wf = defineWorkflow({ type: 'waity', version: '1.0.0', input: Value, output: Value })
      .waitFor('shipped', { schema: z.object({ id: z.string() }), timeoutMs: 1_000 })
      .waitFor('approve', { signal: 'ops.approval', schema: z.boolean(), timeoutMs: ({ input }) => input.value, onTimeout: 'continue' })
      .waitFor('forever', { schema: z.boolean() })
      .returns(({ input }) => input);
    const target = (name: string) => {
      const t = stepOf(wf.steps, name).target;
      if (t.kind !== 'signal') throw new Error(`${name} is no wait`);
      return t;
    };
    expect([target('shipped').signal, target('approve').signal, target('forever').signal]).toEqual(['shipped', 'ops.approval', 'forever']);
    expect([target('shipped').onTimeout, target('approve').onTimeout]).toEqual(['fail', 'continue']);
    const ctx = { workflowId: 'w', input: { value: 300 }, steps: {} };
    expect([target('shipped').timeoutAt?.(ctx, 10_000), target('approve').timeoutAt?.(ctx, 10_000), target('forever').timeoutAt]).toEqual([11_000, 10_300, undefined]);
  });

  it('refuse an invalid signal name, a negative timeout, and two waits for one signal with different schemas', () => {
    const base = () => defineWorkflow({ type: 'waity', version: '1.0.0', input: Value, output: Value });
    expect(() => base().waitFor('w', { signal: 'has space', schema: z.string() })).toThrow(/signal name 'has space' is invalid/);
    expect(() => base().waitFor('w', { schema: z.string(), timeoutMs: -5 })).toThrow(/'timeoutMs' must be a finite number >= 0/);
    expect(() =>
      base()
        .waitFor('one', { signal: 'go', schema: z.string() })
        .waitFor('two', { signal: 'go', schema: z.number() })
        .returns(({ input }) => input),
    ).toThrow(/waits for signal 'go' must share one schema/);
    const Go = z.string();
    expect(() =>
      base()
        .waitFor('one', { signal: 'go', schema: Go })
        .waitFor('two', { signal: 'go', schema: Go, dependsOn: ['one'] })
        .returns(({ input }) => input),
    ).not.toThrow();
  });
});
