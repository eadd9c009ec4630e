/**
 * Freezes a value and every plain object and array inside it, so a cached result shared by many callers cannot be
 * changed by one of them. Already-frozen parts are skipped (which also ends cycles). Returns the value.
 *
 * @example
 * ```ts
 * const v = deepFreeze({ items: [1, 2] });
 * Object.isFrozen(v.items); // true
 * ```
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (Array.isArray(value) || isPlain(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function isPlain(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
