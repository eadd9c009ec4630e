import { createSilentLogger, ErrorCode } from '@onex/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineComputation } from '../computation/computation.js';
import { defineComputeNode } from './define-compute-node.js';
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

describe('defineComputeNode', () => {
  it('makes a NodeCompute typed by its computations', async () => {
    const node = defineComputeNode({ name: 'text', version: '2.1.0', computations: [slugify, words], logger: createSilentLogger() });
    expect(node).toBeInstanceOf(NodeCompute);
    expect(node.contract).toMatchObject({ name: 'text', kind: 'compute', version: '2.1.0' });
    await node.initialize();
    const slug = await node.compute('slugify', ' Hello World ');
    expect(slug).toEqual({ ok: true, value: 'hello-world' });
    const count = await node.compute('words', { text: 'a b  c' });
    if (count.ok) expectTypeOf(count.value).toEqualTypeOf<{ count: number }>();
    expect(count).toEqual({ ok: true, value: { count: 3 } });
    // @ts-expect-error: not registered on this node
    expect((await node.compute('nope', 'x')).ok).toBe(false);
  });

  it('passes node options through', async () => {
    const node = defineComputeNode({ name: 'text', version: '1.0.0', description: 'Text tools.', computations: [words], maxBatchSize: 1, logger: createSilentLogger() });
    await node.initialize();
    expect(node.contract.description).toBe('Text tools.');
    const r = await node.computeBatch('words', [{ text: 'a' }, { text: 'b' }]);
    expect(!r.ok && r.error.code).toBe(ErrorCode.PayloadTooLarge);
  });
});
