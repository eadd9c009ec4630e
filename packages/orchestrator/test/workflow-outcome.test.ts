// What a caller of result() learns: which step failed and what its attempts met (in process and over HTTP), typed
// outputs, step interceptors in real runs, and the definition/options constructor.
import { createNodeClient, createSilentLogger, ErrorCode, ErrorSanitizer, OnexError, type ServedNode } from '@onex/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineOrchestrator,
  defineWorkflow,
  MAX_OUTCOME_ATTEMPT_ERRORS,
  MemoryWorkflowStore,
  Orchestrator,
  orchestratorContract,
  peer,
  serveOrchestrator,
  WorkflowStatus,
  type AnyWorkflowDefinition,
  type OrchestratorOptions,
  type StepCallContext,
} from '../src/index.js';
import { peers, ScriptedPeer, stepContract } from './scripted-peer.js';

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number() });
const ref = (name: string) => peer(name, stepContract);
const FAST_RETRY = { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 };

const open: Orchestrator[] = [];
const served: ServedNode[] = [];
afterEach(async () => {
  for (const s of served.splice(0)) await s.close();
  for (const o of open.splice(0)) await o.shutdown();
});

async function orchestrator(nodes: ScriptedPeer[], workflows: AnyWorkflowDefinition[], extra: OrchestratorOptions = {}): Promise<Orchestrator> {
  const o = new Orchestrator(defineOrchestrator({ workflows }), { peers: await peers(...nodes), logger: createSilentLogger(), ...extra });
  await o.initialize();
  open.push(o);
  return o;
}

describe('a failed workflow names its step', () => {
  it('carries the failed step, its attempt count and each attempt error to result()', async () => {
    const ok = new ScriptedPeer('ok');
    const flaky = new ScriptedPeer('flaky', { failSequence: [ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.Conflict] });
    const wf = defineWorkflow({ type: 'fails-at-charge', version: '1.0.0', input: Input, output: Output, defaults: { retry: FAST_RETRY } })
      .step('price', { target: ref('ok'), input: ({ input }) => input })
      .step('charge', { target: ref('flaky'), dependsOn: ['price'], input: ({ steps }) => ({ value: steps.price.value }) })
      .returns(({ steps }) => ({ total: steps.charge.value }));
    const o = await orchestrator([ok, flaky], [wf]);
    const outcome = await o.result(await o.start(wf, { value: 1 }));
    expect(outcome.status).toBe(WorkflowStatus.Failed);
    if (outcome.status === 'completed') return;
    expect(outcome.error).toMatchObject({ code: ErrorCode.Conflict, step: 'charge', attempts: 3 });
    expect(outcome.error.attemptErrors?.map((e) => e.code)).toEqual([ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.Conflict]);
    // The same error, read back from the store (a caller on another instance, or after a restart).
    expect((await o.get(outcome.id)).error).toEqual(outcome.error);
  });

  it('names the step also when the saga compensated, and sanitizes what it carries', async () => {
    const charge = new ScriptedPeer('charge');
    const ship = new ScriptedPeer('ship', { alwaysFail: ErrorCode.Validation });
    const refund = new ScriptedPeer('refund');
    const wf = defineWorkflow({ type: 'compensated', version: '1.0.0', input: Input, output: Output })
      .step('charge', { target: ref('charge'), input: ({ input }) => input, compensate: { target: ref('refund'), input: () => ({ value: 0 }) } })
      .step('ship', { target: ref('ship'), dependsOn: ['charge'], input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.ship.value }));
    const sanitizer = new ErrorSanitizer({ patterns: [{ name: 'ship', pattern: /fails/g, replacement: '[masked]' }] });
    const o = await orchestrator([charge, ship, refund], [wf], { sanitizer });
    const outcome = await o.result(await o.start(wf, { value: 1 }));
    expect(outcome.status).toBe(WorkflowStatus.Compensated);
    expect(outcome.error).toMatchObject({ code: ErrorCode.Validation, step: 'ship', attempts: 1, message: 'ship [masked]' });
    expect(outcome.error?.attemptErrors?.[0]?.message).toBe('ship [masked]');
  });

  it('keeps only the last attempt errors in the outcome, and counts every attempt', async () => {
    const down = new ScriptedPeer('down', { alwaysFail: ErrorCode.Unavailable });
    const attempts = MAX_OUTCOME_ATTEMPT_ERRORS + 5;
    const wf = defineWorkflow({ type: 'many-attempts', version: '1.0.0', input: Input, output: Output })
      .step('call', { target: ref('down'), retry: { ...FAST_RETRY, maxAttempts: attempts }, input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.call.value }));
    const o = await orchestrator([down], [wf]);
    const outcome = await o.result(await o.start(wf, { value: 1 }));
    expect(outcome.error).toMatchObject({ step: 'call', attempts });
    expect(outcome.error?.attemptErrors).toHaveLength(MAX_OUTCOME_ATTEMPT_ERRORS);
    // Every attempt was made (the peer's breaker opened on the way: the last ones failed fast, and say so).
    expect(o.stats().stepAttempts).toBe(attempts);
    expect(outcome.error?.attemptErrors?.at(-1)?.code).toBe(ErrorCode.CircuitOpen);
  });

  it('names no step when the workflow was cancelled, or its output failed its schema', async () => {
    const slow = new ScriptedPeer('slow', { delayMs: 10_000 });
    const ok = new ScriptedPeer('ok');
    const cancelled = defineWorkflow({ type: 'cancelled', version: '1.0.0', input: Input, output: Output })
      .step('wait', { target: ref('slow'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.wait.value }));
    const invalid = defineWorkflow({ type: 'invalid-output', version: '1.0.0', input: Input, output: Output })
      .step('one', { target: ref('ok'), input: ({ input }) => input })
      // A mapper that breaks its schema at run time (here through a cast): the workflow fails, naming no step.
      .returns(() => ({ total: 'many' }) as unknown as { total: number });
    const o = await orchestrator([slow, ok], [cancelled, invalid]);
    const id = await o.start(cancelled, { value: 1 });
    await expect.poll(() => slow.calls).toBe(1);
    const stopped = await o.cancel(id);
    expect(stopped.status).toBe(WorkflowStatus.Cancelled);
    expect(stopped.error?.code).toBe(ErrorCode.Cancelled);
    expect(stopped.error?.step).toBeUndefined();
    const broken = await o.result(await o.start(invalid, { value: 1 }));
    expect(broken.status).toBe(WorkflowStatus.Failed);
    expect(broken.error?.code).toBe(ErrorCode.Contract);
    expect(broken.error?.step).toBeUndefined();
  });

  it('tells an HTTP caller the same: POST /v1/process and GET /v1/workflows/:id/result', async () => {
    const flaky = new ScriptedPeer('flaky', { alwaysFail: ErrorCode.Conflict });
    const wf = defineWorkflow({ type: 'remote-failure', version: '1.0.0', input: Input, output: Output })
      .step('reserve', { target: ref('flaky'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.reserve.value }));
    const o = await orchestrator([flaky], [wf]);
    const server = await serveOrchestrator(o, { port: 0 });
    served.push(server);
    const client = createNodeClient(server.url, orchestratorContract);
    try {
      const outcome = await client.callOrThrow({ type: 'remote-failure', input: { value: 1 } });
      expect(outcome).toMatchObject({ status: 'failed', error: { code: ErrorCode.Conflict, step: 'reserve', attempts: 1 } });
      expect(outcome.error?.attemptErrors).toHaveLength(1);
      const response = await fetch(`${server.url}/v1/workflows/${encodeURIComponent(outcome.id)}/result`);
      expect(await response.json()).toMatchObject({ id: outcome.id, status: 'failed', error: { step: 'reserve', attempts: 1 } });
    } finally {
      await client.close();
    }
  });
});

describe('typed outcomes', () => {
  it('answers the typed output of a workflow started from its definition', async () => {
    const a = new ScriptedPeer('a');
    const wf = defineWorkflow({ type: 'typed-output', version: '1.0.0', input: Input, output: Output })
      .step('one', { target: ref('a'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.one.value * 10 }));
    const o = await orchestrator([a], [wf]);
    const outcome = await o.result(await o.start(wf, { value: 1 }));
    if (outcome.status !== 'completed') throw new Error(`ended ${outcome.status}`);
    const total: number = outcome.output.total;
    expect(total).toBe(20);
    expect(outcome.error).toBeUndefined();
  });
});

describe('step interceptors in a run', () => {
  it('wrap every attempt with its context, outermost default first; a throw is a retried attempt failure', async () => {
    const a = new ScriptedPeer('a');
    const seen: (Pick<StepCallContext, 'step' | 'attempt' | 'peer' | 'idempotencyKey'> & { readonly by: string })[] = [];
    let refusals = 1;
    const wf = defineWorkflow({
      type: 'intercepted',
      version: '1.0.0',
      input: Input,
      output: Output,
      defaults: {
        retry: FAST_RETRY,
        interceptors: [
          async (input, ctx, next) => {
            seen.push({ step: ctx.step, attempt: ctx.attempt, peer: ctx.peer, idempotencyKey: ctx.idempotencyKey, by: 'default' });
            return next(input);
          },
        ],
      },
    })
      .step('guarded', {
        target: ref('a'),
        interceptors: [
          async (input, ctx, next) => {
            seen.push({ step: ctx.step, attempt: ctx.attempt, peer: ctx.peer, idempotencyKey: ctx.idempotencyKey, by: 'own' });
            if (refusals > 0) {
              refusals -= 1;
              throw new OnexError(ErrorCode.Unavailable, 'not yet');
            }
            return next({ value: input.value + 100 });
          },
        ],
        input: ({ input }) => input,
      })
      .returns(({ steps }) => ({ total: steps.guarded.value }));
    const o = await orchestrator([a], [wf]);
    const id = await o.start(wf, { value: 1 });
    const outcome = await o.result(id);
    expect(outcome).toMatchObject({ status: 'completed', output: { total: 102 } });
    const key = `${id}:guarded`;
    expect(seen).toEqual([
      { step: 'guarded', attempt: 1, peer: 'a', idempotencyKey: key, by: 'default' },
      { step: 'guarded', attempt: 1, peer: 'a', idempotencyKey: key, by: 'own' },
      { step: 'guarded', attempt: 2, peer: 'a', idempotencyKey: key, by: 'default' },
      { step: 'guarded', attempt: 2, peer: 'a', idempotencyKey: key, by: 'own' },
    ]);
    // The refused attempt never reached the peer; the second sent the rewritten input.
    expect(a.log.map((l) => l.value)).toEqual([101]);
    expect((await o.get(id)).steps['guarded']).toMatchObject({ attempts: 2, attemptErrors: [{ code: ErrorCode.Unavailable, message: 'not yet' }] });
  });
});

describe('new Orchestrator(definition, options)', () => {
  it('takes its name and version from the definition, and defaults to a memory store', async () => {
    const a = new ScriptedPeer('a');
    const wf = defineWorkflow({ type: 'named', version: '1.0.0', input: Input, output: Output })
      .step('one', { target: ref('a'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.one.value }));
    const definition = defineOrchestrator({ name: 'order-flows', version: '2.1.0', workflows: [wf] });
    const o = new Orchestrator(definition, { peers: await peers(a), logger: createSilentLogger() });
    open.push(o);
    expect(o.contract).toMatchObject({ name: 'order-flows', version: '2.1.0' });
    expect(o.store).toBeInstanceOf(MemoryWorkflowStore);
    expect(o.instanceId).toMatch(/^order-flows-/);
    await o.initialize();
    expect(await o.result(await o.start(wf, { value: 1 }))).toMatchObject({ status: 'completed', output: { total: 2 } });
    expect(o.stats()).toMatchObject({ started: 1, finished: { completed: 1 }, stepAttempts: 1 });
    // The definition is a frozen value: the same one can back another instance.
    expect(Object.isFrozen(definition)).toBe(true);
    expect(Object.isFrozen(definition.workflows)).toBe(true);
  });

  it('refuses a definition listing a workflow version twice, a step naming an unknown peer, invalid limits', () => {
    const wf = defineWorkflow({ type: 'twice', version: '1.0.0', input: Input, output: Output })
      .step('one', { target: ref('nowhere'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.one.value }));
    expect(() => defineOrchestrator({ workflows: [wf, wf] })).toThrow(/lists workflow 'twice' version 1.0.0 twice/);
    expect(() => new Orchestrator({ workflows: [wf] }, { logger: createSilentLogger() })).toThrow(/step 'one' names unknown peer 'nowhere'/);
    expect(() => new Orchestrator({ workflows: [] }, { maxConcurrentWorkflows: 0, logger: createSilentLogger() })).toThrow(/maxConcurrentWorkflows must be an integer >= 1/);
  });
});
