import { defineContract, NodeKind, NodeService, type CallContext, type NodeClient } from '@onex/core';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { ScriptedPeer } from '../peer/scripted-peer.js';
import { startNode, type ServedTestNode, type StartedNode } from './start-node.js';

const contract = defineContract({
  name: 'greeter',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ name: z.string() }),
  output: z.object({ greeting: z.string() }),
});

class Greeter extends NodeService<typeof contract.input, typeof contract.output, typeof contract.config> {
  constructor() {
    super(contract);
  }

  protected async process(input: { name: string }, _ctx: CallContext): Promise<{ greeting: string }> {
    return { greeting: input.name };
  }
}

describe('startNode types', () => {
  it('types the client by the node contract', async () => {
    const started = await startNode(new Greeter());
    expectTypeOf(started).toEqualTypeOf<StartedNode<Greeter>>();
    expectTypeOf(started.node).toEqualTypeOf<Greeter>();
    expectTypeOf(started.client).toEqualTypeOf<NodeClient<typeof contract>>();
    expectTypeOf<Parameters<typeof started.client.callOrThrow>[0]>().toEqualTypeOf<{ name: string }>();
    expectTypeOf(started.client.callOrThrow({ name: 'Ada' })).resolves.toEqualTypeOf<{ greeting: string }>();
    expectTypeOf(started.url).toEqualTypeOf<string | undefined>();
    // @ts-expect-error the input schema says name is a string
    void started.client.call({ name: 42 });
  });

  it('answers a url (and the server) only when served', async () => {
    const served = await startNode(new Greeter(), { serve: true });
    expectTypeOf(served).toEqualTypeOf<ServedTestNode<Greeter>>();
    expectTypeOf(served.url).toEqualTypeOf<string>();
    const withOptions = await startNode(new Greeter(), { serve: { host: '127.0.0.1' } });
    expectTypeOf(withOptions.url).toEqualTypeOf<string>();
    const maybe = await startNode(new Greeter(), { serve: Math.random() > 0.5 });
    expectTypeOf(maybe.url).toEqualTypeOf<string | undefined>();
    // @ts-expect-error `served` exists only on a served node
    void maybe.served;
  });

  it('types the client by the contract option when one is given', async () => {
    const view = defineContract({ name: 'greeter', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ name: z.string() }), output: z.object({ greeting: z.literal('hi') }) });
    const started = await startNode(new Greeter(), { contract: view });
    expectTypeOf(started).toEqualTypeOf<StartedNode<Greeter, typeof view>>();
    expectTypeOf(started.client.callOrThrow({ name: 'Ada' })).resolves.toEqualTypeOf<{ greeting: 'hi' }>();
    const served = await startNode(new Greeter(), { serve: true, contract: view });
    expectTypeOf(served.url).toEqualTypeOf<string>();
    expectTypeOf(served.client).toEqualTypeOf<NodeClient<typeof view>>();
  });

  it('a scripted peer answers what its contract outputs, and gets what it takes', async () => {
    const peer = new ScriptedPeer(contract);
    expectTypeOf<Parameters<typeof peer.ok>[0]>().toEqualTypeOf<{ greeting: string }>();
    expectTypeOf(peer.calls[0]!.input).toEqualTypeOf<{ name: string }>();
    // @ts-expect-error not the contract's output
    peer.ok({ greeting: 1 });
    const started = await startNode(peer);
    expectTypeOf(started.client.callOrThrow({ name: 'Ada' })).resolves.toEqualTypeOf<{ greeting: string }>();
  });
});
