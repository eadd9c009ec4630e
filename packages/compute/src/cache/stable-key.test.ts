import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize, stableKey } from './stable-key.js';

/** Rebuilds a value with every object's keys in reverse insertion order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .reverse()
        .map((k) => [k, reverseKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

describe('canonicalize', () => {
  it('ignores key order at every depth', () => {
    const a = { z: 1, a: { y: [1, { q: true, p: null }], x: 's' } };
    const b = { a: { x: 's', y: [1, { p: null, q: true }] }, z: 1 };
    expect(canonicalize(a)).toBe(canonicalize(b));
    expect(canonicalize(a)).toBe('{"a":{"x":"s","y":[1,{"p":null,"q":true}]},"z":1}');
  });

  it('is the same for any key order of any JSON value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalize(reverseKeys(value))).toBe(canonicalize(value));
      }),
    );
  });

  it('tells apart values that differ (property: equal text ⇔ deep-equal values)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        const same = canonicalize(a) === canonicalize(b);
        let equal = true;
        try {
          expect(a).toStrictEqual(b);
        } catch {
          equal = false;
        }
        // toStrictEqual treats -0 and 0 as different, as canonicalize does.
        expect(same).toBe(equal);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps array order and types apart', () => {
    expect(canonicalize([1, 2])).not.toBe(canonicalize([2, 1]));
    expect(canonicalize('1')).not.toBe(canonicalize(1));
    expect(canonicalize(null)).not.toBe(canonicalize(undefined));
    expect(canonicalize(true)).not.toBe(canonicalize('true'));
    expect(canonicalize(0)).not.toBe(canonicalize(-0));
    expect(canonicalize(1n)).not.toBe(canonicalize(1));
    expect(canonicalize(Number.NaN)).not.toBe(canonicalize(null));
    expect(canonicalize({ a: undefined })).not.toBe(canonicalize({}));
    expect(canonicalize([undefined])).not.toBe(canonicalize([null]));
    expect(canonicalize({ a: [1] })).not.toBe(canonicalize({ a: '[1]' }));
  });

  it('encodes dates by their time and null-prototype objects like plain ones', () => {
    expect(canonicalize(new Date(5))).toBe(canonicalize(new Date(5)));
    expect(canonicalize(new Date(5))).not.toBe(canonicalize(new Date(6)));
    expect(canonicalize(new Date(5))).not.toBe(canonicalize(5));
    const bare = Object.assign(Object.create(null) as object, { b: 1, a: 2 });
    expect(canonicalize(bare)).toBe(canonicalize({ a: 2, b: 1 }));
  });

  it('has no canonical form for functions, symbols, maps, class instances, cycles and deep nesting', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    let deep: unknown = 1;
    for (let i = 0; i < 100; i += 1) deep = [deep];
    for (const value of [() => 1, Symbol('s'), new Map(), new Set([1]), new Point(1), { nested: [new Point(2)] }, cyclic, deep]) {
      expect(canonicalize(value)).toBeUndefined();
      expect(stableKey(value)).toBeUndefined();
    }
  });

  it('accepts a shared (non-cyclic) sub-object twice', () => {
    const shared = { v: 1 };
    expect(canonicalize({ a: shared, b: shared })).toBe('{"a":{"v":1},"b":{"v":1}}');
  });
});

describe('stableKey', () => {
  it('is a fixed-length hash, equal for reordered keys and different for different values', () => {
    const k1 = stableKey({ amount: 10, currency: 'EUR' });
    expect(k1).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stableKey({ currency: 'EUR', amount: 10 })).toBe(k1);
    expect(stableKey({ amount: 11, currency: 'EUR' })).not.toBe(k1);
    expect(stableKey('x'.repeat(100_000))).toHaveLength(43);
  });

  it('is stable across runs (pinned value)', () => {
    // sha256('{"a":1,"b":[true,null]}') in base64url: a change here means persisted or shared keys would break.
    expect(stableKey({ b: [true, null], a: 1 })).toBe('HMacf6I2Fsouw-5w0kOQpiJciDLbikyBTH4Of5Qvhmg');
  });
});
