import type { Logger } from '../logging/logger.js';

/**
 * Who is calling: a peer node, a user, a service account. Either asserted by the caller (`x-onex-caller`, or a
 * client's `caller` option: only `id` and `kind`, not proven), or verified by a node served with `auth`: then `id` is
 * the principal of the key the request was signed with, `scopes` what that key grants, and `verified` is true.
 *
 * @example
 * ```ts
 * import type { CallContext } from '@onex/core';
 * function mayRefund(ctx: CallContext): boolean {
 *   return ctx.caller?.verified === true && ctx.caller.scopes?.includes('payments:refund') === true;
 * }
 * ```
 */
export interface CallerIdentity {
  /** Stable identifier of the caller (a verified caller's principal). */
  readonly id: string;
  /** What kind of caller this is (e.g. `node`, `user`, `service`). */
  readonly kind?: string;
  /** The scopes of a verified caller's key. Absent on an asserted identity. */
  readonly scopes?: readonly string[];
  /** True when the transport verified the identity from a signed request; absent when the caller only named itself. */
  readonly verified?: boolean;
  /** The id of the key a verified request was signed with. */
  readonly keyId?: string;
}

/**
 * Everything a node knows about one call besides its input: who, which correlation id, until when.
 * Built by {@link NodeService.handle}; handed to `process`.
 */
export interface CallContext {
  /** Correlation id shared by every hop of one logical request. */
  readonly correlationId: string;
  /** Aborted when the call's deadline passes or the caller cancels. Pass it to every I/O call. */
  readonly signal: AbortSignal;
  /** Absolute deadline (epoch ms), when there is one. */
  readonly deadlineAt: number | undefined;
  /** Idempotency key of the call, when the caller supplied one. */
  readonly idempotencyKey: string | undefined;
  /** The caller, when known. */
  readonly caller: CallerIdentity | undefined;
  /** A child logger bound to the correlation id and node. */
  readonly logger: Logger;
}

/** Per-call options of {@link NodeService.handle} and of node clients. */
export interface CallOptions {
  /** Correlation id to use; a new one is made when absent. */
  readonly correlationId?: string;
  /** Cancels the call when aborted. */
  readonly signal?: AbortSignal;
  /** Absolute deadline, epoch ms. */
  readonly deadlineAt?: number;
  /** Relative deadline from now, ms (the earlier of this and `deadlineAt` wins). */
  readonly timeoutMs?: number;
  /** Idempotency key: a repeat of the call with the same key must not repeat its effect. */
  readonly idempotencyKey?: string;
  /** The caller. */
  readonly caller?: CallerIdentity;
}

/**
 * The same call context with another signal (e.g. the caller's combined with a breaker's or a per-attempt timeout).
 * Use it rather than spreading a context: the logger and signal of `handle()`'s contexts are lazy getters that a
 * spread would lose.
 *
 * @example
 * ```ts
 * const attemptCtx = withSignal(ctx, AbortSignal.any([ctx.signal, AbortSignal.timeout(1_000)]));
 * ```
 */
export function withSignal(ctx: CallContext, signal: AbortSignal): CallContext {
  return {
    correlationId: ctx.correlationId,
    deadlineAt: ctx.deadlineAt,
    idempotencyKey: ctx.idempotencyKey,
    caller: ctx.caller,
    signal,
    get logger() {
      return ctx.logger;
    },
  };
}
