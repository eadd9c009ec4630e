import { describe, expect, it } from 'vitest';
import { canonicalJson, fingerprint } from './fingerprint.js';

describe('fingerprint', () => {
  it('ignores key order and undefined properties', () => {
    expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: undefined, e: new Date(0) })).toBe('{"b":[1,{"c":2,"d":1}],"e":"1970-01-01T00:00:00.000Z"}');
    expect(fingerprint({ x: 1, y: { b: 2, a: 1 } })).toBe(fingerprint({ y: { a: 1, b: 2 }, x: 1 }));
    expect(fingerprint({ x: 1 })).not.toBe(fingerprint({ x: 2 }));
    expect(fingerprint(undefined)).toBe(fingerprint(null));
  });

  it('refuses circular structures', () => {
    const a: Record<string, unknown> = {};
    a['self'] = a;
    expect(() => fingerprint(a)).toThrow(/circular/);
  });
});
