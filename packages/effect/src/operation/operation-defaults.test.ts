import Database from 'better-sqlite3';
import { CircuitBreakerRegistry, createSilentLogger, ErrorCode, OnexError } from '@onex/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineEffectNode } from '../node/define-effect-node.js';
import { NodeEffect } from '../node/node-effect.js';
import { SqliteTransactionManager, type SqliteTransaction } from '../transaction/sqlite-transaction-manager.js';
import { defineOperation, type OperationContext } from './effect-operation.js';

const logger = createSilentLogger();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started<T extends { initialize(): Promise<void>; shutdown(): Promise<void> }>(node: T): Promise<T> {
  await node.initialize();
  cleanups.push(() => node.shutdown());
  return node;
}

/** An operation that fails with a retryable error `failures` times, then answers; it counts its runs. */
function flaky<const TName extends string>(name: TName, failures: number, own: { retry?: { maxAttempts: number; initialDelayMs?: number }; timeoutMs?: number } = {}) {
  const runs = { n: 0 };
  const op = defineOperation({
    name,
    input: z.object({}),
    output: z.object({ run: z.int() }),
    ...own,
    run: async () => {
      runs.n++;
      if (runs.n <= failures) throw new OnexError(ErrorCode.Unavailable, 'down');
      return { run: runs.n };
    },
  });
  return { op, runs };
}

/** An operation that answers only when its signal aborts (so only a timeout ends it). */
function hanging<const TName extends string>(name: TName, own: { timeoutMs?: number } = {}) {
  return defineOperation({
    name,
    input: z.object({}),
    output: z.object({}),
    retry: { maxAttempts: 1 },
    ...own,
    run: (_input, ctx) => new Promise<Record<string, never>>((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error))),
  });
}

describe('defaults of an effect node definition', () => {
  it('gives every operation the default timeout unless it names its own', async () => {
    vi.useFakeTimers();
    const node = await started(
      new NodeEffect(defineEffectNode({ name: 'slow', version: '1.0.0', operations: [hanging('inherits'), hanging('own', { timeoutMs: 500 })], defaults: { timeoutMs: 100 } }), {
        logger,
      }),
    );
    const inherits = node.execute('inherits', {});
    const own = node.execute('own', {});
    let ownDone = false;
    void own.then(() => (ownDone = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(await inherits).toMatchObject({ ok: false, error: { code: ErrorCode.Timeout, context: { operation: 'inherits', timeoutMs: 100 } } });
    expect(ownDone).toBe(false);
    await vi.advanceTimersByTimeAsync(400);
    expect(await own).toMatchObject({ ok: false, error: { code: ErrorCode.Timeout, context: { operation: 'own', timeoutMs: 500 } } });
  });

  it("gives every operation the default retry policy; an operation's own replaces it whole", async () => {
    const inherits = flaky('inherits', 3);
    const own = flaky('own', 3, { retry: { maxAttempts: 2, initialDelayMs: 1 } });
    const node = await started(
      new NodeEffect(
        defineEffectNode({ name: 'retries', version: '1.0.0', operations: [inherits.op, own.op], defaults: { retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 2 } } }),
        { logger },
      ),
    );
    expect(await node.execute('inherits', {})).toEqual({ ok: true, value: { run: 4 } });
    expect(inherits.runs.n).toBe(4);
    // Its own policy: 2 attempts, not the default's 5 (nor a field-by-field merge of the two).
    expect(await node.execute('own', {})).toMatchObject({ ok: false, error: { code: ErrorCode.Unavailable } });
    expect(own.runs.n).toBe(2);
  });

  it('gives every operation the default breaker setting; an operation may name its own', async () => {
    const breakers = new CircuitBreakerRegistry();
    cleanups.push(() => breakers.shutdown());
    const plain = flaky('plain', 0);
    const guarded = defineOperation({ name: 'guarded', input: z.object({}), output: z.object({}), breaker: { volumeThreshold: 2 }, run: async () => ({}) });
    const node = await started(
      new NodeEffect(defineEffectNode({ name: 'breakers', version: '1.0.0', operations: [plain.op, guarded], defaults: { breaker: false } }), { logger, breakers }),
    );
    expect((await node.execute('plain', {})).ok).toBe(true);
    expect(breakers.states()).toEqual({ 'op:breakers:guarded': 'closed' });
    const health = await node.health();
    expect(Object.keys(health.components)).not.toContain('operation:plain');
    expect(health.components['operation:guarded']?.status).toBe('healthy');
  });
});

describe('interceptors of an effect node and its operations', () => {
  it('wrap every attempt: the default ones outermost, then the operation’s own, then invokeOperation and run', async () => {
    const seen: string[] = [];
    // Generic, so one interceptor fits the node's defaults and any one operation's own list.
    const mark =
      (label: string) =>
      async <TInput, TOutput>(input: TInput, ctx: OperationContext<unknown>, next: (input: TInput) => Promise<TOutput>): Promise<TOutput> => {
        seen.push(`${label}>${ctx.operation}#${ctx.attempt}`);
        const answer = await next(input);
        seen.push(`<${label}`);
        return answer;
      };
    const { op, runs } = flaky('send', 1, { retry: { maxAttempts: 2, initialDelayMs: 1 } });
    const withOwn = defineOperation({ ...op, interceptors: [mark('op')] });
    class Audited extends NodeEffect<readonly [typeof withOwn]> {
      protected override invokeOperation(...args: Parameters<NodeEffect<readonly [typeof withOwn]>['invokeOperation']>): Promise<unknown> {
        seen.push('invoke');
        return super.invokeOperation(...args);
      }
    }
    const definition = defineEffectNode({ name: 'audited', version: '1.0.0', operations: [withOwn], defaults: { interceptors: [mark('outer'), mark('inner')] } });
    const node = await started(new Audited(definition, { logger }));
    expect(await node.execute('send', {})).toEqual({ ok: true, value: { run: 2 } });
    expect(runs.n).toBe(2);
    expect(seen).toEqual([
      // The first attempt fails inside the chain: no interceptor sees an answer.
      'outer>send#1',
      'inner>send#1',
      'op>send#1',
      'invoke',
      // The retry runs the whole chain again, with its attempt number.
      'outer>send#2',
      'inner>send#2',
      'op>send#2',
      'invoke',
      '<op',
      '<inner',
      '<outer',
    ]);
  });

  it('may change the input or answer without calling next; what they answer is checked against the output schema', async () => {
    const runs: string[] = [];
    const greet = defineOperation({
      name: 'greet',
      input: z.object({ name: z.string() }),
      output: z.object({ greeting: z.string() }),
      interceptors: [
        async (input, _ctx, next) => {
          if (input.name === 'cached') return { greeting: 'hello from the cache' };
          if (input.name === 'broken') return { greeting: 42 } as unknown as { greeting: string };
          return next({ name: input.name.toUpperCase() });
        },
      ],
      run: async ({ name }) => {
        runs.push(name);
        return { greeting: `hello ${name}` };
      },
    });
    const node = await started(new NodeEffect(defineEffectNode({ name: 'greeter', version: '1.0.0', operations: [greet] }), { logger }));
    expect(await node.executeOrThrow('greet', { name: 'ada' })).toEqual({ greeting: 'hello ADA' });
    expect(await node.executeOrThrow('greet', { name: 'cached' })).toEqual({ greeting: 'hello from the cache' });
    expect(await node.execute('greet', { name: 'broken' })).toMatchObject({ ok: false, error: { code: ErrorCode.Contract } });
    expect(runs).toEqual(['ADA']);
  });

  it('run inside the transaction of a transactional operation, and their failure rolls it back', async () => {
    const db = new Database(':memory:');
    db.exec("CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0);");
    const transactions = new SqliteTransactionManager({ database: db });
    cleanups.push(() => db.close());
    const bump = defineOperation({
      name: 'bump',
      input: z.object({ refuse: z.boolean() }),
      output: z.object({ n: z.int() }),
      transactional: true,
      retry: { maxAttempts: 1 },
      interceptors: [
        async (input, ctx, next) => {
          const answer = await next(input);
          // The interceptor sees the open transaction, and the operation's write in it.
          const tx = ctx.tx as SqliteTransaction;
          expect(tx.active).toBe(true);
          expect(tx.get<{ n: number }>('SELECT n FROM counter')?.n).toBe(answer.n);
          if (input.refuse) throw new OnexError(ErrorCode.Validation, 'refused after the write');
          return answer;
        },
      ],
      run: async (_input, ctx: OperationContext<SqliteTransaction>) => {
        ctx.tx.run('UPDATE counter SET n = n + 1');
        return { n: ctx.tx.get<{ n: number }>('SELECT n FROM counter')?.n ?? -1 };
      },
    });
    const node = await started(new NodeEffect(defineEffectNode({ name: 'counter', version: '1.0.0', operations: [bump] }), { logger, transactions }));
    expect(await node.executeOrThrow('bump', { refuse: false })).toEqual({ n: 1 });
    expect(await node.execute('bump', { refuse: true })).toMatchObject({ ok: false, error: { code: ErrorCode.Validation } });
    expect(db.prepare('SELECT n FROM counter').get()).toEqual({ n: 1 });
  });

  it('are refused at definition time when they are not functions', () => {
    const ping = defineOperation({ name: 'ping', input: z.object({}), output: z.object({}), run: async () => ({}) });
    const notFunctions = ['nope'] as never;
    expect(() => defineOperation({ ...ping, interceptors: notFunctions })).toThrow(/interceptor must be a function/);
    expect(() => defineEffectNode({ name: 'pinger', version: '1.0.0', operations: [ping], defaults: { interceptors: notFunctions } })).toThrow(/interceptor must be a function/);
  });
});

describe('the definition is a value', () => {
  it('is frozen, and serves as many nodes as asked, each with its own options', async () => {
    const { op, runs } = flaky('send', 0);
    const definition = defineEffectNode({ name: 'mailer', version: '1.0.0', operations: [op], defaults: { timeoutMs: 1_000, interceptors: [] } });
    expect(Object.isFrozen(definition)).toBe(true);
    expect(Object.isFrozen(definition.operations)).toBe(true);
    expect(Object.isFrozen(definition.defaults)).toBe(true);
    const a = await started(new NodeEffect(definition, { logger }));
    const b = await started(new NodeEffect(definition, { logger }));
    expect(await a.execute('send', {}, { idempotencyKey: 'k' })).toEqual({ ok: true, value: { run: 1 } });
    // Its own (memory) store: the key means nothing to the other node.
    expect(await b.execute('send', {}, { idempotencyKey: 'k' })).toEqual({ ok: true, value: { run: 2 } });
    expect(runs.n).toBe(2);
    expect(a.definition).toBe(definition);
  });
});
