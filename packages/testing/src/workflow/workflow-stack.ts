import { createInProcessClient, createSilentLogger, NodeService, type AnyNodeService, type NodeClient, type NodeContract } from '@onex/core';
import {
  defineOrchestrator,
  MemoryWorkflowStore,
  Orchestrator,
  type AnyWorkflowDefinition,
  type OrchestratorOptions,
  type StartOptions,
  type WorkflowId,
  type WorkflowInputOf,
  type WorkflowOutcome,
  type WorkflowOutputOf,
  type WorkflowStore,
} from '@onex/orchestrator';

/**
 * A peer of a {@link WorkflowStack}: a node (the stack initialises it, calls it in-process and shuts it down), or a
 * client of one that runs elsewhere (left open: its owner closes it).
 *
 * @example
 * ```ts
 * const peers: Record<string, StackPeer> = { payments: new ScriptedPeer(paymentsContract).ok({ result: { chargeId: 'ch-1' } }) };
 * ```
 */
export type StackPeer = AnyNodeService | NodeClient<NodeContract>;

/**
 * Options of {@link startWorkflowStack}.
 *
 * @example
 * ```ts
 * const options: WorkflowStackOptions = { workflows: [checkoutWorkflow], peers: { payments } };
 * ```
 */
export interface WorkflowStackOptions {
  /** The workflow definitions to run (their nested workflows come along). */
  readonly workflows: readonly AnyWorkflowDefinition[];
  /** Peers by the names the workflows' steps give them (`peer('payments', …)` → `payments`). */
  readonly peers?: Readonly<Record<string, StackPeer>>;
  /** Where workflows are kept. Default a new `MemoryWorkflowStore`. The stack closes it. */
  readonly store?: WorkflowStore;
  /** Further orchestrator options (limits, lease, breakers, clock). Default logger: a silent one. */
  readonly orchestrator?: Omit<OrchestratorOptions, 'store' | 'peers'>;
}

/**
 * An orchestrator over a store and in-process peers, started by {@link startWorkflowStack} and stopped by one
 * `close()` (or by leaving an `await using` block).
 *
 * @example
 * ```ts
 * await using stack = await startWorkflowStack({ workflows: [checkoutWorkflow], peers: { payments } });
 * const outcome = await stack.run(checkoutWorkflow, { orderId: 'o-1' });
 * ```
 */
export interface WorkflowStack extends AsyncDisposable {
  /** The orchestrator, initialised: `start`, `result`, `get`, `list`, `cancel`, `stats`. */
  readonly orchestrator: Orchestrator;
  /** The store the orchestrator keeps its workflows in. */
  readonly store: WorkflowStore;
  /** Starts a workflow and answers its id (typed by the definition's output). */
  start<W extends AnyWorkflowDefinition>(workflow: W, input: WorkflowInputOf<W>, options?: StartOptions): Promise<WorkflowId<WorkflowOutputOf<W>>>;
  /** Starts a workflow and waits for its outcome: `output` typed by the definition once `status` is `completed`. */
  run<W extends AnyWorkflowDefinition>(workflow: W, input: WorkflowInputOf<W>, options?: StartOptions): Promise<WorkflowOutcome<WorkflowOutputOf<W>>>;
  /**
   * Shuts the orchestrator down (it stops its runs and closes the store), then the peer nodes the stack
   * initialised. Idempotent; `[Symbol.asyncDispose]` calls it.
   */
  close(): Promise<void>;
}

/**
 * Starts an in-process workflow stack in one call: a memory store (or the one given), the peers — nodes called
 * through core's in-process client, no ports — registered by name, and an orchestrator running `workflows`, all
 * initialised. For testing a workflow definition end to end; with {@link installFakeClock} its retries, backoffs and
 * deadlines run without waiting, and with {@link ScriptedPeer}s its peers fail or hang on cue.
 *
 * @throws OnexError when a peer or the orchestrator fails to initialise (what was started is stopped again).
 * @example
 * ```ts
 * import { ErrorCode } from '@onex/core';
 * import { ScriptedPeer, startWorkflowStack } from '@onex/testing';
 *
 * const payments = new ScriptedPeer(paymentsContract).fail(ErrorCode.Conflict, { message: 'card declined' });
 * await using stack = await startWorkflowStack({ workflows: [checkoutWorkflow], peers: { payments } });
 * const outcome = await stack.run(checkoutWorkflow, { orderId: 'o-1', cents: 500 });
 * console.log(outcome.status, outcome.error?.step); // 'compensated' 'charge'
 * ```
 */
export async function startWorkflowStack(options: WorkflowStackOptions): Promise<WorkflowStack> {
  const owned: AnyNodeService[] = [];
  const stopOwned = async (): Promise<void> => {
    await Promise.all(owned.splice(0).map((node) => node.shutdown()));
  };
  const clients: Record<string, NodeClient<NodeContract>> = {};
  const store = options.store ?? new MemoryWorkflowStore();
  let orchestrator: Orchestrator;
  try {
    for (const [name, peer] of Object.entries(options.peers ?? {})) {
      if (peer instanceof NodeService) {
        await peer.initialize();
        owned.push(peer);
        clients[name] = createInProcessClient(peer);
      } else {
        clients[name] = peer;
      }
    }
    orchestrator = new Orchestrator(defineOrchestrator({ workflows: options.workflows }), {
      logger: createSilentLogger(),
      ...options.orchestrator,
      store,
      peers: clients,
    });
    await orchestrator.initialize();
  } catch (error) {
    await store.close().catch(() => undefined);
    await stopOwned();
    throw error;
  }

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      try {
        await orchestrator.shutdown();
      } finally {
        await stopOwned();
      }
    })());
  const start = <W extends AnyWorkflowDefinition>(workflow: W, input: WorkflowInputOf<W>, startOptions?: StartOptions): Promise<WorkflowId<WorkflowOutputOf<W>>> =>
    orchestrator.start(workflow, input, startOptions);
  return {
    orchestrator,
    store,
    start,
    run: async (workflow, input, startOptions) => orchestrator.result(await start(workflow, input, startOptions)),
    close,
    [Symbol.asyncDispose]: close,
  };
}
