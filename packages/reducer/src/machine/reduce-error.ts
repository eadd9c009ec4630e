import type { ErrorCode} from '@onex/core';
import { isOnexError, OnexError, type OnexErrorOptions } from '@onex/core';

/**
 * Why an event was rejected, carried as `context.reason` of the {@link OnexError} (its `code` says how to react:
 * `CONFLICT` for an event the state does not allow, `VALIDATION` for a malformed event, `CONTRACT` for a machine
 * whose functions broke its own schemas).
 *
 * @example
 * ```ts
 * const r = reduce(machine, snapshot, event);
 * if (!r.ok && reduceErrorReason(r.error) === ReduceErrorReason.IllegalTransition) console.log('not now');
 * ```
 */
export const ReduceErrorReason = {
  /** No transition leaves the state on this trigger (or the state is terminal). `CONFLICT`. */
  IllegalTransition: 'ILLEGAL_TRANSITION',
  /** Transitions exist, but every guard said no. `CONFLICT`. */
  GuardRejected: 'GUARD_REJECTED',
  /** The event type is not one of the machine's triggers. `VALIDATION`. */
  UnknownEvent: 'UNKNOWN_EVENT',
  /** The payload does not fit the trigger's schema. `VALIDATION`. */
  InvalidPayload: 'INVALID_PAYLOAD',
  /** The snapshot's state is not a state of the machine. `VALIDATION`. */
  UnknownState: 'UNKNOWN_STATE',
  /** An `update` returned a context its schema rejects. `CONTRACT`. */
  InvalidContext: 'INVALID_CONTEXT',
  /** An `emit` returned an intent the machine's intent schemas reject. `CONTRACT`. */
  InvalidIntent: 'INVALID_INTENT',
  /** A reducer node got an event id already applied to the aggregate with a different type or payload. `CONFLICT`. */
  EventIdReused: 'EVENT_ID_REUSED',
} as const;
/** One of the {@link ReduceErrorReason} values. */
export type ReduceErrorReason = (typeof ReduceErrorReason)[keyof typeof ReduceErrorReason];

const REASONS = new Set<string>(Object.values(ReduceErrorReason));

/**
 * The {@link ReduceErrorReason} of an error from `reduce` or a reducer node (also one parsed from the wire), or
 * undefined for any other error.
 *
 * @example
 * ```ts
 * declare function showNotAllowed(): void; // the application's own
 * const r = await client.call({ aggregateId: 'o-1', event });
 * if (!r.ok && reduceErrorReason(r.error) === 'ILLEGAL_TRANSITION') showNotAllowed();
 * ```
 */
export function reduceErrorReason(error: unknown): ReduceErrorReason | undefined {
  if (!isOnexError(error)) return undefined;
  const reason = error.context['reason'];
  return typeof reason === 'string' && REASONS.has(reason) ? (reason as ReduceErrorReason) : undefined;
}

/** Builds a reduce error. @internal */
export function reduceError(
  code: ErrorCode,
  reason: ReduceErrorReason,
  message: string,
  context: Readonly<Record<string, unknown>>,
  options: Omit<OnexErrorOptions, 'context'> = {},
): OnexError {
  return new OnexError(code, message, { ...options, context: { reason, ...context } });
}

/** A copy of `error` with more context (the aggregate id, say). @internal */
export function withErrorContext(error: OnexError, extra: Readonly<Record<string, unknown>>): OnexError {
  const copy = new OnexError(error.code, error.message, {
    cause: error.cause,
    context: { ...error.context, ...extra },
    retryable: error.retryable,
    ...(error.correlationId === undefined ? {} : { correlationId: error.correlationId }),
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    ...(error.details === undefined ? {} : { details: error.details }),
  });
  if (error.stack !== undefined) copy.stack = error.stack;
  return copy;
}

