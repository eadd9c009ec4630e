import {
  createInProcessClient,
  createNodeClient,
  serveNode,
  type AnyNodeService,
  type NodeClient,
  type NodeContract,
  type NodeClientOptions,
  type ServedNode,
  type ServeNodeOptions,
} from '@onex/core';

/**
 * Options of {@link startNode}.
 *
 * @example
 * ```ts
 * const options: StartNodeOptions = { client: { timeoutMs: 500 }, shutdownNode: true };
 * ```
 */
export interface StartNodeOptions<C extends NodeContract = NodeContract> {
  /**
   * The contract the client is typed (and, over HTTP, validates answers) by: a typed view of the node's own, such as
   * one computation of a compute node (`computeContract(definition).computation(name)`) or one operation of an
   * effect node. Default: the node's contract.
   */
  readonly contract?: C;
  /**
   * Serve the node over HTTP with core's `serveNode` — on a free port of 127.0.0.1 unless `port`/`host` say otherwise
   * — and call it through an HTTP client (`createNodeClient`). Default false: an in-process client
   * (`createInProcessClient`), no port.
   */
  readonly serve?: boolean | Omit<ServeNodeOptions, 'shutdownNode'>;
  /** Options of the client: its call policy (timeout, retry, breaker, caller), and for HTTP its agent and limits. */
  readonly client?: NodeClientOptions;
  /** Whether `close()` shuts the node down. Default true: `startNode` initialised it. */
  readonly shutdownNode?: boolean;
}

/**
 * A node {@link startNode} brought up: the node, a typed client of it, and `close()` (also `await using`).
 *
 * @example
 * ```ts
 * await using started = await startNode(new Greeter());
 * const greeting = await started.client.callOrThrow({ name: 'Ada' });
 * ```
 */
export interface StartedNode<TNode extends AnyNodeService, C extends NodeContract = TNode['contract']> extends AsyncDisposable {
  /** The node, initialised. */
  readonly node: TNode;
  /** A client typed by the node's contract (or the `contract` option): in-process, or over HTTP when served. */
  readonly client: NodeClient<C>;
  /** The node's base URL when it is served (`http://127.0.0.1:<port>`), else undefined. */
  readonly url: string | undefined;
  /**
   * Closes the client, then the server when there is one (it drains in-flight calls), then shuts the node down
   * unless `shutdownNode: false`. Idempotent; `[Symbol.asyncDispose]` calls it.
   */
  close(): Promise<void>;
}

/**
 * A node {@link startNode} serves over HTTP: a {@link StartedNode} whose `url` is set.
 *
 * @example
 * ```ts
 * await using served = await startNode(new Greeter(), { serve: true });
 * const res = await fetch(`${served.url}/health`);
 * ```
 */
export interface ServedTestNode<TNode extends AnyNodeService, C extends NodeContract = TNode['contract']> extends StartedNode<TNode, C> {
  /** The node's base URL, `http://127.0.0.1:<port>` by default. */
  readonly url: string;
  /** The server, as `serveNode` answered it (its hono `app`, `port`). */
  readonly served: ServedNode;
}

/**
 * Brings a node up for a test in one call: `initialize()`, optionally serves it on a free port (core's
 * `serveNode`), and answers a client typed by its contract; `close()` — or leaving an `await using` block — closes the
 * client and the server and shuts the node down. Replaces the construct / `initialize()` / port-0 server /
 * `shutdown()` every node test would repeat. Works with any test runner (`node:test`, vitest, …).
 *
 * @throws OnexError the node's own error when it fails to initialise, or `UNAVAILABLE` when it cannot listen.
 * @example
 * ```ts
 * import { describe, it } from 'node:test';
 * import { strict as assert } from 'node:assert';
 * import { startNode } from '@onex/testing';
 *
 * describe('greeter', () => {
 *   it('greets over HTTP', async () => {
 *     await using greeter = await startNode(new Greeter(), { serve: true });
 *     assert.deepEqual(await greeter.client.callOrThrow({ name: 'Ada' }), { greeting: 'Hello Ada' });
 *   });
 * });
 * ```
 */
export function startNode<TNode extends AnyNodeService, C extends NodeContract = TNode['contract']>(
  node: TNode,
  options: StartNodeOptions<C> & { readonly serve: true | Omit<ServeNodeOptions, 'shutdownNode'> },
): Promise<ServedTestNode<TNode, C>>;
export function startNode<TNode extends AnyNodeService, C extends NodeContract = TNode['contract']>(node: TNode, options?: StartNodeOptions<C>): Promise<StartedNode<TNode, C>>;
export async function startNode<TNode extends AnyNodeService, C extends NodeContract>(node: TNode, options: StartNodeOptions<C> = {}): Promise<StartedNode<TNode, C>> {
  const shutdownNode = options.shutdownNode !== false;
  const serve = options.serve ?? false;
  // Without a `contract` option, C is the node's own contract (the overloads' default).
  const contract = (options.contract ?? node.contract) as C;
  if (serve === false) {
    await node.initialize();
    // In-process calls reach `node.handle`, which validates them against the node's own contract; `contract` (the
    // node's, or a typed view of it) only types them.
    const client: NodeClient<C> = { ...(createInProcessClient(node, options.client) as unknown as NodeClient<C>), contract };
    return lifecycle(node, client, undefined, async () => {
      if (shutdownNode) await node.shutdown();
    });
  }
  const served = await serveNode(node, { ...(serve === true ? {} : serve), shutdownNode });
  let client: NodeClient<C>;
  try {
    client = createNodeClient(served.url, contract, options.client);
  } catch (error) {
    await served.close();
    throw error;
  }
  const started = lifecycle(node, client, served.url, () => served.close());
  const servedNode: ServedTestNode<TNode, C> = { ...started, url: served.url, served };
  return servedNode;
}

function lifecycle<TNode extends AnyNodeService, C extends NodeContract>(
  node: TNode,
  client: NodeClient<C>,
  url: string | undefined,
  stop: () => Promise<void>,
): StartedNode<TNode, C> {
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      try {
        await client.close();
      } finally {
        await stop();
      }
    })());
  return { node, client, url, close, [Symbol.asyncDispose]: close };
}
