import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { newWorkflowId } from './workflow-id.js';

describe('newWorkflowId', () => {
  it('makes valid UUIDv7s, unique and in creation order across pool refills and within one millisecond', () => {
    // 2,000 ids in one millisecond (a fixed time): the counter orders them; 8 refills of the 256-id random pool.
    const sameMs = Array.from({ length: 2_000 }, () => newWorkflowId(1_800_000_000_000));
    const later = Array.from({ length: 2_000 }, (_, i) => newWorkflowId(1_800_000_000_001 + Math.floor(i / 7)));
    const ids = [...sameMs, ...later];
    for (const id of ids) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // Lexical order is creation order (what the stores' id indexes rely on).
    expect([...ids].sort()).toEqual(ids);
  });

  it('carries the millisecond it was made in', () => {
    const at = 1_800_000_123_456;
    const id = newWorkflowId(at + 10_000);
    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(at + 10_000);
  });

  it('keeps order when the clock steps back: the time stays at the last id', () => {
    const first = newWorkflowId(1_900_000_000_000);
    const second = newWorkflowId(1_899_999_999_000);
    expect(second > first).toBe(true);
  });
});
