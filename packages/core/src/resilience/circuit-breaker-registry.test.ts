import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors/error-codes.js';
import { isOnexError, OnexError } from '../errors/onex-error.js';
import { BreakerState, type BreakerStateChange, type CircuitBreaker } from './circuit-breaker.js';
import { CircuitBreakerRegistry } from './circuit-breaker-registry.js';

const ok = async (): Promise<string> => 'ok';
const down = async (): Promise<never> => {
  throw new OnexError(ErrorCode.Unavailable, 'peer down');
};

async function fail(b: CircuitBreaker, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const settled = await b.execute(down).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (!isOnexError(settled)) throw new Error('expected an OnexError rejection');
  }
}

describe('CircuitBreakerRegistry', () => {
  it('returns the same breaker per key and separate breakers per key', async () => {
    const changes: BreakerStateChange[] = [];
    const registry = new CircuitBreakerRegistry({
      defaults: { volumeThreshold: 4, resetTimeoutMs: 10_000, timeoutMs: 500 },
      onStateChange: (change) => changes.push(change),
    });
    try {
      const a = registry.get('a', { volumeThreshold: 2 });
      expect(registry.get('a')).toBe(a);
      expect(registry.has('a')).toBe(true);
      expect(registry.has('b')).toBe(false);
      const b = registry.get('b');
      expect(b).not.toBe(a);
      expect(a.options).toMatchObject({ volumeThreshold: 2, resetTimeoutMs: 10_000, timeoutMs: 500 });
      expect(b.options).toMatchObject({ volumeThreshold: 4, resetTimeoutMs: 10_000 });

      await fail(a, 2);
      expect(registry.states()).toEqual({ a: BreakerState.Open, b: BreakerState.Closed });
      await expect(b.execute(ok)).resolves.toBe('ok');
      expect(changes).toEqual([expect.objectContaining({ key: 'a', from: 'closed', to: 'open' })]);
      expect(registry.stats()).toEqual([
        expect.objectContaining({ key: 'a', state: 'open', failures: 2, openings: 1 }),
        expect.objectContaining({ key: 'b', state: 'closed', successes: 1, openings: 0 }),
      ]);
    } finally {
      registry.shutdown();
    }
    expect(registry.has('a')).toBe(false);
    expect(registry.states()).toEqual({});
    expect(() => registry.get('a')).toThrow(expect.objectContaining({ code: ErrorCode.Lifecycle }));
  });

  it('rejects invalid defaults at construction', () => {
    expect(() => new CircuitBreakerRegistry({ defaults: { volumeThreshold: 1.5 } })).toThrow(
      expect.objectContaining({ code: ErrorCode.Validation }),
    );
  });
});
