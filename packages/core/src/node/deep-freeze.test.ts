import { describe, expect, it } from 'vitest';
import { deepFreeze } from './deep-freeze.js';

describe('deepFreeze', () => {
  it('freezes nested plain objects and arrays, and returns the value', () => {
    const value = { a: { b: [1, { c: 2 }] } };
    expect(deepFreeze(value)).toBe(value);
    expect(Object.isFrozen(value.a)).toBe(true);
    expect(Object.isFrozen(value.a.b)).toBe(true);
    expect(Object.isFrozen(value.a.b[1])).toBe(true);
    expect(() => {
      (value.a.b as unknown[]).push(3);
    }).toThrow(TypeError);
  });

  it('leaves primitives alone and ends on cycles', () => {
    expect(deepFreeze(3)).toBe(3);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(Object.isFrozen(deepFreeze(cyclic))).toBe(true);
  });

  it('leaves class instances alone', () => {
    class Box {
      inner = { n: 1 };
    }
    const box = new Box();
    deepFreeze({ box });
    expect(Object.isFrozen(box)).toBe(false);
    expect(Object.isFrozen(box.inner)).toBe(false);
  });

  it('walks into an already-frozen object: its nested values are frozen too', () => {
    const value = Object.freeze({ tags: ['a'], meta: { n: 1 } });
    deepFreeze(value);
    expect(Object.isFrozen(value.tags)).toBe(true);
    expect(Object.isFrozen(value.meta)).toBe(true);
    expect(() => {
      value.tags.push('b');
    }).toThrow(TypeError);
  });

  it('leaves typed arrays and Buffers writable instead of throwing', () => {
    const value = { bytes: new Uint8Array([1, 2]), buffer: Buffer.from('hi'), list: [new Float64Array([1])] };
    expect(deepFreeze(value)).toBe(value);
    expect(Object.isFrozen(value)).toBe(true);
    expect(Object.isFrozen(value.list)).toBe(true);
    expect(Object.isFrozen(value.bytes)).toBe(false);
    expect(deepFreeze(new Uint8Array([3]))).toEqual(new Uint8Array([3]));
  });
});
