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

  it('does not walk into class instances', () => {
    class Box {
      inner = { n: 1 };
    }
    const box = new Box();
    deepFreeze({ box });
    expect(Object.isFrozen(box)).toBe(true);
    expect(Object.isFrozen(box.inner)).toBe(false);
  });
});
