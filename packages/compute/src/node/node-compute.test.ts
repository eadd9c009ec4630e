import { setTimeout as delay } from 'node:timers/promises';
import { createLogger, createSilentLogger, ErrorCode, HealthStatus, OnexError, type CallContext, type Logger, type OnexWarning } from '@onex/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineComputation, type AnyComputation, type ComputeContext } from '../computation/computation.js';
import { defineComputeNode, type AnyComputeNodeDefinition, type ComputeNodeDefinition } from './define-compute-node.js';
import { NodeCompute } from './node-compute.js';
import type { NodeComputeOptions } from './node-compute-options.js';

function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { logger, lines };
}

function fakeClock(start = 1_000_000) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

/** A node with a counted, cached `add`, an uncached `mul`, and computations for failure paths. */
function setup(options: NodeComputeOptions = {}) {
  const runs = { add: 0, mul: 0 };
  const add = defineComputation({
    name: 'add',
    input: z.object({ a: z.number(), b: z.number() }),
    output: z.object({ sum: z.number() }),
    compute: ({ a, b }) => {
      runs.add += 1;
      return { sum: a + b };
    },
    cache: { maxEntries: 2, ttlMs: 1_000 },
  });
  const mul = defineComputation({
    name: 'mul',
    input: z.object({ a: z.number(), b: z.number() }),
    output: z.number(),
    compute: ({ a, b }) => {
      runs.mul += 1;
      return a * b;
    },
  });
  const broken = defineComputation({
    name: 'broken',
    input: z.number(),
    output: z.number(),
    compute: (n) => (n > 0 ? ('not a number' as unknown as number) : n),
  });
  const fails = defineComputation({
    name: 'fails',
    input: z.object({ mode: z.enum(['internal', 'domain', 'ok']) }),
    output: z.string(),
    compute: ({ mode }) => {
      if (mode === 'internal') throw new Error('db password=hunter2 leaked');
      if (mode === 'domain') throw new OnexError(ErrorCode.BadRequest, 'rejected: token=abcdef123456');
      return 'fine';
    },
  });
  const math = defineComputeNode({ name: 'math', version: '1.0.0', computations: [add, mul, broken, fails] });
  class TestNode extends NodeCompute<typeof math> {
    constructor() {
      super(math, { logger: createSilentLogger(), ...options });
    }
  }
  return { node: new TestNode(), runs };
}

async function ready<T extends NodeCompute>(node: T): Promise<T> {
  await node.initialize();
  return node;
}

describe('NodeCompute: registry and validation', () => {
  it('runs a computation by name, typed, in process and through handle()', async () => {
    const { node } = setup();
    await ready(node);
    const r = await node.compute('mul', { a: 6, b: 7 });
    expect(r).toEqual({ ok: true, value: 42 });
    if (r.ok) expectTypeOf(r.value).toEqualTypeOf<number>();
    const add = await node.compute('add', { a: 1, b: 2 });
    if (add.ok) expectTypeOf(add.value).toEqualTypeOf<{ sum: number }>();
    expect(await node.handle({ computation: 'add', input: { a: 2, b: 3 } })).toEqual({ ok: true, value: { result: { sum: 5 } } });
    expect(node.computations).toEqual(['add', 'mul', 'broken', 'fails']);
  });

  it('rejects unknown names and wrong inputs at compile time', async () => {
    const { node } = setup();
    await ready(node);
    // @ts-expect-error: no such computation
    const unknown = await node.compute('div', { a: 1, b: 2 });
    expect(unknown.ok).toBe(false);
    // @ts-expect-error: b must be a number
    const wrong = await node.compute('add', { a: 1, b: 'x' });
    expect(wrong.ok).toBe(false);
  });

  it('answers an unknown computation with NOT_FOUND naming it', async () => {
    const { node } = setup();
    await ready(node);
    const r = await node.handle({ computation: 'divide', input: {} }, { correlationId: 'c-404' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(ErrorCode.NotFound);
    expect(r.error.message).toBe("Unknown computation 'divide' on node 'math'");
    expect(r.error.context).toEqual({ computation: 'divide' });
    expect(r.error.correlationId).toBe('c-404');
  });

  it('validates the input with the computation schema and names the path', async () => {
    const { node, runs } = setup();
    await ready(node);
    const r = await node.handle({ computation: 'add', input: { a: 1, b: 'two' } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(ErrorCode.Validation);
    expect(r.error.message).toMatch(/^Invalid input for computation 'add': input\.b: /);
    expect(r.error.details).toEqual([{ path: 'input.b', message: expect.any(String) as string }]);
    expect(runs.add).toBe(0);
  });

  it('validates the request envelope', async () => {
    const { node } = setup();
    await ready(node);
    const both = await node.handle({ computation: 'add', input: { a: 1, b: 2 }, batch: [] });
    expect(!both.ok && both.error.code).toBe(ErrorCode.Validation);
    const stray = await node.handle({ computation: 'add', input: { a: 1, b: 2 }, concurrency: 2 });
    expect(!stray.ok && stray.error.message).toMatch(/concurrency/);
    const extra = await node.handle({ computation: 'add', input: { a: 1, b: 2 }, other: 1 });
    expect(!extra.ok && extra.error.code).toBe(ErrorCode.Validation);
    const missing = await node.handle({ computation: 'add' });
    expect(!missing.ok && missing.error.message).toMatch(/'add': input: /);
  });

  it('fails output that breaks the computation schema with CONTRACT and counts it', async () => {
    const { node } = setup();
    await ready(node);
    const r = await node.compute('broken', 1);
    expect(!r.ok && r.error.code).toBe(ErrorCode.Contract);
    expect(await node.compute('broken', -1)).toEqual({ ok: true, value: -1 });
    expect(node.stats().computations['broken']).toMatchObject({ runs: 2, failures: 1 });
  });

  it('hides foreign errors as INTERNAL and passes OnexErrors through', async () => {
    const { node } = setup();
    await ready(node);
    const internal = await node.compute('fails', { mode: 'internal' });
    expect(!internal.ok && [internal.error.code, internal.error.message]).toEqual([ErrorCode.Internal, 'Internal error']);
    const domain = await node.compute('fails', { mode: 'domain' });
    expect(!domain.ok && domain.error.code).toBe(ErrorCode.BadRequest);
    expect(node.stats().computations['fails']).toMatchObject({ runs: 2, failures: 2 });
  });

  it('refuses bad definitions and options when constructed', () => {
    const one = defineComputation({ name: 'one', input: z.number(), output: z.number(), compute: (n) => n });
    const make = (definition: Partial<AnyComputeNodeDefinition>, options: NodeComputeOptions = {}) => () =>
      new NodeCompute({ name: 'n', version: '1.0.0', computations: [one], ...definition }, { logger: createSilentLogger(), ...options });
    expect(make({ computations: [one, one] })).toThrow(/registers computation 'one' twice/);
    expect(make({ computations: [] })).toThrow(/at least one computation/);
    expect(make({ computations: [{ name: 'raw' } as unknown as AnyComputation] })).toThrow(/defineComputation/);
    expect(make({ name: 'Not Kebab' })).toThrow(/kebab-case/);
    expect(make({ defaults: { slowThresholdMs: Number.NaN } })).toThrow(/defaults\.slowThresholdMs/);
    expect(make({ defaults: { cache: { maxEntries: 0 } } })).toThrow(/defaults\.cache\.maxEntries/);
    expect(make({}, { batchConcurrency: 0 })).toThrow(/batchConcurrency/);
    expect(make({}, { maxBatchSize: -1 })).toThrow(/maxBatchSize/);
    expect(make({})).not.toThrow();
  });

  it('is not callable before initialize()', async () => {
    const { node } = setup();
    const r = await node.compute('mul', { a: 1, b: 1 });
    expect(!r.ok && r.error.code).toBe(ErrorCode.Lifecycle);
  });
});

describe('NodeCompute: result cache', () => {
  it('is off by default: an uncached computation runs every time', async () => {
    const { node, runs } = setup();
    await ready(node);
    await node.compute('mul', { a: 2, b: 3 });
    await node.compute('mul', { a: 2, b: 3 });
    expect(runs.mul).toBe(2);
    expect(node.stats().cache).not.toHaveProperty('mul');
  });

  it('hits for the same input whatever its key order, and reports stats in metrics().extra.cache', async () => {
    const { node, runs } = setup();
    await ready(node);
    expect(await node.compute('add', { a: 1, b: 2 })).toEqual({ ok: true, value: { sum: 3 } });
    expect(await node.compute('add', { b: 2, a: 1 })).toEqual({ ok: true, value: { sum: 3 } });
    expect(runs.add).toBe(1);
    const extra = node.metrics().extra as { cache: Record<string, unknown>; computations: Record<string, unknown> };
    expect(extra.cache['add']).toMatchObject({ hits: 1, misses: 1, evictions: 0, expirations: 0, size: 1, maxEntries: 2, ttlMs: 1_000, uncacheable: 0 });
    expect(extra.computations['add']).toMatchObject({ runs: 1, failures: 0 });
  });

  it('keys by the parsed input: keys the schema strips do not split the cache', async () => {
    const { node, runs } = setup();
    await ready(node);
    await node.compute('add', { a: 1, b: 2 });
    await node.handle({ computation: 'add', input: { a: 1, b: 2, ignored: 'x' } });
    expect(runs.add).toBe(1);
  });

  it('expires results after the TTL on the node clock', async () => {
    const clock = fakeClock();
    const { node, runs } = setup({ clock });
    await ready(node);
    await node.compute('add', { a: 1, b: 2 });
    clock.t += 999;
    await node.compute('add', { a: 1, b: 2 });
    expect(runs.add).toBe(1);
    clock.t += 1;
    await node.compute('add', { a: 1, b: 2 });
    expect(runs.add).toBe(2);
    expect(node.stats().cache['add']).toMatchObject({ hits: 1, misses: 2, expirations: 1, size: 1 });
  });

  it('evicts the least recently used result past maxEntries', async () => {
    const { node, runs } = setup();
    await ready(node);
    await node.compute('add', { a: 1, b: 1 });
    await node.compute('add', { a: 2, b: 2 });
    await node.compute('add', { a: 1, b: 1 }); // hit: {2,2} is now the oldest
    await node.compute('add', { a: 3, b: 3 }); // evicts {2,2}
    await node.compute('add', { a: 1, b: 1 }); // still cached
    expect(runs.add).toBe(3);
    await node.compute('add', { a: 2, b: 2 });
    expect(runs.add).toBe(4);
    expect(node.stats().cache['add']).toMatchObject({ evictions: 2, size: 2 });
  });

  it('hands out frozen results, so one caller cannot change what another gets', async () => {
    const { node } = setup();
    await ready(node);
    const first = await node.compute('add', { a: 1, b: 2 });
    if (!first.ok) throw first.error;
    expect(() => {
      first.value.sum = 99;
    }).toThrow(TypeError);
    expect(await node.compute('add', { a: 1, b: 2 })).toEqual({ ok: true, value: { sum: 3 } });
  });

  it('freezes the nested values of a result the computation froze itself', async () => {
    const tagged = defineComputation({
      name: 'tagged',
      input: z.string(),
      output: z.custom<Readonly<{ tags: string[] }>>(),
      compute: (name) => Object.freeze({ tags: [name] }),
      cache: {},
    });
    const node = await ready(new NodeCompute({ name: 'tags', version: '1.0.0', computations: [tagged] }, { logger: createSilentLogger() }));
    const first = await node.compute('tagged', 'a');
    if (!first.ok) throw first.error;
    expect(() => first.value.tags.push('leaked')).toThrow(TypeError);
    expect(await node.compute('tagged', 'a')).toEqual({ ok: true, value: { tags: ['a'] } });
  });

  it('caches a result holding bytes (typed arrays cannot be frozen)', async () => {
    let count = 0;
    const bytes = defineComputation({
      name: 'bytes',
      input: z.string(),
      output: z.object({ data: z.instanceof(Uint8Array) }),
      compute: (text) => {
        count += 1;
        return { data: Buffer.from(text) };
      },
      cache: {},
    });
    const node = await ready(new NodeCompute({ name: 'bytes', version: '1.0.0', computations: [bytes] }, { logger: createSilentLogger() }));
    for (let i = 0; i < 2; i += 1) {
      const r = await node.compute('bytes', 'hi');
      if (!r.ok) throw r.error;
      expect(Buffer.from(r.value.data).toString()).toBe('hi');
    }
    expect(count).toBe(1);
    expect(node.stats().cache['bytes']).toMatchObject({ hits: 1, misses: 1 });
  });

  it('computes without the cache when the input has no canonical form', async () => {
    let count = 0;
    const size = defineComputation({
      name: 'size',
      input: z.instanceof(Map),
      output: z.number(),
      compute: (m) => {
        count += 1;
        return m.size;
      },
      cache: {},
    });
    const node = await ready(new NodeCompute({ name: 'maps', version: '1.0.0', computations: [size] }, { logger: createSilentLogger() }));
    await node.compute('size', new Map([[1, 2]]));
    await node.compute('size', new Map([[1, 2]]));
    expect(count).toBe(2);
    expect(node.stats().cache['size']).toMatchObject({ uncacheable: 2, hits: 0, misses: 0, size: 0 });
  });

  it('caches a result of undefined as a hit', async () => {
    let count = 0;
    const nothing = defineComputation({
      name: 'nothing',
      input: z.number(),
      output: z.undefined(),
      compute: () => {
        count += 1;
        return undefined;
      },
      cache: {},
    });
    const node = await ready(new NodeCompute({ name: 'void', version: '1.0.0', computations: [nothing] }, { logger: createSilentLogger() }));
    await node.compute('nothing', 1);
    expect(await node.compute('nothing', 1)).toEqual({ ok: true, value: undefined });
    expect(count).toBe(1);
  });

  it('drops cached results on shutdown', async () => {
    const { node } = setup();
    await ready(node);
    await node.compute('add', { a: 1, b: 2 });
    await node.shutdown();
    expect(node.stats().cache['add']?.size).toBe(0);
  });
});

describe('NodeCompute: batch', () => {
  it('answers per item in input order; a bad item fails alone', async () => {
    const { logger, lines } = captureLogger();
    const { node } = setup({ logger });
    await ready(node);
    const r = await node.handle({ computation: 'add', batch: [{ a: 1, b: 2 }, { a: 1, b: 'x' }, { a: 5, b: 5 }] }, { correlationId: 'c-batch' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toEqual({
      results: [
        { ok: true, value: { sum: 3 } },
        {
          ok: false,
          error: {
            code: 'VALIDATION',
            message: expect.stringMatching(/^Invalid input for computation 'add': batch\.1\.b: /) as string,
            retryable: false,
            correlationId: 'c-batch',
            details: [{ path: 'batch.1.b', message: expect.any(String) as string }],
            context: { computation: 'add' },
          },
        },
        { ok: true, value: { sum: 10 } },
      ],
    });
    const summary = lines.find((l) => l['msg'] === 'batch: 1 of 3 items failed');
    expect(summary).toMatchObject({ level: 40, computation: 'add', failed: 1, total: 3, failuresByCode: { VALIDATION: 1 }, correlationId: 'c-batch' });
  });

  it('computeBatch() gives typed per-item Results with OnexErrors', async () => {
    const { node } = setup();
    await ready(node);
    const r = await node.computeBatch('fails', [{ mode: 'ok' }, { mode: 'internal' }, { mode: 'domain' }]);
    if (!r.ok) throw r.error;
    expectTypeOf(r.value[0]!).toEqualTypeOf<{ readonly ok: true; readonly value: string } | { readonly ok: false; readonly error: OnexError }>();
    expect(r.value[0]).toEqual({ ok: true, value: 'fine' });
    const [, internal, domain] = r.value;
    expect(internal?.ok === false && internal.error).toBeInstanceOf(OnexError);
    expect(internal?.ok === false && [internal.error.code, internal.error.message]).toEqual([ErrorCode.Internal, 'Internal error']);
    // Sanitized like any error that leaves the node.
    expect(domain?.ok === false && domain.error.code).toBe(ErrorCode.BadRequest);
    expect(domain?.ok === false && domain.error.message).not.toContain('abcdef123456');
    expect(domain?.ok === false && domain.error.message).toContain('[REDACTED]');
  });

  it('logs an internal item failure with its cause, never sending the cause', async () => {
    const { logger, lines } = captureLogger();
    const { node } = setup({ logger });
    await ready(node);
    const r = await node.handle({ computation: 'fails', batch: [{ mode: 'internal' }] });
    expect(JSON.stringify(r)).not.toContain('hunter2');
    const line = lines.find((l) => l['msg'] === 'batch item 0 failed: Internal error');
    expect(line).toMatchObject({ level: 50, code: 'INTERNAL', computation: 'fails', index: 0 });
    expect(JSON.stringify(line)).not.toContain('hunter2'); // the logger's sanitizer masks the cause too
  });

  it('uses the cache per item', async () => {
    const { node, runs } = setup();
    await ready(node);
    const r = await node.computeBatch('add', [{ a: 1, b: 2 }, { b: 2, a: 1 }, { a: 1, b: 2 }], { concurrency: 1 });
    expect(r.ok && r.value.map((i) => i.ok && i.value.sum)).toEqual([3, 3, 3]);
    expect(runs.add).toBe(1);
  });

  it('runs items concurrently up to the requested limit, capped by the node', async () => {
    let running = 0;
    let peak = 0;
    const slow = defineComputation({
      name: 'slow',
      input: z.number(),
      output: z.number(),
      compute: async (n) => {
        running += 1;
        peak = Math.max(peak, running);
        await delay(5 - (n % 5));
        running -= 1;
        return n * 10;
      },
    });
    const node = await ready(
      new NodeCompute({ name: 'slow', version: '1.0.0', computations: [slow] }, { batchConcurrency: 3, logger: createSilentLogger() }),
    );
    const inputs = Array.from({ length: 12 }, (_, i) => i);
    const two = await node.computeBatch('slow', inputs, { concurrency: 2 });
    expect(peak).toBe(2);
    expect(two.ok && two.value.map((i) => i.ok && i.value)).toEqual(inputs.map((n) => n * 10));
    peak = 0;
    await node.computeBatch('slow', inputs, { concurrency: 100 });
    expect(peak).toBe(3);
    peak = 0;
    await node.computeBatch('slow', inputs);
    expect(peak).toBe(3);
  });

  it('refuses a batch above maxBatchSize with PAYLOAD_TOO_LARGE', async () => {
    const { node, runs } = setup({ maxBatchSize: 3 });
    await ready(node);
    const ok = await node.computeBatch('mul', [{ a: 1, b: 1 }, { a: 1, b: 1 }, { a: 1, b: 1 }]);
    expect(ok.ok).toBe(true);
    const r = await node.computeBatch('mul', Array.from({ length: 4 }, () => ({ a: 1, b: 1 })));
    expect(!r.ok && r.error.code).toBe(ErrorCode.PayloadTooLarge);
    expect(!r.ok && r.error.context).toMatchObject({ size: 4, limit: 3 });
    expect(runs.mul).toBe(3);
  });

  it('answers an empty batch with no results, and an unknown computation as a whole-call NOT_FOUND', async () => {
    const { node } = setup();
    await ready(node);
    expect(await node.handle({ computation: 'add', batch: [] })).toEqual({ ok: true, value: { results: [] } });
    const r = await node.handle({ computation: 'nope', batch: [1] });
    expect(!r.ok && r.error.code).toBe(ErrorCode.NotFound);
  });

  it('stops a batch at the deadline', async () => {
    let started = 0;
    const wait = defineComputation({
      name: 'wait',
      input: z.number(),
      output: z.number(),
      compute: async (n) => {
        started += 1;
        await delay(20);
        return n;
      },
    });
    const node = await ready(
      new NodeCompute({ name: 'waits', version: '1.0.0', computations: [wait] }, { batchConcurrency: 1, logger: createSilentLogger() }),
    );
    const r = await node.computeBatch('wait', Array.from({ length: 50 }, (_, i) => i), { timeoutMs: 50 });
    expect(!r.ok && r.error.code).toBe(ErrorCode.Timeout);
    await delay(60);
    expect(started).toBeLessThan(6);
  });
});

describe('NodeCompute: interceptors', () => {
  it('runs the options interceptors around every call, in order, typed by the wire protocol', async () => {
    const seen: string[] = [];
    const { node, runs } = setup({
      interceptors: [
        async (request, ctx, next) => {
          seen.push(`outer:${request.computation}:${ctx.correlationId}`);
          const response = await next(request);
          seen.push('outer:done');
          return response;
        },
        (request, _ctx, next) => {
          seen.push(`inner:${'batch' in request && request.batch !== undefined ? 'batch' : 'one'}`);
          // Answers a cached-elsewhere result without running the computation (still checked by the contract).
          if (request.computation === 'mul' && request.input !== undefined && JSON.stringify(request.input) === '{"a":0,"b":0}') {
            return Promise.resolve({ result: 0 });
          }
          return next(request);
        },
      ],
    });
    await ready(node);
    expect(await node.compute('mul', { a: 0, b: 0 }, { correlationId: 'c-i' })).toEqual({ ok: true, value: 0 });
    expect(runs.mul).toBe(0);
    expect(await node.computeBatch('mul', [{ a: 2, b: 3 }])).toMatchObject({ ok: true, value: [{ ok: true, value: 6 }] });
    expect(seen).toEqual(['outer:mul:c-i', 'inner:one', 'outer:done', expect.stringMatching(/^outer:mul:/) as string, 'inner:batch', 'outer:done']);
  });

  it('still validates what an interceptor answers against the contract', async () => {
    const { node } = setup({ interceptors: [() => Promise.resolve({ nonsense: true } as never)] });
    await ready(node);
    const r = await node.compute('mul', { a: 1, b: 1 });
    expect(!r.ok && r.error.code).toBe(ErrorCode.Contract);
  });
});

describe('NodeCompute: slow runs and hooks', () => {
  const sleepy = defineComputation({
    name: 'sleepy',
    input: z.number(),
    output: z.number(),
    // 0 answers without a timer: the fast run takes microseconds, far under the threshold even on a loaded machine
    // (a 0 ms timer against a 10 ms threshold flaked whenever the event loop stalled).
    compute: async (ms) => {
      if (ms > 0) await delay(ms);
      return ms;
    },
    slowThresholdMs: 50,
  });
  const quick = defineComputation({ name: 'quick', input: z.number(), output: z.number(), compute: (n) => n });

  it('logs a SLOW_COMPUTATION warning with the timing and counts slow runs', async () => {
    const { logger, lines } = captureLogger();
    const node = await ready(new NodeCompute({ name: 'timed', version: '1.0.0', computations: [sleepy, quick] }, { logger }));
    await node.compute('sleepy', 80, { correlationId: 'c-slow' });
    await node.compute('sleepy', 0);
    await node.compute('quick', 1);
    const warnings = lines.filter((l) => l['code'] === 'SLOW_COMPUTATION');
    expect(warnings).toHaveLength(1);
    const [warning] = warnings;
    expect(warning).toMatchObject({ level: 40, computation: 'sleepy', thresholdMs: 50, correlationId: 'c-slow' });
    expect(warning?.['durationMs']).toBeGreaterThanOrEqual(75);
    expect(warning?.['msg']).toMatch(/^computation 'sleepy' took \d+(\.\d)? ms \(threshold 50 ms\)$/);
    expect(node.stats().computations['sleepy']).toMatchObject({ runs: 2, slow: 1, slowThresholdMs: 50 });
    expect(node.stats().computations['quick']).toMatchObject({ runs: 1, slow: 0, slowThresholdMs: 100 });
  });

  it('uses the node threshold for computations without one, Infinity turning it off', async () => {
    const node = await ready(
      new NodeCompute({ name: 'q', version: '1.0.0', computations: [quick], defaults: { slowThresholdMs: Number.POSITIVE_INFINITY } }, { logger: createSilentLogger() }),
    );
    expect(node.stats().computations['quick']?.slowThresholdMs).toBeNull();
  });

  it('hands slow runs to onSlowComputation, whose failure does not fail the call', async () => {
    const seen: OnexWarning[] = [];
    const reporting = defineComputeNode({ name: 'reporting', version: '1.0.0', computations: [sleepy] });
    class Reporting extends NodeCompute<typeof reporting> {
      protected override onSlowComputation(warning: OnexWarning): void {
        seen.push(warning);
        throw new Error('reporter down');
      }
    }
    const node = await ready(new Reporting(reporting, { logger: createSilentLogger() }));
    expect(await node.compute('sleepy', 80)).toEqual({ ok: true, value: 80 });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.code).toBe('SLOW_COMPUTATION');
    expect(seen[0]?.context).toMatchObject({ computation: 'sleepy', thresholdMs: 50 });
  });

  it('wraps every run (not cache hits) with the execute hook', async () => {
    const wrapped: string[] = [];
    const cached = defineComputation({ name: 'cached', input: z.number(), output: z.number(), compute: (n, ctx) => (ctx.computation === 'cached' ? n + 1 : -1), cache: {} });
    class Traced extends NodeCompute<ComputeNodeDefinition<readonly [typeof cached]>> {
      protected override execute(computation: AnyComputation, input: unknown, ctx: ComputeContext): unknown {
        wrapped.push(`${computation.name}:${String(input)}:${ctx.correlationId}`);
        return super.execute(computation, input, ctx);
      }
    }
    const node = await ready(new Traced({ name: 'traced', version: '1.0.0', computations: [cached] }, { logger: createSilentLogger() }));
    expect(await node.compute('cached', 1, { correlationId: 'c1' })).toEqual({ ok: true, value: 2 });
    await node.compute('cached', 1, { correlationId: 'c2' });
    expect(wrapped).toEqual(['cached:1:c1']);
  });

  it('reports its computations in health and metrics', async () => {
    const { node } = setup();
    await ready(node);
    const health = await node.health();
    expect(health.status).toBe(HealthStatus.Healthy);
    expect(health.node.kind).toBe('compute');
    expect(health.components['computations']).toEqual({
      status: 'healthy',
      data: { count: 4, names: ['add', 'mul', 'broken', 'fails'], cached: ['add'] },
    });
    await node.compute('mul', { a: 1, b: 1 });
    const metrics = node.metrics();
    expect(metrics.calls).toBe(1);
    expect(Object.keys(metrics.extra['computations'] as object)).toEqual(['add', 'mul', 'broken', 'fails']);
    expect(Object.keys(metrics.extra['cache'] as object)).toEqual(['add']);
  });

  it('documents the request in its contract', () => {
    const { node } = setup();
    const doc = node.contract.toDocument();
    expect(doc.kind).toBe('compute');
    expect(doc.description).toBe('Pure computations: add, mul, broken, fails.');
    expect(doc.input).toMatchObject({ required: ['computation'], not: { required: ['input', 'batch'] } });
    expect(node.contract.computations).toEqual(['add', 'mul', 'broken', 'fails']);
    const mul = node.contract.computation('mul');
    expect(mul.output.parse({ result: 6 })).toEqual({ result: 6 });
    expectTypeOf(mul.output.parse({ result: 6 })).toEqualTypeOf<{ result: number }>();
  });

  it('passes the call context to computations', async () => {
    let seen: Pick<CallContext, 'correlationId'> & { computation: string; aborted: boolean } = { correlationId: '', computation: '', aborted: true };
    const probe = defineComputation({
      name: 'probe',
      input: z.null(),
      output: z.null(),
      compute: (_input, ctx) => {
        seen = { correlationId: ctx.correlationId, computation: ctx.computation, aborted: ctx.signal.aborted };
        return null;
      },
    });
    const node = await ready(new NodeCompute({ name: 'probe', version: '1.0.0', computations: [probe] }, { logger: createSilentLogger() }));
    await node.compute('probe', null, { correlationId: 'c-ctx' });
    expect(seen).toEqual({ correlationId: 'c-ctx', computation: 'probe', aborted: false });
  });
});
