// A run's step signal is shared by every step call in flight. Invariant checked here: a workflow running as many
// parallel steps as `maxParallelSteps` allows makes Node print no "possible EventTarget memory leak" warning (each
// call listens to the run's signal while in flight: 16 parallel steps are 16+ listeners, past Node's default of 10).
import { createInProcessClient, createSilentLogger, NodeService, type CallContext } from '@onex/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeClient, serveNode, type ServedNode } from '@onex/core';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, WorkflowStatus } from '../src/index.js';
import { stepContract } from './scripted-peer.js';

const PARALLEL = 16;

/** Holds every call until `PARALLEL` of them are in flight at once, so the steps really overlap. */
class GatherPeer extends NodeService<typeof stepContract.input, typeof stepContract.output, typeof stepContract.config> {
  running = 0;
  maxRunning = 0;
  #waiting: (() => void)[] = [];
  constructor() {
    super({ ...stepContract, name: 'gather' }, { logger: createSilentLogger() });
  }
  protected async process(input: { value: number }, _ctx: CallContext): Promise<{ value: number; by: string }> {
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    if (this.running >= PARALLEL) for (const release of this.#waiting.splice(0)) release();
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.running -= 1;
    return { value: input.value + 1, by: 'gather' };
  }
}

let fanOut = defineWorkflow({ type: 'fan-out', version: '1.0.0', input: stepContract.input, output: stepContract.output });
for (let i = 0; i < PARALLEL; i += 1) fanOut = fanOut.step(`s${i}`, { target: peer('gather', stepContract), input: ({ input }) => input });
const workflow = fanOut.returns(({ input }) => ({ value: input.value, by: 'fan-out' }));

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function warningsDuring(run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (warning: Error): void => {
    seen.push(`${warning.name}: ${warning.message}`);
  };
  process.on('warning', onWarning);
  try {
    await run();
    // Warnings are emitted on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return seen.filter((w) => w.startsWith('MaxListenersExceededWarning'));
}

describe('parallel steps on one run signal', () => {
  for (const transport of ['in-process', 'http'] as const) {
    it(`runs ${PARALLEL} parallel steps (${transport}) without a listener-leak warning`, async () => {
      const node = new GatherPeer();
      let client;
      if (transport === 'http') {
        const served: ServedNode = await serveNode(node);
        closers.push(() => served.close());
        client = createNodeClient(served.url, stepContract);
        const opened = client;
        closers.push(() => opened.close());
      } else {
        await node.initialize();
        closers.push(() => node.shutdown());
        client = createInProcessClient(node);
      }
      const orchestrator = new Orchestrator({ workflows: [workflow] }, { store: new MemoryWorkflowStore(), peers: { gather: client }, logger: createSilentLogger(), maxParallelSteps: PARALLEL });
      await orchestrator.initialize();
      closers.push(() => orchestrator.shutdown());
      let status: string | undefined;
      const warnings = await warningsDuring(async () => {
        status = (await orchestrator.result(await orchestrator.start('fan-out', { value: 1 }))).status;
      });
      expect(status).toBe(WorkflowStatus.Completed);
      expect(node.maxRunning).toBe(PARALLEL);
      expect(warnings).toEqual([]);
    });
  }
});
