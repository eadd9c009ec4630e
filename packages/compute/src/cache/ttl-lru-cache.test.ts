import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TtlLruCache } from './ttl-lru-cache.js';

function clock(start = 1_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('TtlLruCache', () => {
  it('answers what was set and counts hits and misses', () => {
    const cache = new TtlLruCache<string>({ maxEntries: 3, ttlMs: 100, now: clock().now });
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', 'A');
    expect(cache.get('a')).toBe('A');
    expect(cache.get('a')).toBe('A');
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1, evictions: 0, expirations: 0, size: 1, maxEntries: 3, ttlMs: 100 });
  });

  it('expires an entry exactly at its TTL, counting an expiration and a miss', () => {
    const c = clock();
    const cache = new TtlLruCache<number>({ maxEntries: 10, ttlMs: 100, now: c.now });
    cache.set('k', 1);
    c.t += 99;
    expect(cache.get('k')).toBe(1);
    c.t += 1;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, expirations: 1, size: 0 });
  });

  it('restarts the TTL when a key is set again', () => {
    const c = clock();
    const cache = new TtlLruCache<number>({ maxEntries: 10, ttlMs: 100, now: c.now });
    cache.set('k', 1);
    c.t += 80;
    cache.set('k', 2);
    c.t += 80;
    expect(cache.get('k')).toBe(2);
    expect(cache.size).toBe(1);
  });

  it('evicts the least recently used entry, where a hit counts as a use', () => {
    const cache = new TtlLruCache<number>({ maxEntries: 2, ttlMs: Number.POSITIVE_INFINITY, now: clock().now });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // b is now the least recently used
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.stats()).toMatchObject({ evictions: 1, size: 2, ttlMs: null });
  });

  it('counts dropping an already expired oldest entry as an expiration, not an eviction', () => {
    const c = clock();
    const cache = new TtlLruCache<number>({ maxEntries: 1, ttlMs: 10, now: c.now });
    cache.set('a', 1);
    c.t += 10;
    cache.set('b', 2);
    expect(cache.stats()).toMatchObject({ evictions: 0, expirations: 1, size: 1 });
  });

  it('never holds more than maxEntries', () => {
    const cache = new TtlLruCache<number>({ maxEntries: 50, ttlMs: 1_000, now: clock().now });
    for (let i = 0; i < 1_000; i += 1) cache.set(`k${i}`, i);
    expect(cache.size).toBe(50);
    expect(cache.stats().evictions).toBe(950);
    expect(cache.get('k949')).toBeUndefined();
    expect(cache.get('k950')).toBe(950);
  });

  it('clear() drops the entries and keeps the counters', () => {
    const cache = new TtlLruCache<number>({ maxEntries: 5, ttlMs: 1_000, now: clock().now });
    cache.set('a', 1);
    cache.get('a');
    cache.clear();
    expect(cache.get('a')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, size: 0 });
  });

  it('refuses a non-positive size or TTL', () => {
    expect(() => new TtlLruCache({ maxEntries: 0, ttlMs: 1, now: Date.now })).toThrow(RangeError);
    expect(() => new TtlLruCache({ maxEntries: 1.5, ttlMs: 1, now: Date.now })).toThrow(RangeError);
    expect(() => new TtlLruCache({ maxEntries: 1, ttlMs: 0, now: Date.now })).toThrow(RangeError);
    expect(() => new TtlLruCache({ maxEntries: 1, ttlMs: Number.NaN, now: Date.now })).toThrow(RangeError);
  });

  it('behaves like a reference LRU under any sequence of gets, sets and clock moves (property)', () => {
    type Op = { kind: 'get' | 'set'; key: number } | { kind: 'tick'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constantFrom('get' as const, 'set' as const), key: fc.integer({ min: 0, max: 4 }) }), weight: 6 },
      { arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30 }) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { minLength: 10, maxLength: 200, size: 'max' }), (maxEntries, ops) => {
        const c = clock(0);
        const ttlMs = 50;
        const cache = new TtlLruCache<number>({ maxEntries, ttlMs, now: c.now });
        // Reference: an array from least to most recently used.
        let model: { key: string; value: number; expiresAt: number }[] = [];
        let version = 0;
        for (const o of ops) {
          if (o.kind === 'tick') {
            c.t += o.ms;
            continue;
          }
          const key = `k${o.key}`;
          const at = model.findIndex((e) => e.key === key);
          if (o.kind === 'get') {
            const entry = at === -1 ? undefined : model[at];
            let expected: number | undefined;
            if (entry !== undefined) {
              model.splice(at, 1);
              if (c.t < entry.expiresAt) {
                model.push(entry);
                expected = entry.value;
              }
            }
            expect(cache.get(key)).toBe(expected);
          } else {
            version += 1;
            if (at !== -1) model.splice(at, 1);
            else if (model.length >= maxEntries) model = model.slice(1);
            model.push({ key, value: version, expiresAt: c.t + ttlMs });
            cache.set(key, version);
          }
          expect(cache.size).toBe(model.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
