import { ErrorCode, isOnexError } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineComputation } from '../computation/computation.js';
import { computeContract } from './compute-contract.js';

const add = defineComputation({
  name: 'add',
  description: 'Adds two numbers.',
  input: z.object({ a: z.number(), b: z.number() }),
  output: z.object({ sum: z.number() }),
  compute: ({ a, b }) => ({ sum: a + b }),
});
const slugify = defineComputation({ name: 'slugify', input: z.string(), output: z.string(), compute: (s) => s.toLowerCase() });
const clock = defineComputation({ name: 'ping', input: z.object({ echo: z.string() }).optional(), output: z.literal('pong'), compute: () => 'pong' as const });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isOnexError(error) ? error.code : 'not-onex';
  }
  return undefined;
}

describe('computeContract', () => {
  const math = computeContract({ name: 'math', version: '1.2.0', computations: [add, slugify, clock] });

  it('is the envelope contract of the node, listing its computations', () => {
    expect(math).toMatchObject({ name: 'math', kind: 'compute', version: '1.2.0', description: 'Pure computations: add, slugify, ping.' });
    expect(math.computations).toEqual(['add', 'slugify', 'ping']);
    expect(math.input.safeParse({ computation: 'add', batch: [{ a: 1, b: 2 }] }).success).toBe(true);
    expect(math.output.safeParse({ results: [] }).success).toBe(true);
    expect(math.toDocument().input).toMatchObject({ required: ['computation'] });
    expect(Object.isFrozen(math)).toBe(true);
  });

  it('types and checks one computation: its input in the envelope, its output under result', () => {
    const quote = math.computation('add');
    expect(quote).toMatchObject({ name: 'math', kind: 'compute', version: '1.2.0', description: 'Adds two numbers.' });
    expect(quote.input.parse({ computation: 'add', input: { a: 1, b: 2 } })).toEqual({ computation: 'add', input: { a: 1, b: 2 } });
    expect(quote.input.safeParse({ computation: 'slugify', input: { a: 1, b: 2 } }).success).toBe(false);
    expect(quote.input.safeParse({ computation: 'add', input: { a: 1 } }).success).toBe(false);
    // Strict, like the node's own request: a batch is not this contract's call.
    expect(quote.input.safeParse({ computation: 'add', input: { a: 1, b: 2 }, batch: [] }).success).toBe(false);
    expect(quote.output.parse({ result: { sum: 3 } })).toEqual({ result: { sum: 3 } });
    expect(quote.output.safeParse({ result: 'three' }).success).toBe(false);
    expect(quote.toDocument().output).toMatchObject({ properties: { result: { properties: { sum: { type: 'number' } } } } });
  });

  it('lets the input be left out when the input schema is optional', () => {
    expect(math.computation('ping').input.safeParse({ computation: 'ping' }).success).toBe(true);
  });

  it('builds each computation contract once, and names a default description after the node', () => {
    expect(math.computation('slugify')).toBe(math.computation('slugify'));
    expect(math.computation('slugify').description).toBe("Computation 'slugify' of compute node 'math'.");
  });

  it('refuses a name the node does not serve, and bad definitions, with CONTRACT', () => {
    const untyped = math as { computation(name: string): unknown };
    expect(() => untyped.computation('divide')).toThrow("Compute node 'math' has no computation 'divide'");
    expect(codeOf(() => computeContract({ name: 'math', version: '1.0.0', computations: [] }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => computeContract({ name: 'math', version: '1.0.0', computations: [add, add] }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => computeContract({ name: 'Math', version: '1.0.0', computations: [add] }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => computeContract({ name: 'math', version: 'one', computations: [add] }))).toBe(ErrorCode.Contract);
  });
});
