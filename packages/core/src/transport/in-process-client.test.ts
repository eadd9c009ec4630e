import { beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineContract, type NodeContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { createSilentLogger } from '../logging/logger.js';
import type { CallContext } from '../node/call-context.js';
import { NodeKind } from '../node/node-kind.js';
import { LifecycleStatus, NodeService, type NodeServiceOptions } from '../node/node-service.js';
import type { Result } from '../node/result.js';
import { RetryPolicy } from '../resilience/retry-policy.js';
import { createInProcessClient } from './in-process-client.js';
import type { NodeClient } from './node-client.js';

const contract = defineContract({
  name: 'local',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ text: z.string(), delayMs: z.number().int().min(0).default(0), failTimes: z.number().int().min(0).default(0), at: z.date().optional() }),
  output: z.object({
    text: z.string(),
    correlationId: z.string(),
    budgetMs: z.number().nullable(),
    idempotencyKey: z.string().nullable(),
    caller: z.string().nullable(),
    at: z.date().optional(),
  }),
});
type Contract = typeof contract;

class Local extends NodeService<Contract['input'], Contract['output'], Contract['config']> {
  readonly signals: AbortSignal[] = [];
  readonly keys: (string | undefined)[] = [];
  #failures = 0;

  constructor(options: NodeServiceOptions<Contract['config']> = {}) {
    super(contract, { logger: createSilentLogger(), ...options });
  }

  protected async process(input: z.output<Contract['input']>, ctx: CallContext): Promise<z.input<Contract['output']>> {
    this.signals.push(ctx.signal);
    this.keys.push(ctx.idempotencyKey);
    if (this.#failures < input.failTimes) {
      this.#failures += 1;
      throw new OnexError(ErrorCode.Unavailable, 'flaky dependency');
    }
    if (input.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, input.delayMs);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return {
      text: input.text,
      correlationId: ctx.correlationId,
      budgetMs: ctx.deadlineAt === undefined ? null : ctx.deadlineAt - Date.now(),
      idempotencyKey: ctx.idempotencyKey ?? null,
      caller: ctx.caller === undefined ? null : `${ctx.caller.kind ?? ''}/${ctx.caller.id}`,
      ...(input.at === undefined ? {} : { at: input.at }),
    };
  }
}

function expectError<T>(result: Result<T>): OnexError {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`);
  return result.error;
}

let node: Local;
let client: NodeClient<Contract>;

beforeEach(async () => {
  node = new Local();
  await node.initialize();
  client = createInProcessClient(node, { caller: { id: 'tests', kind: 'suite' } });
});

describe('createInProcessClient', () => {
  it('is a NodeClient of the node contract', () => {
    expectTypeOf(createInProcessClient(node)).toEqualTypeOf<NodeClient<NodeContract<Contract['input'], Contract['output'], Contract['config']>>>();
    expect(client.contract).toBe(contract);
  });

  it('calls the node with correlation id, caller, key and budget; objects pass as they are', async () => {
    const at = new Date('2024-01-01T00:00:00Z');
    const value = await client.callOrThrow({ text: 'hi', at }, { correlationId: 'corr-7', idempotencyKey: 'k-1', timeoutMs: 10_000 });
    expect(value).toMatchObject({ text: 'hi', correlationId: 'corr-7', idempotencyKey: 'k-1', caller: 'suite/tests' });
    expect(value.at).toBeInstanceOf(Date);
    // The caller's 10 s, not the 30 s default; bounds seconds apart, so a loaded machine cannot flake them.
    expect(value.budgetMs).toBeLessThanOrEqual(10_000);
    expect(value.budgetMs).toBeGreaterThan(0);
    const generated = await client.callOrThrow({ text: 'hi' });
    expect(generated.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.budgetMs).toBeGreaterThan(20_000);
  });

  it('times out at the deadline and aborts ctx.signal', async () => {
    const error = expectError(await client.call({ text: 'slow', delayMs: 5_000 }, { timeoutMs: 50, correlationId: 'slow-1' }));
    expect(error).toMatchObject({ code: ErrorCode.Timeout, retryable: true, correlationId: 'slow-1' });
    expect(node.signals.at(-1)?.aborted).toBe(true);
  });

  it("uses the client's deadline, not the node's shorter default", async () => {
    const hasty = new Local({ defaultTimeoutMs: 20 });
    await hasty.initialize();
    const patient = createInProcessClient(hasty, { timeoutMs: 2_000 });
    expect((await patient.call({ text: 'x', delayMs: 80 })).ok).toBe(true);
  });

  it('cancels on the caller signal', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    expect(expectError(await client.call({ text: 'slow', delayMs: 5_000 }, { signal: controller.signal })).code).toBe(ErrorCode.Cancelled);
  });

  it('returns validation errors with details, and throws them from callOrThrow', async () => {
    const error = expectError(await client.call({ text: 1 } as unknown as { text: string }));
    expect(error).toMatchObject({ code: ErrorCode.Validation });
    expect(error.details).toEqual([expect.objectContaining({ path: 'text' })]);
    await expect(client.callOrThrow({ text: 1 } as unknown as { text: string })).rejects.toBeInstanceOf(OnexError);
  });

  it('refuses ids that could not cross an HTTP hop, like the HTTP client', async () => {
    expect(expectError(await client.call({ text: 'x' }, { correlationId: 'two words' })).code).toBe(ErrorCode.Validation);
    expect(expectError(await client.call({ text: 'x' }, { caller: { id: 'a;b' } })).code).toBe(ErrorCode.Validation);
  });

  it('retries with the same idempotency key', async () => {
    const retrying = createInProcessClient(node, { retry: new RetryPolicy({ maxAttempts: 3, initialDelayMs: 1 }) });
    expect((await retrying.call({ text: 'flaky', failTimes: 2 }, { idempotencyKey: 'k-9' })).ok).toBe(true);
    expect(node.keys).toEqual(['k-9', 'k-9', 'k-9']);
  });

  it('reads health, metrics and contract; close() leaves the node running', async () => {
    await client.call({ text: 'x' });
    await expect(client.health()).resolves.toMatchObject({ status: 'healthy' });
    await expect(client.metrics()).resolves.toMatchObject({ calls: 1 });
    await expect(client.fetchContract()).resolves.toMatchObject({ name: 'local' });
    await client.close();
    expect(expectError(await client.call({ text: 'x' })).code).toBe(ErrorCode.Lifecycle);
    await expect(client.health()).rejects.toMatchObject({ code: ErrorCode.Lifecycle });
    expect(node.status).toBe(LifecycleStatus.Ready);
  });
});
