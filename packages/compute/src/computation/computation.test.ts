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
  it('keeps the definition; the cache left to the node unless set or turned off', () => {
    const inc = defineComputation({ name: 'inc', ...base });
    expect(inc.name).toBe('inc');
    expect(inc.cache).toBeUndefined();
    expect(inc.slowThresholdMs).toBeUndefined();
    expect(Object.isFrozen(inc)).toBe(true);
    expect(defineComputation({ name: 'inc', ...base, cache: false }).cache).toBe(false);
  });

  it('keeps the cache settings it was given, for the node to complete from its defaults', () => {
    expect(defineComputation({ name: 'inc', ...base, cache: {} }).cache).toEqual({});
    expect(defineComputation({ name: 'inc', ...base, cache: { ttlMs: 10 } }).cache).toEqual({ ttlMs: 10 });
    const both = defineComputation({ name: 'inc', ...base, cache: { maxEntries: 5, ttlMs: 10 } }).cache;
    expect(both).toEqual({ maxEntries: 5, ttlMs: 10 });
    expect(Object.isFrozen(both)).toBe(true);
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
