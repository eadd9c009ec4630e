/**
 * Freezes a value and every plain object and array inside it, so a value handed to many readers (a machine's
 * initial context, a stored snapshot) cannot be changed by one of them. Class instances and typed arrays are left
 * as they are (`Object.freeze` throws on a non-empty typed array); cycles end. Returns the value.
 *
 * @internal
 * @example
 * ```ts
 * const context = deepFreeze({ tags: ['a'] });
 * Object.isFrozen(context.tags); // true
 * ```
 */
export function deepFreeze<T>(value: T, seen = new Set<object>()): T {
  if (typeof value !== 'object' || value === null || seen.has(value)) return value;
  if (!Array.isArray(value) && !isPlain(value)) return value;
  seen.add(value);
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child, seen);
  return value;
}

function isPlain(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
