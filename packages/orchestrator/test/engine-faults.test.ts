// Regression tests of the fault issue (issue 9): each `issue 9 #N` names the case of the issue it pins. They drive
// the engine through paths where a run stops without finishing: store failures, lost leases, crashes, shutdown.
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createInProcessClient,
  createLogger,
  createSilentLogger,
  ErrorCode,
  NodeService,
  OnexError,
  type CallContext,
  type NodeClient,
  type NodeContract,
} from '@onex/core';
import { onAbort } from '@onex/core/internal';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineWorkflow,
  MemoryWorkflowStore,
  Orchestrator,
  peer,
  StepStatus,
  WorkflowStatus,
  type AnyWorkflowDefinition,
  type OrchestratorOptions,
  type WorkflowRecord,
} from '../src/index.js';
import { SqliteWorkflowStore } from '../src/sqlite.js';
import { flaky } from './flaky-store.js';
import { peers, ScriptedPeer, stepContract } from './scripted-peer.js';

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number() });
const ref = (name: string) => peer(name, stepContract);
const FAST = { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 } as const;

const open: Orchestrator[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.shutdown().catch(() => undefined);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function orchestrator(clients: NonNullable<OrchestratorOptions['peers']>, workflows: AnyWorkflowDefinition[], extra: OrchestratorOptions = {}): Promise<Orchestrator> {
  const o = new Orchestrator({ workflows }, { store: new MemoryWorkflowStore(), peers: clients, logger: createSilentLogger(), ...extra });
  await o.initialize();
  open.push(o);
  return o;
}

function bounded(ms = 15_000): { signal: AbortSignal } {
  return { signal: AbortSignal.timeout(ms) };
}

/** A stored, unfinished workflow as a crashed instance leaves it. */
function leftBehind(overrides: Partial<WorkflowRecord> & Pick<WorkflowRecord, 'id' | 'type'>): WorkflowRecord {
  const now = Date.now();
  return {
    version: '1.0.0',
    status: WorkflowStatus.Running,
    input: { value: 1 },
    correlationId: 'c',
    createdAt: now - 1_000,
    updatedAt: now - 1_000,
    owner: 'crashed',
    leaseExpiresAt: now - 1,
    epoch: 1,
    steps: {},
    ...overrides,
  };
}

/**
 * A peer that counts the calls per idempotency key running at once, and holds each forward call (any value but the
 * compensations' 99) for `holdMs` or until the call is aborted.
 */
class KeyWatchPeer extends NodeService<typeof stepContract.input, typeof stepContract.output, typeof stepContract.config> {
  readonly label: string;
  holdMs: number;
  readonly active = new Map<string, number>();
  maxActivePerKey = 0;
  aborted = 0;
  calls = 0;
  constructor(label: string, holdMs: number) {
    super({ ...stepContract, name: label }, { logger: createSilentLogger(), defaultTimeoutMs: 60_000 });
    this.label = label;
    this.holdMs = holdMs;
  }
  protected async process(input: { value: number }, ctx: CallContext): Promise<{ value: number; by: string }> {
    if (input.value === 99) return { value: 100, by: this.label };
    this.calls += 1;
    const key = ctx.idempotencyKey ?? '-';
    const now = (this.active.get(key) ?? 0) + 1;
    this.active.set(key, now);
    this.maxActivePerKey = Math.max(this.maxActivePerKey, now);
    try {
      await new Promise<void>((resolve, reject) => {
        let stop = (): void => undefined;
        const timer = setTimeout(() => {
          stop();
          resolve();
        }, this.holdMs);
        stop = onAbort(ctx.signal, () => {
          this.aborted += 1;
          clearTimeout(timer);
          reject(new OnexError(ErrorCode.Cancelled, 'aborted'));
        });
      });
      return { value: input.value + 1, by: this.label };
    } finally {
      this.active.set(key, (this.active.get(key) ?? 1) - 1);
    }
  }
}

/** A client that answers every call with `answer`, counting the calls (a peer that misbehaves on the wire). */
function answering(answer: () => OnexError, calls: { n: number }): NodeClient<NodeContract> {
  return {
    contract: stepContract,
    call: async () => {
      calls.n += 1;
      return { ok: false, error: answer() };
    },
    callOrThrow: async () => {
      throw answer();
    },
    health: async () => {
      throw new OnexError(ErrorCode.Unavailable, 'not served');
    },
    metrics: async () => {
      throw new OnexError(ErrorCode.Unavailable, 'not served');
    },
    fetchContract: async () => {
      throw new OnexError(ErrorCode.Unavailable, 'not served');
    },
    close: async () => undefined,
  };
}

describe('issue 9 #1: compensation against an open breaker waits, parked, until the undo goes through', () => {
  it('parks instead of exhausting its attempts on CIRCUIT_OPEN, holds no run while parked, then compensates', async () => {
    // Forward calls with value 2 fail (the peer's charge path is down); the undo (value 99) is healthy.
    const pay = new ScriptedPeer('pay');
    const calls: number[] = [];
    const client = createInProcessClient(pay);
    await pay.initialize();
    const flakyPay: NodeClient<NodeContract> = {
      ...client,
      contract: stepContract,
      call: async (input, options) => {
        const value = (input as { value: number }).value;
        calls.push(value);
        if (value === 2) return { ok: false, error: new OnexError(ErrorCode.Unavailable, 'charge path down') };
        return client.call(input as { value: number }, options);
      },
    };
    const wf = defineWorkflow({ type: 'breaker-saga', version: '1.0.0', input: Input, output: Output })
      .step('reserve', { target: ref('pay'), input: () => ({ value: 1 }), retry: FAST, compensate: { target: ref('pay'), input: () => ({ value: 99 }), retry: FAST } })
      .step('charge', { target: ref('pay'), dependsOn: ['reserve'], input: () => ({ value: 2 }), retry: FAST })
      .returns(() => ({ total: 0 }));
    const o = await orchestrator({ pay: flakyPay }, [wf], { breakerDefaults: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 1_200 } });
    const id = await o.start(wf, { value: 0 });
    // Parked: the workflow holds no run here while its breaker is open.
    const figures = (): { running: number; compensationsParked: number; compensationsFailed: number } =>
      o.metrics().extra['workflows'] as { running: number; compensationsParked: number; compensationsFailed: number };
    await expect.poll(async () => typeof (await o.get(id)).wakeAt === 'number' && figures().running === 0, { timeout: 10_000 }).toBe(true);
    const outcome = await o.result(id, bounded());
    expect(outcome.status).toBe(WorkflowStatus.Compensated);
    const record = await o.get(id);
    expect(record.steps['reserve']).toMatchObject({ status: StepStatus.Compensated });
    expect(record.steps['reserve']!.compensationWaits).toBeGreaterThanOrEqual(1);
    // The undo reached the peer exactly once, after the breaker let a probe through.
    expect(pay.log.filter((l) => l.value === 99)).toHaveLength(1);
    expect(figures().compensationsParked).toBeGreaterThanOrEqual(1);
    expect(figures().compensationsFailed).toBe(0);
  });

  it('ends compensation_failed only on a definite refusal of the undo', async () => {
    const good = new ScriptedPeer('good');
    const bad = new ScriptedPeer('bad', { alwaysFail: ErrorCode.Validation });
    const refuse = { n: 0 };
    const wf = defineWorkflow({ type: 'refused-undo', version: '1.0.0', input: Input, output: Output })
      .step('reserve', { target: ref('good'), input: () => ({ value: 1 }), compensate: { target: ref('refuser'), input: () => ({ value: 99 }), retry: FAST } })
      .step('fail', { target: ref('bad'), dependsOn: ['reserve'], input: () => ({ value: 2 }), retry: { maxAttempts: 1 } })
      .returns(() => ({ total: 0 }));
    const clients = { ...(await peers(good, bad)), refuser: answering(() => new OnexError(ErrorCode.Validation, 'refund refused'), refuse) };
    const o = await orchestrator(clients, [wf]);
    const outcome = await o.result(await o.start(wf, { value: 0 }), bounded());
    expect(outcome.status).toBe(WorkflowStatus.CompensationFailed);
    const record = await o.get(outcome.id);
    expect(record.steps['reserve']).toMatchObject({ status: StepStatus.CompensationFailed, compensationError: { code: ErrorCode.Validation } });
    expect(refuse.n).toBe(1);
  });
});

describe('a resumed saga keeps the reason it stopped for', () => {
  const wf = defineWorkflow({ type: 'resumed-saga', version: '1.0.0', input: Input, output: Output, timeoutMs: 60_000 })
    .step('reserve', { target: ref('pay'), input: () => ({ value: 1 }), retry: FAST, compensate: { target: ref('pay'), input: () => ({ value: 99 }), retry: FAST } })
    .step('ship', { target: ref('pay'), dependsOn: ['reserve'], input: () => ({ value: 2 }), retry: FAST })
    .returns(() => ({ total: 0 }));

  // A step that failed with TIMEOUT (a signal wait, a peer past its step timeout) or CANCELLED names itself in the
  // workflow's error; only the workflow's own deadline and cancel do not. A run resumed mid-saga (parked on an open
  // breaker, taken over, restarted) must end as the first run would have: `compensated`, not `timed_out` (the demo
  // e2e test caught an order whose shipping wait timed out ending `timed_out` after its refund parked).
  for (const [code, step, status] of [
    [ErrorCode.Timeout, 'ship', WorkflowStatus.Compensated],
    [ErrorCode.Cancelled, 'ship', WorkflowStatus.Compensated],
    [ErrorCode.Timeout, undefined, WorkflowStatus.TimedOut],
    [ErrorCode.Cancelled, undefined, WorkflowStatus.Cancelled],
  ] as const) {
    it(`an error ${code}${step === undefined ? ' of the workflow' : ` of step ${step}`} resumes to ${status}`, async () => {
      const pay = new ScriptedPeer('pay');
      const store = new MemoryWorkflowStore();
      const now = Date.now();
      await store.create(
        leftBehind({
          id: 'w-saga',
          type: 'resumed-saga',
          status: WorkflowStatus.Compensating,
          deadlineAt: now + 60_000,
          error: { code, message: 'stopped', retryable: false, ...(step === undefined ? {} : { step, attempts: 1 }) },
          steps: {
            reserve: { name: 'reserve', status: StepStatus.Completed, attempts: 1, attemptErrors: [], input: { value: 1 }, output: { value: 1 }, completionSeq: 1 },
            ship: { name: 'ship', status: StepStatus.Failed, attempts: 1, attemptErrors: [{ code, message: 'stopped', retryable: false }], input: { value: 2 } },
          },
        }),
      );
      const o = await orchestrator(await peers(pay), [wf], { store });
      const outcome = await o.result('w-saga', bounded());
      expect(outcome.status).toBe(status);
      expect(pay.log.map((l) => l.value)).toEqual([99]);
    });
  }
});

describe('issue 9 #2: an attempt that may have reached the peer stays uncertain', () => {
  const wf = defineWorkflow({ type: 'uncertain', version: '1.0.0', input: Input, output: Output })
    .step('charge', { target: ref('pay'), input: ({ input }) => ({ value: input.value + Date.now() }), retry: FAST, compensate: { target: ref('refund'), input: () => ({ value: 99 }), retry: FAST } })
    .returns(() => ({ total: 0 }));

  it('counts an attempt a crash interrupted, so definite errors after the resume still compensate', async () => {
    const refund = new ScriptedPeer('refund');
    const refused = { n: 0 };
    const store = new MemoryWorkflowStore();
    // A crash during the first call: the step is `running`, with no recorded error.
    await store.create(leftBehind({ id: 'w-interrupted', type: 'uncertain', steps: { charge: { name: 'charge', status: StepStatus.Running, attempts: 1, attemptErrors: [], input: { value: 5 } } } }));
    const clients = { pay: answering(() => new OnexError(ErrorCode.CircuitOpen, 'open'), refused), ...(await peers(refund)) };
    const o = await orchestrator(clients, [wf], { store });
    const outcome = await o.result('w-interrupted', bounded());
    expect(outcome.status).toBe(WorkflowStatus.Compensated);
    const step = (await o.get('w-interrupted')).steps['charge']!;
    expect(step.attemptErrors[0]).toMatchObject({ code: ErrorCode.Unavailable, context: { interrupted: true } });
    expect(refund.log.map((l) => l.value)).toEqual([99]);
  });

  it('treats CONTRACT (the peer ran, its answer broke the schema) and idempotency CONFLICTs as possibly applied', async () => {
    for (const error of [
      new OnexError(ErrorCode.Contract, 'output does not match the contract'),
      new OnexError(ErrorCode.Conflict, 'running elsewhere', { retryable: false, context: { idempotency: 'in_progress' } }),
    ]) {
      const refund = new ScriptedPeer('refund');
      const o = await orchestrator({ pay: answering(() => error, { n: 0 }), ...(await peers(refund)) }, [wf]);
      const outcome = await o.result(await o.start(wf, { value: 1 }), bounded());
      expect(outcome.status, error.code).toBe(WorkflowStatus.Compensated);
      expect(refund.log).toHaveLength(1);
    }
  });

  it('a definite refusal on the only attempt is not compensated', async () => {
    const refund = new ScriptedPeer('refund');
    const o = await orchestrator({ pay: answering(() => new OnexError(ErrorCode.Validation, 'card refused'), { n: 0 }), ...(await peers(refund)) }, [wf]);
    const outcome = await o.result(await o.start(wf, { value: 1 }), bounded());
    expect(outcome.status).toBe(WorkflowStatus.Failed);
    expect(refund.log).toHaveLength(0);
  });

  it('persists the step input with its dispatch, and a resume sends that input, not a recomputed one', async () => {
    const pay = new ScriptedPeer('pay');
    const store = new MemoryWorkflowStore();
    await store.create(leftBehind({ id: 'w-input', type: 'uncertain', steps: { charge: { name: 'charge', status: StepStatus.Running, attempts: 1, attemptErrors: [], input: { value: 7 } } } }));
    const o = await orchestrator(await peers(pay, new ScriptedPeer('refund')), [wf], { store });
    expect((await o.result('w-input', bounded())).status).toBe(WorkflowStatus.Completed);
    expect(pay.log.map((l) => l.value)).toEqual([7]);
    // A fresh workflow's dispatch carries its input in the stored step record.
    const id = await o.start(wf, { value: 1 });
    await o.result(id, bounded());
    expect((await store.get(id))!.steps['charge']!.input).toEqual({ value: pay.log[1]!.value });
  });
});

describe('issue 9 #3: no workflow stays leased forever', () => {
  const single = defineWorkflow({ type: 'single', version: '1.0.0', input: Input, output: Output })
    .step('only', { target: ref('a'), input: ({ input }) => input, retry: FAST })
    .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));

  it('(a) a run stopped while the store is down is resumed, with backoff, once it answers again', async () => {
    const a = new ScriptedPeer('a');
    let down = true;
    const store = flaky(new MemoryWorkflowStore(), (method) => down && method !== 'create' && method !== 'nextWakeAt' && method !== 'claim');
    const o = await orchestrator(await peers(a), [single], { store: store.store, leaseMs: 600 });
    const id = await o.start(single, { value: 1 });
    // The first commit fails, the run stops; several resume attempts meet the store still down.
    await expect.poll(() => store.calls.get('release') ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    await expect.poll(() => store.failures, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    down = false;
    expect(await o.result(id, bounded())).toMatchObject({ status: WorkflowStatus.Completed, output: { total: 2 } });
  });

  it('(b) instances get unique ids by default, and a crashed replica\'s workflow is taken over', async () => {
    const slow = new KeyWatchPeer('a', 10_000);
    const shared = new MemoryWorkflowStore();
    let crashed = false;
    const aStore = flaky(shared, () => crashed);
    const clients = { a: createInProcessClient(slow) };
    await slow.initialize();
    const first = await orchestrator(clients, [single], { store: aStore.store, leaseMs: 600 });
    const second = await orchestrator(clients, [single], { store: shared, leaseMs: 600 });
    expect(first.instanceId).not.toBe(second.instanceId);
    const id = await first.start(single, { value: 1 });
    await expect.poll(() => slow.calls).toBe(1);
    // The first replica crashes: it writes nothing more, and nobody renews its lease.
    crashed = true;
    slow.holdMs = 0;
    expect(await second.result(id, bounded())).toMatchObject({ status: WorkflowStatus.Completed });
    expect((await shared.get(id))!.owner).toBe(second.instanceId);
  });

  it('(c) an instance claims only the types and versions it can run (rolling deploy)', async () => {
    const a = new ScriptedPeer('a');
    const v2 = defineWorkflow({ type: 'single', version: '2.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: (steps.only?.value ?? 0) * 100 }));
    const store = new MemoryWorkflowStore();
    await store.create(leftBehind({ id: 'w-v2', type: 'single', version: '2.0.0' }));
    const clients = await peers(a);
    const old = await orchestrator(clients, [single], { store, leaseMs: 600 });
    const upgraded = await orchestrator(clients, [single, v2], { store, leaseMs: 600 });
    expect(await upgraded.result('w-v2', bounded())).toMatchObject({ status: WorkflowStatus.Completed, output: { total: 200 } });
    expect((await store.get('w-v2'))!.owner).toBe(upgraded.instanceId);
    expect(old.metrics().extra['workflows']).toMatchObject({ recovered: 0 });
  });

  it('a recovery backlog larger than the room is taken in batches, every workflow ends, the queue stays bounded', async () => {
    const a = new ScriptedPeer('a', { delayMs: 5 });
    const store = new MemoryWorkflowStore();
    for (let i = 0; i < 12; i += 1) await store.create(leftBehind({ id: `w-backlog-${i}`, type: 'single' }));
    const o = await orchestrator(await peers(a), [single], { store, leaseMs: 600, maxConcurrentWorkflows: 2, maxQueuedWorkflows: 3 });
    let maxQueued = 0;
    const watch = setInterval(() => {
      maxQueued = Math.max(maxQueued, (o.metrics().extra['workflows'] as { queued: number }).queued);
    }, 1);
    const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => o.result(`w-backlog-${i}`, bounded())));
    clearInterval(watch);
    expect(outcomes.every((x) => x.status === WorkflowStatus.Completed)).toBe(true);
    expect(maxQueued).toBeLessThanOrEqual(3);
  });
});

describe('issue 9 #4: a store blip never becomes a step outcome', () => {
  it('a failed retry-bookkeeping commit stops the run, which resumes and sends the retry', async () => {
    const a = new ScriptedPeer('a', { failTimes: 1, failCode: ErrorCode.Unavailable });
    const wf = defineWorkflow({ type: 'blip', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input, retry: FAST, compensate: { target: ref('a'), input: () => ({ value: 99 }) } })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    // Commit #2 is the retry bookkeeping (attempts: 2) of the only step: it meets SQLITE_BUSY once.
    const store = flaky(new MemoryWorkflowStore(), (method, n) => method === 'commit' && n === 2);
    const o = await orchestrator(await peers(a), [wf], { store: store.store, leaseMs: 600 });
    const outcome = await o.result(await o.start(wf, { value: 1 }), bounded());
    expect(outcome).toMatchObject({ status: WorkflowStatus.Completed, output: { total: 2 } });
    expect(store.failures).toBe(1);
    expect(a.log.filter((l) => l.value === 99)).toHaveLength(0);
  });
});

describe('issue 9 #5: parent and child stay together', () => {
  const child = defineWorkflow({ type: 'child', version: '1.0.0', input: Input, output: Output })
    .step('work', { target: ref('c'), input: ({ input }) => input, retry: FAST, compensate: { target: ref('c'), input: () => ({ value: 99 }) } })
    .returns(({ steps }) => ({ total: steps.work?.value ?? 0 }));
  const parent = defineWorkflow({ type: 'parent', version: '1.0.0', input: Input, output: Output })
    .subworkflow('nested', { workflow: child, input: ({ input }) => input })
    .returns(({ steps }) => ({ total: steps.nested?.total ?? 0 }));

  it('a store failure in the child does not reject the parent: it waits for the child\'s durable outcome', async () => {
    const c = new ScriptedPeer('c', { delayMs: 20 });
    // The child's first commit after its creation fails once.
    let failed = false;
    const store = flaky(new MemoryWorkflowStore(), (method, _n, args) => {
      if (method !== 'commit' || failed || !String(args[0]).endsWith('.nested')) return false;
      failed = true;
      return true;
    });
    const o = await orchestrator(await peers(c), [parent], { store: store.store, leaseMs: 600 });
    const id = await o.start(parent, { value: 1 });
    expect(await o.result(id, bounded())).toMatchObject({ status: WorkflowStatus.Completed, output: { total: 2 } });
    expect(await o.result(`${id}.nested`, bounded())).toMatchObject({ status: WorkflowStatus.Completed });
    expect(c.log.filter((l) => l.value === 99)).toHaveLength(0);
  });

  it('cancelling a parent cancels its child', async () => {
    const c = new KeyWatchPeer('c', 10_000);
    await c.initialize();
    const o = await orchestrator({ c: createInProcessClient(c) }, [parent]);
    const id = await o.start(parent, { value: 1 });
    await expect.poll(() => c.calls).toBe(1);
    const outcome = await o.cancel(id, bounded());
    expect(outcome.status).toBe(WorkflowStatus.Cancelled);
    expect((await o.result(`${id}.nested`, bounded())).status).toBe(WorkflowStatus.Cancelled);
    expect(c.aborted).toBe(1);
  });
});

describe('issue 9 #6: cancel() and every commit stay behind the fence', () => {
  it('a stale instance\'s cancel never commits with an epoch it does not hold', async () => {
    const a = new KeyWatchPeer('a', 10_000);
    await a.initialize();
    const wf = defineWorkflow({ type: 'fenced', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const shared = new MemoryWorkflowStore();
    const stale = flaky(shared);
    // One slot: the second workflow waits in the stale instance's queue, held at epoch 1.
    const o = await orchestrator({ a: createInProcessClient(a) }, [wf], { store: stale.store, maxConcurrentWorkflows: 1, leaseMs: 60_000 });
    await o.start(wf, { value: 1 });
    const queued = await o.start(wf, { value: 2 });
    // Another instance takes it over (as after a lease expiry): epoch 2.
    const taken = await shared.claim({ owner: 'other', leaseMs: 60_000, now: Date.now() + 120_000, limit: 10, runnable: [{ type: 'fenced', version: '1.0.0' }] });
    expect(taken.map((r) => r.id)).toContain(queued);
    await o.cancel(queued, { signal: AbortSignal.timeout(2_000) }).catch((error: unknown) => error);
    // The stale instance had its write refused: nothing of its landed; the request is durable for the holder.
    expect(stale.commits.filter((c) => c.id === queued)).toEqual([]);
    expect(o.metrics().extra['workflows']).toMatchObject({ fencedWrites: 1 });
    const stored = (await shared.get(queued))!;
    expect(stored.status).not.toBe(WorkflowStatus.Cancelled);
    expect(stored.cancelRequested).toBe(true);
  });

  it('a finished workflow refuses commits', async () => {
    const a = new ScriptedPeer('a');
    const wf = defineWorkflow({ type: 'done', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const store = new MemoryWorkflowStore();
    const o = await orchestrator(await peers(a), [wf], { store });
    const outcome = await o.result(await o.start(wf, { value: 1 }), bounded());
    const record = (await store.get(outcome.id))!;
    await expect(store.commit(outcome.id, record.epoch, { workflow: { status: WorkflowStatus.Failed } })).rejects.toMatchObject({ code: ErrorCode.Conflict });
  });
});

describe('issue 9 #7: an instance that cannot prove its lease fences itself', () => {
  it('stops its runs before the lease can expire elsewhere: the same step key never runs on two instances at once', async () => {
    const a = new KeyWatchPeer('a', 4_000);
    await a.initialize();
    const wf = defineWorkflow({ type: 'self-fence', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input, timeoutMs: 20_000 })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    const shared = new MemoryWorkflowStore();
    let partitioned = false;
    const cut = flaky(shared, (method) => partitioned && method !== 'create');
    const clients = { a: createInProcessClient(a) };
    const first = await orchestrator(clients, [wf], { store: cut.store, leaseMs: 2_000 });
    const id = await first.start(wf, { value: 1 });
    await expect.poll(() => a.calls).toBe(1);
    partitioned = true;
    // Renewals fail: the first instance aborts its call, then a second instance takes over once the lease expired.
    await expect.poll(() => a.aborted, { timeout: 10_000 }).toBe(1);
    const health = await first.health();
    expect(health.components['lease']?.status).toBe('unhealthy');
    const second = await orchestrator(clients, [wf], { store: shared, leaseMs: 2_000 });
    expect(await second.result(id, bounded(20_000))).toMatchObject({ status: WorkflowStatus.Completed });
    expect(a.maxActivePerKey).toBe(1);
    expect(first.metrics().extra['workflows']).toMatchObject({ leaseLosses: 1 });
  }, 30_000);
});

describe('issue 9 #8: shutdown', () => {
  it('aborts the runs, waits for them, gives the leases up and closes the store: nothing is lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onex-shutdown-'));
    dirs.push(dir);
    const path = join(dir, 'wf.db');
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }) });
    const a = new KeyWatchPeer('a', 60_000);
    await a.initialize();
    const wf = defineWorkflow({ type: 'drain', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    const first = new Orchestrator({ workflows: [wf] }, { store: new SqliteWorkflowStore({ path }), peers: { a: createInProcessClient(a) }, logger, instanceId: 'first', leaseMs: 60_000 });
    await first.initialize();
    const ids = [await first.start(wf, { value: 1 }), await first.start(wf, { value: 2 })];
    await expect.poll(() => a.calls).toBe(2);
    await first.shutdown();
    expect(a.aborted).toBe(2);
    expect(lines.join('')).not.toMatch(/connection is not open|still unwinding|run stopped/);
    // Released: another instance takes them over at once (no lease to wait for), and they complete.
    const quick = new KeyWatchPeer('a', 0);
    await quick.initialize();
    const second = await orchestrator({ a: createInProcessClient(quick) }, [wf], { store: new SqliteWorkflowStore({ path }), instanceId: 'second', leaseMs: 60_000 });
    const outcomes = await Promise.all(ids.map((id) => second.result(id, bounded())));
    expect(outcomes.map((o) => o.status)).toEqual([WorkflowStatus.Completed, WorkflowStatus.Completed]);
  });

  it('a dispatch racing a shutdown on the memory store is no unhandled rejection', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => {
      rejections.push(reason);
    };
    process.on('unhandledRejection', onRejection);
    try {
      const a = new ScriptedPeer('a', { delayMs: 10 });
      const wf = defineWorkflow({ type: 'race', version: '1.0.0', input: Input, output: Output })
        .step('one', { target: ref('a'), input: ({ input }) => input })
        .step('two', { target: ref('a'), dependsOn: ['one'], input: ({ input }) => input })
        .returns(() => ({ total: 0 }));
      const o = new Orchestrator({ workflows: [wf] }, { store: new MemoryWorkflowStore(), peers: await peers(a), logger: createSilentLogger() });
      await o.initialize();
      for (let i = 0; i < 5; i += 1) await o.start(wf, { value: i });
      await o.shutdown();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});

describe('issue 9 #11: POST /v1/process does not turn the caller\'s timeout into the workflow\'s deadline', () => {
  it('a caller that stops waiting leaves the workflow running to completion, with no deadline stored', async () => {
    const a = new ScriptedPeer('a', { delayMs: 300 });
    const wf = defineWorkflow({ type: 'patient', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input, compensate: { target: ref('a'), input: () => ({ value: 99 }) } })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    const store = new MemoryWorkflowStore();
    const o = await orchestrator(await peers(a), [wf], { store });
    const client = createInProcessClient(o);
    const answer = await client.call({ type: 'patient', input: { value: 1 }, idempotencyKey: 'k-patient' }, { timeoutMs: 50 });
    expect(answer.ok).toBe(false);
    const [summary] = await o.list({ type: 'patient' });
    expect(summary?.deadlineAt).toBeUndefined();
    expect(await o.result(summary!.id, bounded())).toMatchObject({ status: WorkflowStatus.Completed, output: { total: 2 } });
    expect(a.log.filter((l) => l.value === 99)).toHaveLength(0);
  });
});
