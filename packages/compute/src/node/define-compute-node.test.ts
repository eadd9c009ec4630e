import { createSilentLogger, ErrorCode, isOnexError } from '@onex/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineComputation } from '../computation/computation.js';
import { defineComputeNode, resolveComputationSettings } from './define-compute-node.js';
import { NodeCompute } from './node-compute.js';

const slugify = defineComputation({
  name: 'slugify',
  input: z.string(),
  output: z.string(),
  compute: (s) => s.toLowerCase().trim().replace(/[^a-z0-9]+/g, '-'),
});
const words = defineComputation({
  name: 'words',
  input: z.object({ text: z.string() }),
  output: z.object({ count: z.int() }),
  compute: ({ text }) => ({ count: text.split(/\s+/).filter(Boolean).length }),
  cache: { maxEntries: 10 },
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isOnexError(error) ? error.code : 'not-onex';
  }
  return undefined;
}

describe('defineComputeNode', () => {
  it('answers a frozen definition, not a node', () => {
    const text = defineComputeNode({ name: 'text', version: '2.1.0', description: 'Text tools.', computations: [slugify, words], defaults: { slowThresholdMs: 5 } });
    expect(text).toEqual({ name: 'text', version: '2.1.0', description: 'Text tools.', computations: [slugify, words], defaults: { slowThresholdMs: 5 } });
    expect(text).not.toBeInstanceOf(NodeCompute);
    expect(Object.isFrozen(text)).toBe(true);
    expect(Object.isFrozen(text.computations)).toBe(true);
    expect(Object.isFrozen(text.defaults)).toBe(true);
  });

  it('is served by new NodeCompute(definition, options), typed by its computations', async () => {
    const text = defineComputeNode({ name: 'text', version: '2.1.0', computations: [slugify, words] });
    const node = new NodeCompute(text, { logger: createSilentLogger(), maxBatchSize: 1 });
    expect(node.contract).toMatchObject({ name: 'text', kind: 'compute', version: '2.1.0', description: 'Pure computations: slugify, words.' });
    await node.initialize();
    expect(await node.compute('slugify', ' Hello World ')).toEqual({ ok: true, value: 'hello-world' });
    const count = await node.compute('words', { text: 'a b  c' });
    if (count.ok) expectTypeOf(count.value).toEqualTypeOf<{ count: number }>();
    expect(count).toEqual({ ok: true, value: { count: 3 } });
    // @ts-expect-error: not registered on this node
    expect((await node.compute('nope', 'x')).ok).toBe(false);
    const batch = await node.computeBatch('words', [{ text: 'a' }, { text: 'b' }]);
    expect(!batch.ok && batch.error.code).toBe(ErrorCode.PayloadTooLarge);
    await node.shutdown();
  });

  it('serves the same definition from many nodes, each with its own state', async () => {
    const text = defineComputeNode({ name: 'text', version: '1.0.0', computations: [words] });
    const [a, b] = [new NodeCompute(text, { logger: createSilentLogger() }), new NodeCompute(text, { logger: createSilentLogger() })];
    await Promise.all([a.initialize(), b.initialize()]);
    await a.compute('words', { text: 'x y' });
    expect(a.stats().computations['words']?.runs).toBe(1);
    expect(b.stats().computations['words']?.runs).toBe(0);
  });

  it('refuses an invalid definition with CONTRACT when defined', () => {
    expect(codeOf(() => defineComputeNode({ name: 'text', version: '1.0.0', computations: [] }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputeNode({ name: 'text', version: '1.0.0', computations: [words, words] }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputeNode({ name: 'Text', version: '1.0.0', computations: [words] }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputeNode({ name: 'text', version: 'x', computations: [words] }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputeNode({ name: 'text', version: '1.0.0', computations: [words], defaults: { slowThresholdMs: -1 } }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputeNode({ name: 'text', version: '1.0.0', computations: [words], defaults: { cache: { ttlMs: 0 } } }))).toBe(ErrorCode.Contract);
  });
});

describe('computation defaults', () => {
  const plain = defineComputation({ name: 'plain', input: z.number(), output: z.number(), compute: (n) => n });
  const own = defineComputation({ name: 'own', input: z.number(), output: z.number(), compute: (n) => n, cache: { ttlMs: 500 }, slowThresholdMs: 7 });
  const off = defineComputation({ name: 'off', input: z.number(), output: z.number(), compute: (n) => n, cache: false });

  it('are the built-in ones without defaults: cache off, slow runs at 100 ms', () => {
    expect(resolveComputationSettings(plain, undefined)).toEqual({ cache: undefined, slowThresholdMs: 100 });
    expect(resolveComputationSettings(own, undefined)).toEqual({ cache: { maxEntries: 1_000, ttlMs: 500 }, slowThresholdMs: 7 });
  });

  it('apply to computations that set nothing, are replaced whole by their own, and never override cache: false', () => {
    const defaults = { slowThresholdMs: 20, cache: { maxEntries: 50 } };
    expect(resolveComputationSettings(plain, defaults)).toEqual({ cache: { maxEntries: 50, ttlMs: Number.POSITIVE_INFINITY }, slowThresholdMs: 20 });
    // `own` says cache: { ttlMs: 500 }: the built-in maxEntries, not the default's 50 (no field-by-field merge).
    expect(resolveComputationSettings(own, defaults)).toEqual({ cache: { maxEntries: 1_000, ttlMs: 500 }, slowThresholdMs: 7 });
    expect(resolveComputationSettings(off, defaults)).toEqual({ cache: undefined, slowThresholdMs: 20 });
  });

  it('reach the node: its caches and thresholds follow them', async () => {
    const defaults = defineComputeNode({ name: 'defaults', version: '1.0.0', computations: [plain, own, off], defaults: { slowThresholdMs: 20, cache: { maxEntries: 50 } } });
    const node = new NodeCompute(defaults, { logger: createSilentLogger() });
    await node.initialize();
    await node.compute('plain', 1);
    await node.compute('plain', 1);
    const stats = node.stats();
    expect(stats.cache['plain']).toMatchObject({ hits: 1, misses: 1, maxEntries: 50, ttlMs: null });
    expect(stats.cache['own']).toMatchObject({ maxEntries: 1_000, ttlMs: 500 });
    expect(stats.cache).not.toHaveProperty('off');
    expect([stats.computations['plain']?.slowThresholdMs, stats.computations['own']?.slowThresholdMs]).toEqual([20, 7]);
    expect((await node.health()).components['computations']?.data).toMatchObject({ cached: ['plain', 'own'] });
  });
});
