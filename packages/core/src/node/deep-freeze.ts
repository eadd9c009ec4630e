/**
 * Freezes a value and every plain object and array inside it, so a value shared by many readers (a cached result,
 * the result handed to every caller of one idempotency key, a machine's initial context) cannot be changed by one of
 * them. Frozen parts are still walked (a frozen object may hold writable ones); cycles end.
 * Anything else — typed arrays and `Buffer`s (which cannot be frozen), class instances — is left as it is. Returns
 * the value.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 *
 * @example
 * ```ts
 * import { deepFreeze } from '@onex/core/internal';
 * const v = deepFreeze({ items: [1, 2] });
 * Object.isFrozen(v.items); // true
 * ```
 */
export function deepFreeze<T>(value: T, seen = new Set<object>()): T {
  if (typeof value !== 'object' || value === null || seen.has(value)) return value;
  if (!Array.isArray(value) && !isPlain(value)) return value; // typed arrays cannot be frozen; class instances are not ours
  seen.add(value);
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child, seen);
  return value;
}

function isPlain(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
