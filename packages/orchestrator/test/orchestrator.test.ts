import { createSilentLogger, ErrorCode, isOnexError, OnexError } from '@onex/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, StepStatus, WorkflowStatus, type AnyWorkflowDefinition, type OrchestratorOptions } from '../src/index.js';
import { peers, ScriptedPeer, stepContract } from './scripted-peer.js';

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number() });

const open: Orchestrator[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.shutdown();
});

async function orchestrator(clients: Awaited<ReturnType<typeof peers>>, workflows: AnyWorkflowDefinition[], extra: OrchestratorOptions = {}) {
  const o = new Orchestrator({ workflows }, { store: new MemoryWorkflowStore(), peers: clients, logger: createSilentLogger(), ...extra });
  await o.initialize();
  open.push(o);
  return o;
}

const ref = (name: string) => peer(name, stepContract);

describe('Orchestrator execution', () => {
  it('runs independent steps in parallel (two 100 ms steps overlap)', async () => {
    const a = new ScriptedPeer('a', { delayMs: 100 });
    const b = new ScriptedPeer('b', { delayMs: 100 });
    const wf = defineWorkflow({ type: 'parallel', version: '1.0.0', input: Input, output: Output })
      .step('left', { target: ref('a'), input: ({ input }) => ({ value: input.value }) })
      .step('right', { target: ref('b'), input: ({ input }) => ({ value: input.value }) })
      .returns(({ steps }) => ({ total: (steps.left?.value ?? 0) + (steps.right?.value ?? 0) }));
    const o = await orchestrator(await peers(a, b), [wf]);
    const started = performance.now();
    const id = await o.start('parallel', { value: 1 });
    const outcome = await o.result(id);
    const elapsed = performance.now() - started;
    expect(outcome).toMatchObject({ status: 'completed', output: { total: 4 } });
    // The two steps overlapped: each started before the other finished (a wall-clock bound alone flakes under load).
    const { left, right } = (await o.get(id)).steps;
    expect(left!.startedAt!).toBeLessThan(right!.finishedAt!);
    expect(right!.startedAt!).toBeLessThan(left!.finishedAt!);
    expect(elapsed).toBeGreaterThanOrEqual(95);
  });

  it('feeds dependents with typed outputs of earlier steps, in DAG order', async () => {
    const a = new ScriptedPeer('a');
    const b = new ScriptedPeer('b');
    const wf = defineWorkflow({ type: 'chain', version: '1.0.0', input: Input, output: Output })
      .step('first', { target: ref('a'), input: ({ input }) => ({ value: input.value }) })
      .step('second', { target: ref('b'), dependsOn: ['first'], input: ({ steps }) => ({ value: steps.first.value * 10 }) })
      .returns(({ steps }) => ({ total: steps.second?.value ?? -1 }));
    const o = await orchestrator(await peers(a, b), [wf]);
    const outcome = await o.result(await o.start('chain', { value: 1 }));
    expect(outcome.output).toEqual({ total: 21 });
    const record = await o.get(outcome.id);
    expect(record.steps['first']).toMatchObject({ status: 'completed', attempts: 1, completionSeq: 1 });
    expect(record.steps['second']).toMatchObject({ status: 'completed', completionSeq: 2 });
    expect(b.log[0]?.key).toBe(`${outcome.id}:second`);
  });

  it('retries a failing step and records each failed attempt', async () => {
    const a = new ScriptedPeer('a', { failTimes: 2 });
    const wf = defineWorkflow({ type: 'retry', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 }, input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    const o = await orchestrator(await peers(a), [wf]);
    const outcome = await o.result(await o.start('retry', { value: 5 }));
    expect(outcome).toMatchObject({ status: 'completed', output: { total: 6 } });
    const step = (await o.get(outcome.id)).steps['only']!;
    expect(step.attempts).toBe(3);
    expect(step.attemptErrors.map((e) => e.code)).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
    expect(a.calls).toBe(3);
  });

  it('does not retry a non-retryable failure', async () => {
    const a = new ScriptedPeer('a', { alwaysFail: ErrorCode.Conflict });
    const wf = defineWorkflow({ type: 'noretry', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), retry: { maxAttempts: 5, initialDelayMs: 1 }, input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator(await peers(a), [wf]);
    const outcome = await o.result(await o.start('noretry', { value: 1 }));
    expect(outcome.status).toBe('failed');
    expect(outcome.error?.code).toBe('CONFLICT');
    expect(a.calls).toBe(1);
  });

  it('aborts the peer call at the step timeout', async () => {
    const a = new ScriptedPeer('a', { delayMs: 60_000 });
    const wf = defineWorkflow({ type: 'steptimeout', version: '1.0.0', input: Input, output: Output })
      .step('slow', { target: ref('a'), timeoutMs: 50, retry: { maxAttempts: 1 }, input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator(await peers(a), [wf]);
    const started = performance.now();
    const outcome = await o.result(await o.start('steptimeout', { value: 1 }));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(outcome.status).toBe('failed');
    expect(outcome.error?.code).toBe('TIMEOUT');
    await expect.poll(() => a.aborted).toBe(1);
  });

  it('aborts running steps at the workflow deadline, compensates, and ends timed_out', async () => {
    const a = new ScriptedPeer('a');
    const slow = new ScriptedPeer('slow', { delayMs: 60_000 });
    const undo = new ScriptedPeer('undo');
    const wf = defineWorkflow({ type: 'deadline', version: '1.0.0', input: Input, output: Output, timeoutMs: 100 })
      .step('fast', { target: ref('a'), input: ({ input }) => input, compensate: { target: ref('undo'), input: ({ output }) => ({ value: output?.value ?? -1 }) } })
      .step('slow', { target: ref('slow'), dependsOn: ['fast'], input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator(await peers(a, slow, undo), [wf]);
    const started = performance.now();
    const outcome = await o.result(await o.start('deadline', { value: 1 }));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(outcome.status).toBe('timed_out');
    expect(slow.aborted).toBe(1);
    expect(undo.log.map((l) => l.value)).toEqual([2]);
  });

  it('compensates completed steps in reverse completion order when a later step fails', async () => {
    const reserve = new ScriptedPeer('reserve');
    const charge = new ScriptedPeer('charge');
    const ship = new ScriptedPeer('ship', { alwaysFail: ErrorCode.Validation });
    const undo = new ScriptedPeer('undo');
    const wf = defineWorkflow({ type: 'saga', version: '1.0.0', input: Input, output: Output })
      .step('reserve', { target: ref('reserve'), input: ({ input }) => ({ value: 100 + input.value }), compensate: { target: ref('undo'), input: () => ({ value: 1, tag: 'release' }) } })
      .step('charge', {
        target: ref('charge'),
        dependsOn: ['reserve'],
        input: ({ input }) => ({ value: 200 + input.value }),
        compensate: { target: ref('undo'), input: () => ({ value: 2, tag: 'refund' }) },
      })
      .step('ship', { target: ref('ship'), dependsOn: ['charge'], input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator(await peers(reserve, charge, ship, undo), [wf]);
    const outcome = await o.result(await o.start('saga', { value: 1 }));
    expect(outcome.status).toBe('compensated');
    expect(outcome.error?.code).toBe('VALIDATION');
    expect(undo.log.map((l) => l.value)).toEqual([2, 1]);
    expect(undo.log.map((l) => l.key)).toEqual([`${outcome.id}:charge:compensate`, `${outcome.id}:reserve:compensate`]);
    const record = await o.get(outcome.id);
    expect(record.steps['reserve']?.status).toBe(StepStatus.Compensated);
    expect(record.steps['charge']?.status).toBe(StepStatus.Compensated);
    expect(record.steps['ship']?.status).toBe(StepStatus.Failed);
  });

  it('compensates a failed step when any attempt ended without an answer (it may have taken effect)', async () => {
    const charge = new ScriptedPeer('charge', { failSequence: [ErrorCode.Timeout, ErrorCode.Conflict] });
    const refund = new ScriptedPeer('refund');
    const wf = defineWorkflow({ type: 'uncertain', version: '1.0.0', input: Input, output: Output })
      .step('charge', {
        target: ref('charge'),
        retry: { maxAttempts: 3, initialDelayMs: 1 },
        input: ({ input }) => input,
        compensate: { target: ref('refund'), input: ({ output, input }) => ({ value: output?.value ?? input.value, tag: 'refund' }) },
      })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator(await peers(charge, refund), [wf]);
    const outcome = await o.result(await o.start('uncertain', { value: 7 }));
    expect(outcome.status).toBe('compensated');
    expect(outcome.error?.code).toBe('CONFLICT');
    // The first attempt timed out, the second was refused: the refund still runs, without an output to go on.
    expect(refund.log.map((l) => l.value)).toEqual([7]);
    const step = (await o.get(outcome.id)).steps['charge']!;
    expect(step.attemptErrors.map((e) => e.code)).toEqual(['TIMEOUT', 'CONFLICT']);
    expect(step.status).toBe(StepStatus.Compensated);
  });

  it('does not compensate a step that was refused outright', async () => {
    const charge = new ScriptedPeer('charge', { alwaysFail: ErrorCode.Conflict });
    const refund = new ScriptedPeer('refund');
    const wf = defineWorkflow({ type: 'refused', version: '1.0.0', input: Input, output: Output })
      .step('charge', { target: ref('charge'), input: ({ input }) => input, compensate: { target: ref('refund'), input: ({ input }) => input } })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator(await peers(charge, refund), [wf]);
    const outcome = await o.result(await o.start('refused', { value: 1 }));
    expect(outcome.status).toBe('failed');
    expect(refund.calls).toBe(0);
  });

  it('records a compensation the peer refused definitely instead of hiding it', async () => {
    const reserve = new ScriptedPeer('reserve');
    const ship = new ScriptedPeer('ship', { alwaysFail: ErrorCode.Conflict });
    // A definite refusal (an unavailable undo peer parks the workflow instead: see engine-faults.test.ts).
    const brokenUndo = new ScriptedPeer('undo', { alwaysFail: ErrorCode.Forbidden });
    const wf = defineWorkflow({ type: 'compfail', version: '1.0.0', input: Input, output: Output })
      .step('reserve', {
        target: ref('reserve'),
        input: ({ input }) => input,
        compensate: { target: ref('undo'), input: ({ output }) => ({ value: output?.value ?? -1 }), retry: { maxAttempts: 2, initialDelayMs: 1 } },
      })
      .step('ship', { target: ref('ship'), dependsOn: ['reserve'], input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator(await peers(reserve, ship, brokenUndo), [wf]);
    const outcome = await o.result(await o.start('compfail', { value: 1 }));
    expect(outcome.status).toBe(WorkflowStatus.CompensationFailed);
    const step = (await o.get(outcome.id)).steps['reserve']!;
    expect(step.status).toBe(StepStatus.CompensationFailed);
    expect(step.compensationError?.code).toBe('FORBIDDEN');
    // Not retried: a refusal is final.
    expect(step.compensationAttempts).toBe(1);
  });

  it('cancels a running workflow: aborts the step and compensates', async () => {
    const first = new ScriptedPeer('first');
    const slow = new ScriptedPeer('slow', { delayMs: 5_000 });
    const undo = new ScriptedPeer('undo');
    const wf = defineWorkflow({ type: 'cancel', version: '1.0.0', input: Input, output: Output })
      .step('first', { target: ref('first'), input: ({ input }) => input, compensate: { target: ref('undo'), input: ({ output }) => ({ value: output?.value ?? -1 }) } })
      .step('slow', { target: ref('slow'), dependsOn: ['first'], input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator(await peers(first, slow, undo), [wf]);
    const id = await o.start('cancel', { value: 1 });
    await expect.poll(() => slow.calls).toBe(1);
    const outcome = await o.cancel(id);
    expect(outcome.status).toBe('cancelled');
    expect(slow.aborted).toBe(1);
    expect(undo.log).toHaveLength(1);
    const record = await o.get(id);
    expect(record.steps['slow']?.status).toBe(StepStatus.Cancelled);
  });

  it('skips a step whose condition is false, and its dependents', async () => {
    const a = new ScriptedPeer('a');
    const wf = defineWorkflow({ type: 'cond', version: '1.0.0', input: Input, output: Output })
      .step('maybe', { target: ref('a'), when: ({ input }) => input.value > 10, input: ({ input }) => input })
      .step('after', { target: ref('a'), dependsOn: ['maybe'], input: ({ steps }) => ({ value: steps.maybe.value }) })
      .returns(({ steps }) => ({ total: steps.after?.value ?? 0 }));
    const o = await orchestrator(await peers(a), [wf]);
    const outcome = await o.result(await o.start('cond', { value: 1 }));
    expect(outcome).toMatchObject({ status: 'completed', output: { total: 0 } });
    const record = await o.get(outcome.id);
    expect(record.steps['maybe']?.status).toBe('skipped');
    expect(record.steps['after']?.status).toBe('skipped');
    expect(a.calls).toBe(0);
  });

  it('continues past a failing step marked continueOnError', async () => {
    const bad = new ScriptedPeer('bad', { alwaysFail: ErrorCode.Conflict });
    const good = new ScriptedPeer('good');
    const wf = defineWorkflow({ type: 'coe', version: '1.0.0', input: Input, output: Output })
      .step('optional', { target: ref('bad'), continueOnError: true, input: ({ input }) => input })
      .step('main', { target: ref('good'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.main?.value ?? 0 }));
    const o = await orchestrator(await peers(bad, good), [wf]);
    const outcome = await o.result(await o.start('coe', { value: 1 }));
    expect(outcome).toMatchObject({ status: 'completed', output: { total: 2 } });
    expect((await o.get(outcome.id)).steps['optional']?.status).toBe('failed');
  });

  it('runs a nested workflow as a step', async () => {
    const a = new ScriptedPeer('a');
    const child = defineWorkflow({ type: 'child', version: '1.0.0', input: Input, output: Output })
      .step('inner', { target: ref('a'), input: ({ input }) => ({ value: input.value * 2 }) })
      .returns(({ steps }) => ({ total: steps.inner?.value ?? 0 }));
    const parent = defineWorkflow({ type: 'parent', version: '1.0.0', input: Input, output: Output })
      .subworkflow('sub', { workflow: child, input: ({ input }) => ({ value: input.value }) })
      .step('after', { target: ref('a'), dependsOn: ['sub'], input: ({ steps }) => ({ value: steps.sub.total }) })
      .returns(({ steps }) => ({ total: steps.after?.value ?? 0 }));
    const o = await orchestrator(await peers(a), [parent]);
    const outcome = await o.result(await o.start('parent', { value: 3 }));
    expect(outcome).toMatchObject({ status: 'completed', output: { total: 8 } });
    const record = await o.get(outcome.id);
    const childId = record.steps['sub']?.childWorkflowId;
    expect(childId).toBe(`${outcome.id}.sub`);
    expect(await o.result(childId!)).toMatchObject({ status: 'completed', output: { total: 7 } });
  });

  it('starts idempotently by key and rejects bad input without storing anything', async () => {
    const a = new ScriptedPeer('a');
    const wf = defineWorkflow({ type: 'idem', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    const o = await orchestrator(await peers(a), [wf]);
    const first = await o.start('idem', { value: 1 }, { idempotencyKey: 'order-1' });
    const second = await o.start('idem', { value: 1 }, { idempotencyKey: 'order-1' });
    expect(second).toBe(first);
    await o.result(first);
    expect(a.calls).toBe(1);
    const bad = await o.start('idem', { value: 'x' }).catch((e: unknown) => e);
    expect(isOnexError(bad) && bad.code).toBe(ErrorCode.Validation);
    expect(await o.list({})).toHaveLength(1);
  });

  it('limits concurrent workflows and fails fast past the queue', async () => {
    const a = new ScriptedPeer('a', { delayMs: 50 });
    const wf = defineWorkflow({ type: 'busy', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator(await peers(a), [wf], { maxConcurrentWorkflows: 2, maxQueuedWorkflows: 2 });
    const ids = [];
    for (let i = 0; i < 4; i += 1) ids.push(await o.start('busy', { value: i }));
    const overloaded = await o.start('busy', { value: 9 }).catch((e: unknown) => e);
    expect(overloaded instanceof OnexError && overloaded.code).toBe(ErrorCode.Overloaded);
    expect(o.metrics().extra['workflows']).toMatchObject({ running: 2, queued: 2 });
    const outcomes = await Promise.all(ids.map((id) => o.result(id)));
    expect(outcomes.every((x) => x.status === 'completed')).toBe(true);
  });

  it('answers result() for a workflow another instance runs, by reading the shared store', async () => {
    const slow = new ScriptedPeer('slow', { delayMs: 150 });
    const wf = defineWorkflow({ type: 'shared', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('slow'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    const store = new MemoryWorkflowStore();
    const clients = await peers(slow);
    const a = await orchestrator(clients, [wf], { store, instanceId: 'a' });
    const b = await orchestrator(clients, [wf], { store, instanceId: 'b' });
    const id = await a.start('shared', { value: 1 });
    const outcome = await b.result(id);
    expect(outcome).toMatchObject({ id, status: 'completed', output: { total: 2 } });
    const controller = new AbortController();
    const unknown = b.result('no-such-id', { signal: controller.signal }).catch((e: unknown) => e);
    expect(isOnexError(await unknown) && ((await unknown) as OnexError).code).toBe(ErrorCode.NotFound);
  });

  it('honours deadlines longer than Node can time in one timer (30 days)', async () => {
    const a = new ScriptedPeer('a');
    const wf = defineWorkflow({ type: 'long', version: '1.0.0', input: Input, output: Output, timeoutMs: 30 * 24 * 3_600_000 })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    const o = await orchestrator(await peers(a), [wf]);
    const outcome = await o.result(await o.start('long', { value: 1 }));
    expect(outcome).toMatchObject({ status: 'completed', output: { total: 2 } });
  });

  it('resumes an interrupted saga with the reason it started for, even past the deadline', async () => {
    const undo = new ScriptedPeer('undo');
    const wf = defineWorkflow({ type: 'resume-saga', version: '1.0.0', input: Input, output: Output })
      .step('reserve', { target: ref('undo'), input: ({ input }) => input, compensate: { target: ref('undo'), input: () => ({ value: 99 }) } })
      .step('ship', { target: ref('undo'), dependsOn: ['reserve'], input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const store = new MemoryWorkflowStore();
    const now = Date.now();
    const validation = { code: 'VALIDATION', message: 'bad address', retryable: false } as const;
    // What a crash during compensation leaves behind, found after the workflow's deadline has passed.
    await store.create({
      id: 'w-crashed',
      type: 'resume-saga',
      version: '1.0.0',
      status: WorkflowStatus.Compensating,
      input: { value: 1 },
      error: validation,
      correlationId: 'c',
      createdAt: now - 10_000,
      updatedAt: now - 5_000,
      deadlineAt: now - 1_000,
      owner: 'orchestrator',
      leaseExpiresAt: now - 1,
      epoch: 1,
      steps: {
        reserve: { name: 'reserve', status: StepStatus.Compensating, attempts: 1, attemptErrors: [], output: { value: 2, by: 'undo' }, completionSeq: 1 },
        ship: { name: 'ship', status: StepStatus.Failed, attempts: 1, attemptErrors: [validation], error: validation },
      },
    });
    const o = await orchestrator(await peers(undo), [wf], { store });
    const outcome = await o.result('w-crashed');
    expect(outcome.status).toBe('compensated');
    expect(outcome.error?.code).toBe('VALIDATION');
    expect(undo.log.map((l) => l.value)).toEqual([99]);
  });

  it('takes over, while running, the workflows of an instance that stopped renewing its lease', async () => {
    const a = new ScriptedPeer('a');
    const wf = defineWorkflow({ type: 'orphan', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    const store = new MemoryWorkflowStore();
    const survivor = await orchestrator(await peers(a), [wf], { store, instanceId: 'survivor', leaseMs: 300 });
    const now = Date.now();
    // Left by a crashed instance after the survivor started: only the periodic claim can pick it up.
    await store.create({
      id: 'orphan-1',
      type: 'orphan',
      version: '1.0.0',
      status: WorkflowStatus.Running,
      input: { value: 4 },
      correlationId: 'c',
      createdAt: now,
      updatedAt: now,
      owner: 'crashed',
      leaseExpiresAt: now - 1,
      epoch: 3,
      steps: {},
    });
    const outcome = await survivor.result('orphan-1');
    expect(outcome).toMatchObject({ status: 'completed', output: { total: 5 } });
    expect((await store.get('orphan-1'))).toMatchObject({ owner: 'survivor', epoch: 4 });
  });

  it('keeps one circuit breaker per peer', async () => {
    const down = new ScriptedPeer('down', { alwaysFail: ErrorCode.Unavailable });
    const up = new ScriptedPeer('up');
    const wf = defineWorkflow({ type: 'breakers', version: '1.0.0', input: Input, output: Output })
      .step('d', { target: ref('down'), continueOnError: true, retry: { maxAttempts: 1 }, input: ({ input }) => input })
      .step('u', { target: ref('up'), input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator(await peers(down, up), [wf], { breakerDefaults: { volumeThreshold: 3, resetTimeoutMs: 60_000 } });
    for (let i = 0; i < 5; i += 1) await o.result(await o.start('breakers', { value: i }));
    const health = await o.health();
    expect(health.components['peers']?.data).toEqual({ breakers: { 'peer:down': 'open', 'peer:up': 'closed' } });
    expect(o.metrics().extra['workflows']).toMatchObject({
      breakers: { 'peer:down': { state: 'open', openings: 1 }, 'peer:up': { state: 'closed', openings: 0 } },
    });
    expect(down.calls).toBeLessThan(5);
    expect(up.calls).toBe(5);
  });
});

describe('Workflow definitions', () => {
  const a = ref('a');
  it('rejects cycles, duplicates, unknown dependencies and unknown peers, naming the step', async () => {
    const base = defineWorkflow({ type: 'bad', version: '1.0.0', input: Input, output: Output });
    expect(() => base.step('x', { target: a, input: ({ input }) => input }).step('x', { target: a, input: ({ input }) => input }).returns(() => ({ total: 0 }))).toThrow(/duplicate step 'x'/);
    const cyclic: AnyWorkflowDefinition = {
      ...base.step('x', { target: a, input: ({ input }) => input }).returns(() => ({ total: 0 })),
    };
    const withCycle = {
      ...cyclic,
      steps: [
        { ...cyclic.steps[0]!, name: 'p', dependsOn: ['q'] },
        { ...cyclic.steps[0]!, name: 'q', dependsOn: ['p'] },
      ],
    };
    const o = await orchestrator(await peers(new ScriptedPeer('a')), []);
    expect(() => o.register(withCycle)).toThrow(/cycle through steps 'p', 'q'/);
    const unknownDep = { ...cyclic, steps: [{ ...cyclic.steps[0]!, dependsOn: ['ghost'] }] };
    expect(() => o.register(unknownDep)).toThrow(/step 'x' depends on unknown step 'ghost'/);
    const unknownPeer = base.step('y', { target: ref('nobody'), input: ({ input }) => input }).returns(() => ({ total: 0 }));
    expect(() => o.register(unknownPeer)).toThrow(/step 'y' names unknown peer 'nobody'/);
    expect(() => defineWorkflow({ type: 'Bad Type', version: '1.0.0', input: Input, output: Output })).toThrow(/kebab-case/);
  });
});
