import type { OnexError } from '../errors/onex-error.js';

/**
 * The outcome of a call: a discriminated union, so callers handle failure without try/catch.
 *
 * @example
 * ```ts
 * import { ErrorCode, OnexError, type Result } from '@onex/core';
 * const r: Result<number> = Math.random() < 2 ? { ok: true, value: 42 } : { ok: false, error: new OnexError(ErrorCode.Internal, 'x') };
 * if (r.ok) console.log(r.value);
 * else console.error(r.error.code);
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
