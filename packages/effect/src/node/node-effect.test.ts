import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CircuitBreakerRegistry, createInProcessClient, createSilentLogger, ErrorCode, OnexError } from '@onex/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineOperation, type OperationContext } from '../operation/effect-operation.js';
import { SqliteIdempotencyStore } from '../idempotency/sqlite-idempotency-store.js';
import { MemoryIdempotencyStore } from '../idempotency/memory-idempotency-store.js';
import { fingerprint } from '../idempotency/fingerprint.js';
import { SqliteTransactionManager, type SqliteTransaction } from '../transaction/sqlite-transaction-manager.js';
import type { AnyEffectOperation } from '../operation/effect-operation.js';
import { defineEffectNode } from './define-effect-node.js';
import { NodeEffect } from './node-effect.js';
import type { NodeEffectOptions } from './node-effect-options.js';

const logger = createSilentLogger();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function counterOp(options: { idempotent?: boolean; fail?: () => OnexError | undefined; delayMs?: number; retry?: { maxAttempts: number } } = {}) {
  const calls = { n: 0 };
  const op = defineOperation({
    name: 'send',
    input: z.object({ to: z.string() }),
    output: z.object({ id: z.number(), to: z.string() }),
    idempotent: options.idempotent ?? true,
    retry: { initialDelayMs: 1, maxDelayMs: 5, ...options.retry },
    run: async ({ to }) => {
      calls.n++;
      if (options.delayMs !== undefined) await sleep(options.delayMs);
      const failure = options.fail?.();
      if (failure !== undefined) throw failure;
      return { id: calls.n, to };
    },
  });
  return { op, calls };
}

/** A node from its definition and options written as one object (most tests here vary only a few of either). */
function effectNode<const TOps extends readonly AnyEffectOperation[]>(spec: { name: string; version: string; operations: TOps } & NodeEffectOptions): NodeEffect<TOps> {
  const { name, version, operations, ...options } = spec;
  return new NodeEffect(defineEffectNode({ name, version, operations }), options);
}

async function ready<T extends { initialize(): Promise<void>; shutdown(): Promise<void> }>(node: T): Promise<T> {
  await node.initialize();
  cleanups.push(() => node.shutdown());
  return node;
}

describe('NodeEffect idempotency', () => {
  it('runs an idempotent operation once for 50 concurrent calls with one key; all get the same result', async () => {
    const { op, calls } = counterOp({ delayMs: 20 });
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [op], logger }));
    const results = await Promise.all(Array.from({ length: 50 }, () => node.execute('send', { to: 'ada' }, { idempotencyKey: 'k-50' })));
    expect(calls.n).toBe(1);
    for (const r of results) expect(r).toEqual({ ok: true, value: { id: 1, to: 'ada' } });
    // A later repeat is answered from the store.
    expect(await node.execute('send', { to: 'ada' }, { idempotencyKey: 'k-50' })).toEqual({ ok: true, value: { id: 1, to: 'ada' } });
    expect(calls.n).toBe(1);
    const stats = node.stats().operations['send'];
    expect(stats?.calls).toBe(51);
    expect(stats?.dedupHits).toBe(50);
    expect(node.stats().idempotency).toEqual({ keysInFlight: 0, exactlyOnce: [] });
    // metrics().extra carries the same figures.
    expect(node.metrics().extra['operations']).toEqual(node.stats().operations);
  });

  it('replays a stored typed error without running again', async () => {
    const { op, calls } = counterOp({ fail: () => new OnexError(ErrorCode.NotFound, 'no such recipient', { context: { to: 'x' } }) });
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [op], logger }));
    const first = await node.execute('send', { to: 'x' }, { idempotencyKey: 'k-err' });
    const second = await node.execute('send', { to: 'x' }, { idempotencyKey: 'k-err', correlationId: 'second' });
    expect(calls.n).toBe(1);
    expect(first.ok || first.error.code).toBe(ErrorCode.NotFound);
    expect(second.ok).toBe(false);
    if (!second.ok) {
      expect(second.error.code).toBe(ErrorCode.NotFound);
      expect(second.error.message).toBe('no such recipient');
      expect(second.error.correlationId).toBe('second');
      expect(second.error.context['idempotentReplay']).toBe(true);
    }
  });

  it('does not store a retryable failure: a later call with the key runs again', async () => {
    let failing = true;
    const { op, calls } = counterOp({ retry: { maxAttempts: 1 }, fail: () => (failing ? new OnexError(ErrorCode.Unavailable, 'down') : undefined) });
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [op], logger }));
    expect((await node.execute('send', { to: 'a' }, { idempotencyKey: 'k-r' })).ok).toBe(false);
    failing = false;
    expect(await node.execute('send', { to: 'a' }, { idempotencyKey: 'k-r' })).toEqual({ ok: true, value: { id: 2, to: 'a' } });
    expect(calls.n).toBe(2);
  });

  it('refuses a key reused with a different input with CONFLICT, concurrently and afterwards', async () => {
    const { op, calls } = counterOp({ delayMs: 10 });
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [op], logger }));
    const [a, b] = await Promise.all([
      node.execute('send', { to: 'a' }, { idempotencyKey: 'k-c' }),
      node.execute('send', { to: 'b' }, { idempotencyKey: 'k-c' }),
    ]);
    expect(a.ok).toBe(true);
    expect(b.ok || b.error.code).toBe(ErrorCode.Conflict);
    const later = await node.execute('send', { to: 'b' }, { idempotencyKey: 'k-c' });
    expect(later.ok || later.error.code).toBe(ErrorCode.Conflict);
    expect(later.ok || later.error.retryable).toBe(false);
    expect(calls.n).toBe(1);
  });

  it('scopes keys by operation: the same key on two operations runs both', async () => {
    const { op } = counterOp();
    const other = defineOperation({ name: 'other', input: z.object({ to: z.string() }), output: z.string(), run: async ({ to }) => `other:${to}` });
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [op, other], logger }));
    expect((await node.execute('send', { to: 'a' }, { idempotencyKey: 'same' })).ok).toBe(true);
    expect(await node.execute('other', { to: 'a' }, { idempotencyKey: 'same' })).toEqual({ ok: true, value: 'other:a' });
  });

  it('answers a key held by another process with a retryable CONFLICT', async () => {
    const store = new MemoryIdempotencyStore();
    const { op } = counterOp();
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [op], logger, idempotencyStore: store }));
    store.begin('mailer:send:held', 'someone-else-s-fingerprint');
    const r = await node.execute('send', { to: 'a' }, { idempotencyKey: 'held' });
    expect(r.ok || r.error.code).toBe(ErrorCode.Conflict);
    // A different fingerprint on a live key is a plain mismatch; same fingerprint would be in_progress.
    const { fingerprint } = await import('../idempotency/fingerprint.js');
    store.begin('mailer:send:held2', fingerprint({ to: 'a' }));
    const held = await node.execute('send', { to: 'a' }, { idempotencyKey: 'held2' });
    expect(held.ok).toBe(false);
    if (!held.ok) {
      expect(held.error.code).toBe(ErrorCode.Conflict);
      expect(held.error.retryable).toBe(true);
      expect(held.error.retryAfterMs).toBeGreaterThan(0);
    }
  });
});

describe('NodeEffect idempotency: bounded store and shared results', () => {
  it('does not evict a slow key while maxEntries other keys arrive: its retry is answered from the store', async () => {
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const calls: string[] = [];
    const op = defineOperation({
      name: 'send',
      input: z.object({ to: z.string() }),
      output: z.object({ to: z.string(), n: z.number() }),
      run: async ({ to }) => {
        calls.push(to);
        if (to === 'slow') await gate;
        return { to, n: calls.length };
      },
    });
    const store = new MemoryIdempotencyStore({ maxEntries: 2 });
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [op], logger, idempotencyStore: store }));
    const slow = node.execute('send', { to: 'slow' }, { idempotencyKey: 'k-slow' });
    for (const key of ['k-1', 'k-2', 'k-3']) expect((await node.execute('send', { to: key }, { idempotencyKey: key })).ok).toBe(true);
    release();
    const first = await slow;
    expect(first).toEqual({ ok: true, value: { to: 'slow', n: 4 } });
    expect(await node.execute('send', { to: 'slow' }, { idempotencyKey: 'k-slow' })).toEqual(first);
    expect(calls.filter((to) => to === 'slow')).toHaveLength(1);
  });

  it('refuses a new key with a retryable OVERLOADED when every kept key is in progress', async () => {
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const op = defineOperation({
      name: 'wait',
      input: z.string(),
      output: z.string(),
      run: async (s) => {
        if (s === 'a') await gate;
        return s;
      },
    });
    const node = await ready(
      effectNode({ name: 'waiter', version: '1.0.0', operations: [op], logger, idempotencyStore: new MemoryIdempotencyStore({ maxEntries: 1, leaseMs: 5_000 }) }),
    );
    const holding = node.execute('wait', 'a', { idempotencyKey: 'k-a' });
    const refused = await node.execute('wait', 'b', { idempotencyKey: 'k-b' });
    release();
    expect(!refused.ok && refused.error).toMatchObject({ code: ErrorCode.Overloaded, retryable: true, retryAfterMs: 5_000 });
    expect(await holding).toEqual({ ok: true, value: 'a' });
  });

  it('replays a stored result through the output schema: a coerced date comes back as a Date', async () => {
    let runs = 0;
    const stamp = defineOperation({
      name: 'stamp',
      input: z.object({ id: z.string() }),
      output: z.object({ id: z.string(), at: z.coerce.date() }),
      run: async ({ id }) => {
        runs++;
        return { id, at: new Date('2024-05-01T12:00:00.000Z') };
      },
    });
    const node = await ready(effectNode({ name: 'clock', version: '1.0.0', operations: [stamp], logger }));
    const first = await node.executeOrThrow('stamp', { id: 'x' }, { idempotencyKey: 'k-date' });
    const replayed = await node.executeOrThrow('stamp', { id: 'x' }, { idempotencyKey: 'k-date' });
    expect(runs).toBe(1);
    expect(first.at).toBeInstanceOf(Date);
    expect(replayed.at).toBeInstanceOf(Date);
    expect(replayed).toEqual(first);
  });

  it('replays a result of undefined (stored as null) through a z.void() output', async () => {
    let runs = 0;
    const fire = defineOperation({
      name: 'fire',
      input: z.object({}),
      output: z.void(),
      run: async () => {
        runs++;
      },
    });
    const node = await ready(effectNode({ name: 'fire', version: '1.0.0', operations: [fire], logger }));
    expect(await node.execute('fire', {}, { idempotencyKey: 'k' })).toEqual({ ok: true, value: undefined });
    expect(await node.execute('fire', {}, { idempotencyKey: 'k' })).toEqual({ ok: true, value: undefined });
    expect(runs).toBe(1);
  });

  it('answers CONTRACT when a stored result no longer fits the output schema', async () => {
    const strict = defineOperation({
      name: 'strict',
      input: z.object({}),
      output: z.object({ at: z.date() }), // cannot read back its own JSON form (a string)
      run: async () => ({ at: new Date(0) }),
    });
    const node = await ready(effectNode({ name: 'strict', version: '1.0.0', operations: [strict], logger }));
    expect((await node.execute('strict', {}, { idempotencyKey: 'k' })).ok).toBe(true);
    const replayed = await node.execute('strict', {}, { idempotencyKey: 'k' });
    expect(!replayed.ok && replayed.error).toMatchObject({ code: ErrorCode.Contract, context: { operation: 'strict', idempotentReplay: true } });
  });

  it('hands concurrent callers of one key the same deep-frozen result', async () => {
    const listed = defineOperation({
      name: 'listed',
      input: z.object({ to: z.string() }),
      output: z.object({ to: z.string(), tags: z.array(z.string()) }),
      run: async ({ to }) => {
        await sleep(10);
        return { to, tags: ['a'] };
      },
    });
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [listed], logger }));
    const [a, b] = await Promise.all([
      node.executeOrThrow('listed', { to: 'ada' }, { idempotencyKey: 'k-frozen' }),
      node.executeOrThrow('listed', { to: 'ada' }, { idempotencyKey: 'k-frozen' }),
    ]);
    expect(b).toBe(a);
    expect(Object.isFrozen(b)).toBe(true);
    expect(Object.isFrozen(b.tags)).toBe(true);
    expect(() => b.tags.push('leaked')).toThrow(TypeError);
    expect(a.tags).toEqual(['a']);
  });
});

describe('NodeEffect retries, timeouts, breakers', () => {
  it('does not retry a failing non-idempotent operation called without a key', async () => {
    const { op, calls } = counterOp({ idempotent: false, retry: { maxAttempts: 5 }, fail: () => new OnexError(ErrorCode.Unavailable, 'down') });
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [op], logger }));
    const r = await node.execute('send', { to: 'a' });
    expect(r.ok || r.error.code).toBe(ErrorCode.Unavailable);
    expect(calls.n).toBe(1);
  });

  it('retries a non-idempotent operation when the call carries a key', async () => {
    let n = 0;
    const { op, calls } = counterOp({ idempotent: false, retry: { maxAttempts: 5 }, fail: () => (++n < 3 ? new OnexError(ErrorCode.Unavailable, 'down') : undefined) });
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [op], logger }));
    expect((await node.execute('send', { to: 'a' }, { idempotencyKey: 'k' })).ok).toBe(true);
    expect(calls.n).toBe(3);
  });

  it('retries an idempotent operation on a retryable failure, not on a typed one', async () => {
    let n = 0;
    const { op, calls } = counterOp({ retry: { maxAttempts: 4 }, fail: () => (++n < 3 ? new OnexError(ErrorCode.Unavailable, 'down') : undefined) });
    const node = await ready(effectNode({ name: 'mailer', version: '1.0.0', operations: [op], logger }));
    expect(await node.execute('send', { to: 'a' })).toEqual({ ok: true, value: { id: 3, to: 'a' } });
    expect(calls.n).toBe(3);
    expect((node.metrics().extra['operations'] as Record<string, { retries: number }>)['send']?.retries).toBe(2);

    const typed = counterOp({ retry: { maxAttempts: 4 }, fail: () => new OnexError(ErrorCode.Validation, 'bad address') });
    const node2 = await ready(effectNode({ name: 'mailer-2', version: '1.0.0', operations: [typed.op], logger }));
    expect((await node2.execute('send', { to: 'a' })).ok).toBe(false);
    expect(typed.calls.n).toBe(1);
  });

  it('aborts the signal handed to run at the operation timeout, even when run ignores it', async () => {
    const seen: { aborted: boolean; reason: unknown }[] = [];
    const slow = defineOperation({
      name: 'slow',
      input: z.object({ ignoreSignal: z.boolean() }),
      output: z.object({ done: z.boolean() }),
      timeoutMs: 30,
      retry: { maxAttempts: 1 },
      run: async ({ ignoreSignal }, ctx) => {
        await new Promise<void>((resolve) => {
          // Far longer than any bound below: the call must end at its 30 ms timeout, not when this settles.
          const timer = setTimeout(resolve, 60_000);
          timer.unref();
          if (!ignoreSignal) {
            ctx.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              resolve();
            });
          }
        });
        seen.push({ aborted: ctx.signal.aborted, reason: ctx.signal.reason });
        return { done: true };
      },
    });
    const node = await ready(effectNode({ name: 'slow', version: '1.0.0', operations: [slow], logger }));
    const started = Date.now();
    const r = await node.execute('slow', { ignoreSignal: false });
    expect(r.ok || r.error.code).toBe(ErrorCode.Timeout);
    expect(seen[0]?.aborted).toBe(true);
    expect((seen[0]?.reason as OnexError).code).toBe(ErrorCode.Timeout);
    const ignoring = await node.execute('slow', { ignoreSignal: true });
    expect(ignoring.ok || ignoring.error.code).toBe(ErrorCode.Timeout);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((node.metrics().extra['operations'] as Record<string, { timeouts: number }>)['slow']?.timeouts).toBe(2);
  });

  it('opens the breaker of one operation without touching the others', async () => {
    const breakers = new CircuitBreakerRegistry();
    cleanups.push(() => breakers.shutdown());
    const flaky = defineOperation({
      name: 'flaky',
      input: z.object({}),
      output: z.object({}),
      retry: { maxAttempts: 1 },
      breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
      run: async () => {
        throw new OnexError(ErrorCode.Unavailable, 'down');
      },
    });
    const fine = defineOperation({ name: 'fine', input: z.object({}), output: z.object({ ok: z.boolean() }), run: async () => ({ ok: true }) });
    const node = await ready(effectNode({ name: 'mixed', version: '1.0.0', operations: [flaky, fine], logger, breakers }));
    for (let i = 0; i < 4; i++) await node.execute('flaky', {});
    const r = await node.execute('flaky', {});
    expect(r.ok || r.error.code).toBe(ErrorCode.CircuitOpen);
    expect(await node.execute('fine', {})).toEqual({ ok: true, value: { ok: true } });
    expect(breakers.states()).toEqual({ 'op:mixed:flaky': 'open', 'op:mixed:fine': 'closed' });
    const health = await node.health();
    expect(health.status).toBe('degraded');
    expect(health.components['operation:flaky']?.status).toBe('degraded');
    expect(health.components['operation:fine']?.status).toBe('healthy');
    expect((node.metrics().extra['operations'] as Record<string, { breaker: string }>)['flaky']?.breaker).toBe('open');
  });

  it('validates the operation output and rejects unknown operations', async () => {
    const liar = defineOperation({ name: 'liar', input: z.object({}), output: z.object({ n: z.number() }), run: async () => ({ n: 'x' as unknown as number }) });
    const node = await ready(effectNode({ name: 'liar', version: '1.0.0', operations: [liar], logger }));
    const r = await node.execute('liar', {});
    expect(r.ok || r.error.code).toBe(ErrorCode.Contract);
    const unknownOp = await node.handle({ operation: 'nope', input: {} });
    expect(unknownOp.ok || unknownOp.error.code).toBe(ErrorCode.Validation);
    const badInput = await node.handle({ operation: 'liar', input: 5 });
    expect(badInput.ok || badInput.error.code).toBe(ErrorCode.Validation);
  });

  it('refuses invalid definitions', () => {
    const { op } = counterOp();
    expect(() => defineEffectNode({ name: 'dup', version: '1.0.0', operations: [op, op] })).toThrow(/twice/);
    expect(() => new NodeEffect({ name: 'dup', version: '1.0.0', operations: [op, op] })).toThrow(/twice/);
    expect(() => defineEffectNode({ name: 'Not Kebab', version: '1.0.0', operations: [op] })).toThrow(/kebab-case/);
    expect(() => defineEffectNode({ name: 'none', version: '1.0.0', operations: [] })).toThrow(/no operation/);
    expect(() => defineEffectNode({ name: 'slow', version: '1.0.0', operations: [op], defaults: { timeoutMs: 0 } })).toThrow(/defaults.timeoutMs/);
    expect(() => new NodeEffect({ name: 'slow', version: '1.0.0', operations: [op], defaults: { timeoutMs: -1 } })).toThrow(/defaults.timeoutMs/);
    expect(() => defineEffectNode({ name: 'retry', version: '1.0.0', operations: [op], defaults: { retry: { maxAttempts: 0 } } })).toThrow(/defaults.retry/);
    const tx = defineOperation({ name: 'tx', input: z.object({}), output: z.object({}), transactional: true, run: async () => ({}) });
    const notx = defineEffectNode({ name: 'notx', version: '1.0.0', operations: [tx] }); // a definition needs no manager…
    expect(() => new NodeEffect(notx)).toThrow(/transaction manager/); // …the node does
    expect(() => defineOperation({ name: 'bad:name', input: z.object({}), output: z.object({}), run: async () => ({}) })).toThrow(/Invalid operation name/);
  });
});

describe('NodeEffect transactions', () => {
  function ledger() {
    const dir = mkdtempSync(join(tmpdir(), 'onex-effect-'));
    const db = new Database(join(dir, 'ledger.db'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL); INSERT INTO accounts VALUES (\'a\', 100), (\'b\', 0);');
    const transactions = new SqliteTransactionManager({ database: db });
    cleanups.push(() => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const balances = () => Object.fromEntries((db.prepare('SELECT id, balance FROM accounts ORDER BY id').all() as { id: string; balance: number }[]).map((r) => [r.id, r.balance]));
    return { db, transactions, balances, dir };
  }

  const transfer = (runs: { n: number }, behaviour: { delayMs?: number; failAfterDebit?: boolean; timeoutMs?: number }) =>
    defineOperation({
      name: 'transfer',
      input: z.object({ from: z.string(), to: z.string(), amount: z.number().int().positive() }),
      output: z.object({ from: z.number(), to: z.number() }),
      transactional: true,
      retry: { maxAttempts: 1 },
      ...(behaviour.timeoutMs === undefined ? {} : { timeoutMs: behaviour.timeoutMs }),
      run: async ({ from, to, amount }, ctx: OperationContext<SqliteTransaction>) => {
        runs.n++;
        ctx.tx.run('UPDATE accounts SET balance = balance - ? WHERE id = ?', amount, from);
        if (behaviour.delayMs !== undefined) await sleep(behaviour.delayMs);
        if (behaviour.failAfterDebit === true) throw new OnexError(ErrorCode.Validation, 'insufficient funds');
        ctx.tx.run('UPDATE accounts SET balance = balance + ? WHERE id = ?', amount, to);
        const get = (id: string) => ctx.tx.get<{ balance: number }>('SELECT balance FROM accounts WHERE id = ?', id)?.balance ?? 0;
        return { from: get(from), to: get(to) };
      },
    });

  it('commits on success', async () => {
    const { transactions, balances } = ledger();
    const runs = { n: 0 };
    const node = await ready(effectNode({ name: 'ledger', version: '1.0.0', operations: [transfer(runs, {})], transactions, logger }));
    expect(await node.execute('transfer', { from: 'a', to: 'b', amount: 10 })).toEqual({ ok: true, value: { from: 90, to: 10 } });
    expect(balances()).toEqual({ a: 90, b: 10 });
  });

  it('rolls back on error: the database is unchanged', async () => {
    const { transactions, balances } = ledger();
    const runs = { n: 0 };
    const node = await ready(effectNode({ name: 'ledger', version: '1.0.0', operations: [transfer(runs, { failAfterDebit: true })], transactions, logger }));
    const r = await node.execute('transfer', { from: 'a', to: 'b', amount: 10 });
    expect(r.ok || r.error.code).toBe(ErrorCode.Validation);
    expect(balances()).toEqual({ a: 100, b: 0 });
    expect(transactions.stats().rolledBack).toBe(1);
  });

  it('rolls back on timeout: the database is unchanged, and the next transaction runs normally', async () => {
    const { transactions, balances } = ledger();
    const runs = { n: 0 };
    const node = await ready(effectNode({ name: 'ledger', version: '1.0.0', operations: [transfer(runs, { delayMs: 200, timeoutMs: 30 })], transactions, logger }));
    const r = await node.execute('transfer', { from: 'a', to: 'b', amount: 10 });
    expect(r.ok || r.error.code).toBe(ErrorCode.Timeout);
    expect(balances()).toEqual({ a: 100, b: 0 });
    await sleep(250); // the abandoned run wakes up: its handle is dead, it cannot write outside the transaction
    expect(balances()).toEqual({ a: 100, b: 0 });
    expect(transactions.stats()).toMatchObject({ rolledBack: 1, timedOut: 1, committed: 0 });
  });

  it('exactly-once: the completion commits with the effect when store and transactions share the connection', async () => {
    const { db, transactions, balances, dir } = ledger();
    const store = new SqliteIdempotencyStore({ transactions });
    const runs = { n: 0 };
    const node = await ready(
      effectNode({ name: 'ledger', version: '1.0.0', operations: [transfer(runs, {})], transactions, idempotencyStore: store, logger }),
    );
    expect(node.exactlyOnceOperations).toEqual(['transfer']);
    const results = await Promise.all(Array.from({ length: 20 }, () => node.execute('transfer', { from: 'a', to: 'b', amount: 10 }, { idempotencyKey: 'wf-1:pay' })));
    for (const r of results) expect(r).toEqual({ ok: true, value: { from: 90, to: 10 } });
    expect(runs.n).toBe(1);
    expect(balances()).toEqual({ a: 90, b: 10 });
    const row = db.prepare('SELECT status, result FROM onex_idempotency WHERE key = ?').get('ledger:transfer:wf-1:pay') as { status: string; result: string };
    expect(row.status).toBe('completed');
    expect(JSON.parse(row.result)).toEqual({ from: 90, to: 10 });

    // A restarted node on the reopened file never runs the completed key again.
    await node.shutdown();
    db.close();
    const reopened = new Database(join(dir, 'ledger.db'));
    cleanups.push(() => reopened.close());
    const transactions2 = new SqliteTransactionManager({ database: reopened });
    const runs2 = { n: 0 };
    const node2 = await ready(
      effectNode({
        name: 'ledger',
        version: '1.0.0',
        operations: [transfer(runs2, {})],
        transactions: transactions2,
        idempotencyStore: new SqliteIdempotencyStore({ transactions: transactions2 }),
        logger,
      }),
    );
    expect(await node2.execute('transfer', { from: 'a', to: 'b', amount: 10 }, { idempotencyKey: 'wf-1:pay' })).toEqual({ ok: true, value: { from: 90, to: 10 } });
    expect(runs2.n).toBe(0);
  });

  it('a rolled-back keyed transaction releases its key only for retryable failures', async () => {
    const { transactions, balances } = ledger();
    const store = new SqliteIdempotencyStore({ transactions });
    const runs = { n: 0 };
    const node = await ready(
      effectNode({ name: 'ledger', version: '1.0.0', operations: [transfer(runs, { delayMs: 100, timeoutMs: 20 })], transactions, idempotencyStore: store, logger }),
    );
    const r = await node.execute('transfer', { from: 'a', to: 'b', amount: 10 }, { idempotencyKey: 'k-timeout' });
    expect(r.ok || r.error.code).toBe(ErrorCode.Timeout);
    expect(balances()).toEqual({ a: 100, b: 0 });
    expect(await store.begin('ledger:transfer:k-timeout', 'x')).toMatchObject({ kind: 'started' });
  });
});

/** A promise that settles when the test says so. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void; fail: (error: unknown) => void } {
  let open!: (value: T) => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

describe('issue 9 #9: a keyed run holds its key until the operation settles', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** An operation that ignores its signal and settles only when the test opens its gate. */
  function stubborn() {
    const effects = { n: 0, signals: [] as AbortSignal[] };
    let current = gate<{ charged: number }>();
    const op = defineOperation({
      name: 'charge',
      input: z.object({ amount: z.number() }),
      output: z.object({ charged: z.number() }),
      timeoutMs: 100,
      retry: { maxAttempts: 1 },
      run: async (_input, ctx) => {
        effects.n++;
        effects.signals.push(ctx.signal);
        return current.promise;
      },
    });
    return { op, effects, settle: () => current, reset: () => (current = gate()) };
  }

  it('a retry after the TIMEOUT does not run the operation again while it still runs: it waits and replays; another process gets in-progress', async () => {
    vi.useFakeTimers();
    const { op, effects, settle } = stubborn();
    const store = new MemoryIdempotencyStore({ leaseMs: 300 });
    const node = await ready(effectNode({ name: 'pay', version: '1.0.0', operations: [op], logger, idempotencyStore: store }));
    // The same store seen from a second node: another process sharing the key space.
    const other = await ready(effectNode({ name: 'pay', version: '1.0.0', operations: [op], logger, idempotencyStore: store }));

    const first = node.execute('charge', { amount: 5 }, { idempotencyKey: 'order-1' });
    await vi.advanceTimersByTimeAsync(100);
    const timedOut = await first;
    expect(!timedOut.ok && timedOut.error.code).toBe(ErrorCode.Timeout);
    expect(effects.signals[0]?.aborted).toBe(true);

    // Far past the lease: only the renewals keep the key, because the operation still runs.
    await vi.advanceTimersByTimeAsync(1_000);
    const retry = node.execute('charge', { amount: 5 }, { idempotencyKey: 'order-1' });
    const elsewhere = await other.execute('charge', { amount: 5 }, { idempotencyKey: 'order-1' });
    expect(!elsewhere.ok && elsewhere.error).toMatchObject({ code: ErrorCode.Conflict, retryable: true });
    expect(store.begin('pay:charge:order-1', fingerprint({ amount: 5 })).kind).toBe('in_progress');
    await vi.advanceTimersByTimeAsync(50);
    expect(effects.n).toBe(1);

    settle().open({ charged: 5 }); // the abandoned operation finishes after all: its result is recorded
    expect(await retry).toEqual({ ok: true, value: { charged: 5 } });
    expect(await other.execute('charge', { amount: 5 }, { idempotencyKey: 'order-1' })).toEqual({ ok: true, value: { charged: 5 } });
    expect(effects.n).toBe(1);
  });

  it('releases the key only once a timed-out operation has failed: the waiting retry then runs', async () => {
    vi.useFakeTimers();
    const { op, effects, settle, reset } = stubborn();
    const node = await ready(effectNode({ name: 'pay', version: '1.0.0', operations: [op], logger, idempotencyStore: new MemoryIdempotencyStore({ leaseMs: 300 }) }));
    const first = node.execute('charge', { amount: 7 }, { idempotencyKey: 'order-2' });
    await vi.advanceTimersByTimeAsync(100);
    expect((await first).ok).toBe(false);
    const pending = settle();
    reset();
    const retry = node.execute('charge', { amount: 7 }, { idempotencyKey: 'order-2' });
    await vi.advanceTimersByTimeAsync(500);
    expect(effects.n).toBe(1);
    pending.fail(new OnexError(ErrorCode.Unavailable, 'peer down')); // a retryable failure: released, not stored
    await vi.advanceTimersByTimeAsync(0);
    expect(effects.n).toBe(2);
    settle().open({ charged: 7 });
    expect(await retry).toEqual({ ok: true, value: { charged: 7 } });
  });

  it('a retry inside the run waits for the timed-out attempt instead of running beside it, and answers its late result', async () => {
    vi.useFakeTimers();
    const effects = { n: 0 };
    const late = gate<{ charged: number }>();
    const op = defineOperation({
      name: 'charge',
      input: z.object({ amount: z.number() }),
      output: z.object({ charged: z.number() }),
      timeoutMs: 100,
      retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
      idempotent: false,
      run: async () => {
        effects.n++;
        return late.promise; // ignores its signal
      },
    });
    const node = await ready(effectNode({ name: 'pay', version: '1.0.0', operations: [op], logger, idempotencyStore: new MemoryIdempotencyStore({ leaseMs: 300 }) }));
    const call = node.execute('charge', { amount: 9 }, { idempotencyKey: 'order-3' });
    await vi.advanceTimersByTimeAsync(1_000); // the first attempt timed out long ago; no second one started
    expect(effects.n).toBe(1);
    late.open({ charged: 9 });
    expect(await call).toEqual({ ok: true, value: { charged: 9 } });
    expect(await node.execute('charge', { amount: 9 }, { idempotencyKey: 'order-3' })).toEqual({ ok: true, value: { charged: 9 } });
    expect(effects.n).toBe(1);
  });

  it('a renewal that answers false aborts the running operation, records nothing and answers a retryable CONFLICT', async () => {
    vi.useFakeTimers();
    class LosingStore extends MemoryIdempotencyStore {
      losing = false;
      readonly completions: string[] = [];
      override renew(key: string, token: string): boolean {
        return this.losing ? false : super.renew(key, token);
      }
      override complete(...args: Parameters<MemoryIdempotencyStore['complete']>): boolean {
        this.completions.push(args[0]);
        return super.complete(...args);
      }
    }
    const store = new LosingStore({ leaseMs: 300 });
    const seen: { aborted: boolean; reason: unknown }[] = [];
    const honouring = defineOperation({
      name: 'ship',
      input: z.object({ id: z.string() }),
      output: z.object({ shipped: z.boolean() }),
      retry: { maxAttempts: 3, initialDelayMs: 1 },
      run: async (_input, ctx) =>
        new Promise<{ shipped: boolean }>((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            seen.push({ aborted: ctx.signal.aborted, reason: ctx.signal.reason });
            reject(ctx.signal.reason as Error);
          });
        }),
    });
    const node = await ready(effectNode({ name: 'shop', version: '1.0.0', operations: [honouring], logger, idempotencyStore: store }));
    const call = node.execute('ship', { id: 'a' }, { idempotencyKey: 'ship-a' });
    await vi.advanceTimersByTimeAsync(100); // one renewal, still held
    expect(seen).toEqual([]);
    store.losing = true;
    await vi.advanceTimersByTimeAsync(100);
    const r = await call;
    expect(seen).toHaveLength(1); // aborted, and not retried after the loss
    expect((seen[0]?.reason as OnexError).code).toBe(ErrorCode.Conflict);
    expect(!r.ok && r.error).toMatchObject({ code: ErrorCode.Conflict, retryable: true });
    expect(store.completions).toEqual([]);
    expect(store.begin('shop:ship:ship-a', fingerprint({ id: 'a' })).kind).toBe('in_progress'); // not released either
  });

  it('a lost lease also stops an attempt with its own timeout at once, even when the operation ignores its signal', async () => {
    vi.useFakeTimers();
    let lose = false;
    const store = new (class extends MemoryIdempotencyStore {
      override renew(key: string, token: string): boolean {
        return lose ? false : super.renew(key, token);
      }
    })({ leaseMs: 300 });
    const effects = { n: 0, signal: undefined as AbortSignal | undefined };
    const late = gate<{ done: boolean }>();
    const slow = defineOperation({
      name: 'slow',
      input: z.object({}),
      output: z.object({ done: z.boolean() }),
      timeoutMs: 10_000,
      retry: { maxAttempts: 1 },
      run: async (_input, ctx) => {
        effects.n++;
        effects.signal = ctx.signal;
        return late.promise;
      },
    });
    const node = await ready(effectNode({ name: 'slow', version: '1.0.0', operations: [slow], logger, idempotencyStore: store }));
    const call = node.execute('slow', {}, { idempotencyKey: 'k' });
    await vi.advanceTimersByTimeAsync(50);
    lose = true;
    await vi.advanceTimersByTimeAsync(100);
    const r = await call;
    expect(!r.ok && r.error).toMatchObject({ code: ErrorCode.Conflict, retryable: true });
    expect(effects.signal?.aborted).toBe(true);
    late.open({ done: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(store.begin('slow:slow:k', fingerprint({})).kind).toBe('in_progress'); // the late result was not recorded
    expect(effects.n).toBe(1);
  });
});

describe('issue 9 #10: transient causes stay retryable', () => {
  function failing(thrown: () => unknown) {
    const effects = { n: 0, failing: true };
    const op = defineOperation({
      name: 'notify',
      input: z.object({ to: z.string() }),
      output: z.object({ sent: z.number() }),
      retry: { maxAttempts: 1 },
      run: async () => {
        effects.n++;
        if (effects.failing) throw thrown();
        return { sent: effects.n };
      },
    });
    return { op, effects };
  }

  it("a fetch failure caused by ECONNREFUSED is a retryable UNAVAILABLE and releases the key: the step can succeed later", async () => {
    const { op, effects } = failing(() => new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }));
    const node = await ready(effectNode({ name: 'hooks', version: '1.0.0', operations: [op], logger }));
    const r = await node.execute('notify', { to: 'a' }, { idempotencyKey: 'wf-1:notify' });
    expect(!r.ok && r.error).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });
    effects.failing = false;
    expect(await node.execute('notify', { to: 'a' }, { idempotencyKey: 'wf-1:notify' })).toEqual({ ok: true, value: { sent: 2 } });
  });

  it('an unclassified failure (INTERNAL from a plain thrown value) is not stored as final', async () => {
    const { op, effects } = failing(() => new TypeError("Cannot read properties of undefined (reading 'id')"));
    const node = await ready(effectNode({ name: 'hooks', version: '1.0.0', operations: [op], logger }));
    const r = await node.execute('notify', { to: 'b' }, { idempotencyKey: 'wf-2:notify' });
    expect(!r.ok && r.error.code).toBe(ErrorCode.Internal);
    effects.failing = false;
    expect(await node.execute('notify', { to: 'b' }, { idempotencyKey: 'wf-2:notify' })).toEqual({ ok: true, value: { sent: 2 } });
  });

  it('a typed failure, INTERNAL thrown as an OnexError included, is still stored and replayed', async () => {
    const { op, effects } = failing(() => new OnexError(ErrorCode.Internal, 'ledger out of balance'));
    const node = await ready(effectNode({ name: 'hooks', version: '1.0.0', operations: [op], logger }));
    expect((await node.execute('notify', { to: 'c' }, { idempotencyKey: 'wf-3:notify' })).ok).toBe(false);
    effects.failing = false;
    const replayed = await node.execute('notify', { to: 'c' }, { idempotencyKey: 'wf-3:notify' });
    expect(!replayed.ok && replayed.error).toMatchObject({ code: ErrorCode.Internal, message: 'ledger out of balance', context: { idempotentReplay: true } });
    expect(effects.n).toBe(1);
  });
});

describe('NodeEffect subclass', () => {
  it('can be extended, with hooks around every attempt, and used through an in-process client', async () => {
    const { op } = counterOp();
    const operations = [op] as const;
    class Audited extends NodeEffect<typeof operations> {
      readonly seen: string[] = [];
      constructor() {
        super(defineEffectNode({ name: 'audited', version: '1.0.0', operations }), { logger });
      }
      protected override async invokeOperation(...args: Parameters<NodeEffect<typeof operations>['invokeOperation']>): Promise<unknown> {
        this.seen.push(`${args[0].name}#${args[2].attempt}`);
        return super.invokeOperation(...args);
      }
    }
    const node = await ready(new Audited());
    const client = createInProcessClient(node);
    expect(await client.call({ operation: 'send', input: { to: 'a' } })).toEqual({ ok: true, value: { result: { id: 1, to: 'a' } } });
    expect(await node.executeOrThrow('send', { to: 'b' })).toEqual({ id: 2, to: 'b' });
    expect(node.seen).toEqual(['send#1', 'send#1']);
  });
});
