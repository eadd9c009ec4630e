import { createSilentLogger, defineContract, ErrorCode, LifecycleStatus, NodeKind, NodeService, OnexError, type CallContext } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startNode } from './start-node.js';

const greeterContract = defineContract({
  name: 'greeter',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ name: z.string().min(1) }),
  output: z.object({ greeting: z.string() }),
});

class Greeter extends NodeService<typeof greeterContract.input, typeof greeterContract.output, typeof greeterContract.config> {
  initialized = 0;
  shutdowns = 0;
  readonly #failInit: boolean;

  constructor(options: { failInit?: boolean } = {}) {
    super(greeterContract, { logger: createSilentLogger() });
    this.#failInit = options.failInit ?? false;
  }

  protected override async onInitialize(): Promise<void> {
    if (this.#failInit) throw new OnexError(ErrorCode.Unavailable, 'no database');
    this.initialized += 1;
  }

  protected override async onShutdown(): Promise<void> {
    this.shutdowns += 1;
  }

  protected async process(input: { name: string }, _ctx: CallContext): Promise<{ greeting: string }> {
    return { greeting: `Hello ${input.name}` };
  }
}

describe('startNode', () => {
  it('initialises the node and answers an in-process client; close shuts it down, once', async () => {
    const started = await startNode(new Greeter());
    expect(started.node.status).toBe(LifecycleStatus.Ready);
    expect(started.node.initialized).toBe(1);
    expect(started.url).toBeUndefined();
    expect(await started.client.callOrThrow({ name: 'Ada' })).toEqual({ greeting: 'Hello Ada' });
    const refused = await started.client.call({ name: '' });
    expect(refused.ok ? undefined : refused.error.code).toBe(ErrorCode.Validation);

    await Promise.all([started.close(), started.close()]);
    await started.close();
    expect(started.node.status).toBe(LifecycleStatus.Stopped);
    expect(started.node.shutdowns).toBe(1);
    expect((await started.client.call({ name: 'Ada' })).ok).toBe(false);
  });

  it('serves on a free port of 127.0.0.1 with serve: true, and calls it over HTTP', async () => {
    const started = await startNode(new Greeter(), { serve: true, client: { timeoutMs: 5_000 } });
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(started.served.port).toBeGreaterThan(0);
    expect(await started.client.callOrThrow({ name: 'Grace' })).toEqual({ greeting: 'Hello Grace' });
    const health = await fetch(`${started.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ node: { name: 'greeter' }, lifecycle: 'ready' });

    await started.close();
    expect(started.node.status).toBe(LifecycleStatus.Stopped);
    expect(started.node.shutdowns).toBe(1);
    await expect(fetch(`${started.url}/health`)).rejects.toThrow();
  });

  it('takes serveNode options', async () => {
    await using started = await startNode(new Greeter(), { serve: { bodyLimitBytes: 64 } });
    const big = await fetch(`${started.url}/v1/process`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(200) }) });
    expect(big.status).toBe(413);
  });

  it('shuts the node down when an await using block ends, served or not', async () => {
    const inProcess = new Greeter();
    const served = new Greeter();
    {
      await using a = await startNode(inProcess);
      await using b = await startNode(served, { serve: true });
      expect((await a.client.call({ name: 'a' })).ok).toBe(true);
      expect((await b.client.call({ name: 'b' })).ok).toBe(true);
    }
    expect(inProcess.status).toBe(LifecycleStatus.Stopped);
    expect(served.status).toBe(LifecycleStatus.Stopped);
  });

  it('leaves the node running with shutdownNode: false', async () => {
    const node = new Greeter();
    const first = await startNode(node, { serve: true, shutdownNode: false });
    await first.close();
    expect(node.status).toBe(LifecycleStatus.Ready);
    // Served again (initialize is idempotent once ready), then shut down.
    const second = await startNode(node);
    expect(node.initialized).toBe(1);
    await second.close();
    expect(node.status).toBe(LifecycleStatus.Stopped);
  });

  it('types the client by a view of the node contract; over HTTP the view validates the answers', async () => {
    const adaOnly = defineContract({ name: 'greeter', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ name: z.string() }), output: z.object({ greeting: z.literal('Hello Ada') }) });
    await using inProcess = await startNode(new Greeter(), { contract: adaOnly });
    expect(inProcess.client.contract).toBe(adaOnly);
    expect(await inProcess.client.callOrThrow({ name: 'Ada' })).toEqual({ greeting: 'Hello Ada' });
    await using served = await startNode(new Greeter(), { serve: true, contract: adaOnly });
    expect(await served.client.callOrThrow({ name: 'Ada' })).toEqual({ greeting: 'Hello Ada' });
    expect(await served.client.call({ name: 'Bob' })).toMatchObject({ ok: false, error: { code: ErrorCode.Contract } });
  });

  it('rejects with the error of a node that fails to initialise', async () => {
    await expect(startNode(new Greeter({ failInit: true }))).rejects.toMatchObject({ code: ErrorCode.Unavailable, message: 'no database' });
    await expect(startNode(new Greeter({ failInit: true }), { serve: true })).rejects.toMatchObject({ code: ErrorCode.Unavailable });
  });
});
