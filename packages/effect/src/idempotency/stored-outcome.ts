import { ErrorCode, isUnclassifiedError, OnexError } from '@onex/core';
import { validationDetails } from '@onex/core/internal';
import type { AnyEffectOperation } from '../operation/effect-operation.js';
import type { IdempotencyOutcome } from './idempotency-store.js';

/**
 * Whether a failed keyed run's outcome is definite, stored as final: a typed error that is not retryable. Retryable
 * errors, `CANCELLED` and unclassified failures (an `INTERNAL` made of a value nobody understood: whether the effect
 * happened is unknown) release the key instead.
 *
 * @internal Used by the keyed runs of {@link NodeEffect}.
 */
export function isDefiniteFailure(error: OnexError): boolean {
  return !error.retryable && error.code !== ErrorCode.Cancelled && !isUnclassifiedError(error);
}

/**
 * A result as stored: its JSON (`null` for `undefined`).
 *
 * @internal Used by the keyed runs of {@link NodeEffect}.
 * @throws OnexError `CONTRACT` for a result that is not JSON-serializable.
 */
export function serializeResult(value: unknown, operation: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new OnexError(ErrorCode.Contract, `Operation '${operation}' produced a result that is not JSON-serializable`, { cause: error });
  }
  return json ?? 'null';
}

/**
 * A stored outcome, answered again: the stored JSON result re-parsed by the operation's output schema (so a schema
 * that turns JSON into richer values — `z.coerce.date()` — gives them back), or the stored error, thrown.
 *
 * @internal Used by the keyed runs of {@link NodeEffect}.
 */
export function replayOutcome(outcome: IdempotencyOutcome, op: AnyEffectOperation, correlationId: string): unknown {
  const operation = op.name;
  if (outcome.ok) {
    const stored: unknown = JSON.parse(outcome.resultJson);
    let parsed = op.output.safeParse(stored);
    // A result of undefined is stored as null (JSON has no undefined): a `z.void()` output reads it back as undefined.
    if (!parsed.success && stored === null) {
      const absent = op.output.safeParse(undefined);
      if (absent.success) parsed = absent;
    }
    if (!parsed.success) {
      throw new OnexError(ErrorCode.Contract, `Stored result of operation '${operation}' does not fit its output schema (as JSON)`, {
        correlationId,
        details: validationDetails(parsed.error.issues),
        context: { operation, idempotentReplay: true },
      });
    }
    return parsed.data;
  }
  const e = outcome.error.error;
  throw new OnexError(e.code, e.message, {
    correlationId,
    retryable: e.retryable,
    context: { ...e.context, operation, idempotentReplay: true },
    ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs }),
    ...(e.details === undefined ? {} : { details: e.details }),
  });
}
