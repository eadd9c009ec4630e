import type { OnexError } from '../errors/onex-error.js';

/**
 * The outcome of a call: a discriminated union, so callers handle failure without try/catch.
 *
 * @example
 * ```ts
 * const r = await node.handle(raw);
 * if (r.ok) use(r.value); else log(r.error.code);
 * ```
 */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: OnexError };

/** A successful {@link Result}. */
export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** A failed {@link Result}. */
export function err<T = never>(error: OnexError): Result<T> {
  return { ok: false, error };
}
