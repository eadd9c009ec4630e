import { ErrorCode, isOnexError } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineComputation } from './computation.js';

const base = { input: z.number(), output: z.number(), compute: (n: number) => n + 1 };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isOnexError(error) ? error.code : 'not-onex';
  }
  return undefined;
}

describe('defineComputation', () => {
  it('keeps the definition, with the cache off unless asked for', () => {
    const inc = defineComputation({ name: 'inc', ...base });
    expect(inc.name).toBe('inc');
    expect(inc.cache).toBeUndefined();
    expect(inc.slowThresholdMs).toBeUndefined();
    expect(Object.isFrozen(inc)).toBe(true);
    expect(defineComputation({ name: 'inc', ...base, cache: false }).cache).toBeUndefined();
  });

  it('resolves cache defaults', () => {
    expect(defineComputation({ name: 'inc', ...base, cache: {} }).cache).toEqual({ maxEntries: 1_000, ttlMs: Number.POSITIVE_INFINITY });
    expect(defineComputation({ name: 'inc', ...base, cache: { maxEntries: 5, ttlMs: 10 } }).cache).toEqual({ maxEntries: 5, ttlMs: 10 });
  });

  it('calls compute with the definition as `this`', () => {
    const definition = {
      name: 'scaled',
      input: z.number(),
      output: z.number(),
      factor: 3,
      compute(this: { factor: number }, n: number) {
        return n * this.factor;
      },
    };
    const c = defineComputation(definition);
    expect(c.compute(2, {} as never)).toBe(6);
  });

  it('refuses invalid names, schemas and options with CONTRACT', () => {
    expect(codeOf(() => defineComputation({ name: '', ...base }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputation({ name: '1abc', ...base }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputation({ name: 'has space', ...base }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputation({ name: 'a'.repeat(129), ...base }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputation({ name: 'price.quote_v2-x', ...base }))).toBeUndefined();
    expect(codeOf(() => defineComputation({ name: 'x', ...base, input: {} as z.ZodNumber }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputation({ name: 'x', ...base, slowThresholdMs: -1 }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputation({ name: 'x', ...base, cache: { maxEntries: 0 } }))).toBe(ErrorCode.Contract);
    expect(codeOf(() => defineComputation({ name: 'x', ...base, cache: { ttlMs: -5 } }))).toBe(ErrorCode.Contract);
  });
});
