import { expectTypeOf, test } from 'vitest';
import { onAbort, raceAbort } from './abort.js';

test('raceAbort keeps the work type', () => {
  expectTypeOf(raceAbort(Promise.resolve(1 as const), undefined)).toEqualTypeOf<Promise<1>>();
  expectTypeOf(onAbort).returns.toEqualTypeOf<() => void>();
  // @ts-expect-error the listener takes the reason, not a number-returning thunk of two arguments
  onAbort(undefined, (a: unknown, b: number) => a === b);
});
