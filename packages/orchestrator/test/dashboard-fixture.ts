// What the dashboard tests run against: an orchestrator with a peer whose calls a test holds and releases, a peer
// that refuses compensations, and three workflow types (a held order, a long nap, a saga that cannot be undone).
import { createInProcessClient, createSilentLogger, ErrorCode, NodeService, OnexError, serveNode, type CallContext, type ServedNode } from '@onex/core';
import { onAbort } from '@onex/core/internal';
import { z } from 'zod';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, workflowRoutes, type DashboardOptions } from '../src/index.js';
import { ScriptedPeer, stepContract } from './scripted-peer.js';

/** A peer whose calls wait until the test releases them (or the call is aborted). */
export class GatePeer extends NodeService<typeof stepContract.input, typeof stepContract.output, typeof stepContract.config> {
  readonly #held = new Set<() => void>();
  readonly #arrivals: (() => void)[] = [];
  entered = 0;

  constructor(name: string) {
    super({ ...stepContract, name }, { logger: createSilentLogger(), defaultTimeoutMs: 600_000 });
  }

  /** Resolves once `n` calls in all have arrived. */
  async arrived(n: number): Promise<void> {
    while (this.entered < n) await new Promise<void>((resolve) => this.#arrivals.push(resolve));
  }

  /** Lets every held call answer. */
  release(): void {
    for (const go of [...this.#held]) go();
  }

  protected async process(input: { value: number }, ctx: CallContext): Promise<{ value: number; by: string }> {
    this.entered += 1;
    for (const notify of this.#arrivals.splice(0)) notify();
    await new Promise<void>((resolve, reject) => {
      const go = (): void => {
        this.#held.delete(go);
        stop();
        resolve();
      };
      const stop = onAbort(ctx.signal, () => {
        this.#held.delete(go);
        reject(new OnexError(ErrorCode.Cancelled, 'aborted'));
      });
      this.#held.add(go);
    });
    return { value: input.value + 1, by: this.name };
  }
}

const ref = (name: string) => peer(name, stepContract);

export const OrderInput = z.object({ value: z.number(), note: z.string().optional() });
const Total = z.object({ total: z.number() });

/** reserve (fast, undone by `undo`) → charge (held by the gate) → ship (fast). */
export const orderWorkflow = defineWorkflow({ type: 'order', version: '1.0.0', input: OrderInput, output: Total })
  .step('reserve', { target: ref('fast'), input: ({ input }) => ({ value: input.value }), compensate: { target: ref('undo'), input: ({ output }) => ({ value: output?.value ?? 0 }) } })
  .step('charge', { target: ref('gate'), dependsOn: ['reserve'], input: ({ steps }) => ({ value: steps.reserve.value }) })
  .step('ship', { target: ref('fast'), dependsOn: ['charge'], input: ({ steps }) => ({ value: steps.charge.value }) })
  .returns(({ steps }) => ({ total: steps.ship.value }));

/** One step, then a day's sleep: parked, `running` with a wake-up time. */
export const napWorkflow = defineWorkflow({ type: 'nap', version: '1.0.0', input: OrderInput, output: Total })
  .step('prepare', { target: ref('fast'), input: ({ input }) => ({ value: input.value }) })
  .sleep('nap', { dependsOn: ['prepare'], ms: 86_400_000 })
  .returns(({ steps }) => ({ total: steps.prepare.value }));

/** A step undone by a peer that refuses (for good): ends `compensation_failed`. */
export const brokenSagaWorkflow = defineWorkflow({ type: 'broken-saga', version: '1.0.0', input: OrderInput, output: Total })
  .step('book', { target: ref('fast'), input: ({ input }) => ({ value: input.value }), compensate: { target: ref('refuse'), input: ({ output }) => ({ value: output?.value ?? 0 }), retry: { maxAttempts: 1 } } })
  .step('pay', { target: ref('fail'), dependsOn: ['book'], input: ({ steps }) => ({ value: steps.book.value }), retry: { maxAttempts: 1 } })
  .returns(({ steps }) => ({ total: steps.pay.value }));

/** One step, then a wait for an `approved` signal whose payload names who approved. */
export const approvalWorkflow = defineWorkflow({ type: 'approval', version: '1.0.0', input: OrderInput, output: z.object({ by: z.string() }) })
  .step('prepare', { target: ref('fast'), input: ({ input }) => ({ value: input.value }) })
  .waitFor('approved', { dependsOn: ['prepare'], schema: z.object({ by: z.string() }) })
  .returns(({ steps }) => ({ by: steps.approved.payload.by }));

/** A served orchestrator with the dashboard, and its peers. */
export interface DashboardStack {
  readonly orchestrator: Orchestrator;
  readonly served: ServedNode;
  readonly gate: GatePeer;
  readonly refuse: ScriptedPeer;
  close(): Promise<void>;
}

/** Serves an orchestrator with its workflow routes and the dashboard on a free loopback port. */
export async function startDashboardStack(dashboard: DashboardOptions = {}): Promise<DashboardStack> {
  const fast = new ScriptedPeer('fast');
  const undo = new ScriptedPeer('undo');
  const refuse = new ScriptedPeer('refuse', { alwaysFail: ErrorCode.Validation });
  const fail = new ScriptedPeer('fail', { alwaysFail: ErrorCode.Validation });
  const gate = new GatePeer('gate');
  const nodes = [fast, undo, refuse, fail, gate];
  for (const node of nodes) await node.initialize();
  const orchestrator = new Orchestrator(
    { workflows: [orderWorkflow, napWorkflow, brokenSagaWorkflow, approvalWorkflow] },
    {
      store: new MemoryWorkflowStore(),
      logger: createSilentLogger(),
      peers: Object.fromEntries(nodes.map((n) => [n.name, createInProcessClient(n)])),
    },
  );
  const served = await serveNode(orchestrator, { configure: workflowRoutes(orchestrator, { dashboard }) });
  return {
    orchestrator,
    served,
    gate,
    refuse,
    async close() {
      gate.release();
      await served.close();
      for (const node of nodes) await node.shutdown();
    },
  };
}
