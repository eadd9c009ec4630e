import { ErrorCode, OnexError, type WireError } from '@onex/core';
import type { IdempotencyOutcome } from './idempotency-store.js';

/**
 * The option `value`, checked: a finite number above 0 (the stores' retention, lease and size options).
 *
 * @internal Shared by the idempotency stores.
 * @throws OnexError `VALIDATION` naming the option.
 */
export function positiveOption(option: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new OnexError(ErrorCode.Validation, `${option} must be a number > 0 (got ${String(value)})`, { details: [{ path: option, message: 'must be > 0' }] });
  }
  return value;
}

/**
 * The outcome a finished key's row holds: its result's JSON text, or else its wire error (JSON text).
 *
 * @internal Shared by the SQL idempotency stores.
 */
export function storedOutcome(row: { readonly result: string | null; readonly error: string | null }): IdempotencyOutcome {
  if (row.result !== null) return { ok: true, resultJson: row.result };
  return { ok: false, error: JSON.parse(row.error ?? 'null') as WireError };
}
