import { ErrorCode, OnexError, type CallContext, type CircuitBreakerOptions, type Interceptor, type RetryPolicyOptions, type Schema } from '@onex/core';
import type { z } from 'zod';
import { isPositive } from './operation-defaults.js';
import type { OperationSignature } from './operation-signature.js';

/**
 * What an operation's `run` receives besides its input: the call's context, plus the attempt number, the attempt's
 * own signal (aborted at the operation's timeout, the call's deadline or cancellation, and when a keyed call loses its
 * idempotency lease — pass it to every I/O call) and, for a transactional operation, the transaction handle.
 *
 * The call's fields are getters reading through to the call context: pass the context on, or read its fields;
 * `{ ...ctx }` does not copy them.
 *
 * @example
 * ```ts
 * const run = async (input: { to: string }, ctx: OperationContext) => {
 *   ctx.logger.info({ attempt: ctx.attempt }, 'sending');
 *   return mailer.send(input.to, { signal: ctx.signal, idempotencyKey: ctx.idempotencyKey });
 * };
 * ```
 */
export interface OperationContext<TTx = undefined> extends CallContext {
  /** The operation's name. */
  readonly operation: string;
  /** 1 for the first attempt, 2 for the first retry, … */
  readonly attempt: number;
  /** The transaction the operation runs in (transactional operations), else `undefined`. */
  readonly tx: TTx;
}

/**
 * An interceptor of an operation's attempts (core's {@link Interceptor} shape): it wraps `run` in every attempt —
 * inside the attempt's timeout, its breaker and, for a transactional operation, its transaction (`ctx.tx`) — and
 * before the result is checked against the output schema. It may change the input, answer without calling `next`
 * (a cache), or throw (the attempt's failure, retried per the operation's policy). Composed once, when the node is
 * built: the node definition's `defaults.interceptors` first (outermost), then the operation's own.
 *
 * `OperationInterceptor` (the default type arguments: `unknown` in and out) fits `defaults.interceptors`; an
 * operation's own list is typed by the operation, so one interceptor meant for both is written generic:
 * `<TIn, TOut>(input: TIn, ctx: OperationContext<unknown>, next: (input: TIn) => Promise<TOut>) => Promise<TOut>`.
 *
 * @example
 * ```ts
 * import type { OperationInterceptor } from '@onex/effect';
 * const timed: OperationInterceptor = async (input, ctx, next) => {
 *   const started = performance.now();
 *   try {
 *     return await next(input);
 *   } finally {
 *     ctx.logger.debug({ operation: ctx.operation, attempt: ctx.attempt, ms: performance.now() - started }, 'attempt');
 *   }
 * };
 * ```
 */
export type OperationInterceptor<TInput = unknown, TOutput = unknown, TTx = unknown> = Interceptor<TInput, TOutput, OperationContext<TTx>>;

/**
 * What {@link defineOperation} takes. `retry`, `timeoutMs` and `breaker` left out here come from the node
 * definition's `defaults` ({@link OperationDefaults}); given here, they replace the default's whole value.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { OperationDefinition } from '@onex/effect';
 * const In = z.object({ host: z.string() });
 * const Out = z.object({ pong: z.boolean() });
 * const definition: OperationDefinition<'ping', typeof In, typeof Out, undefined> = {
 *   name: 'ping', input: In, output: Out, run: async () => ({ pong: true }),
 * };
 * ```
 */
export interface OperationDefinition<TName extends string, TInput extends Schema, TOutput extends Schema, TTx> extends OperationSignature<TName, TInput, TOutput> {
  /** The side effect. Honour `ctx.signal`. */
  readonly run: (input: z.output<TInput>, ctx: OperationContext<TTx>) => Promise<z.input<TOutput>>;
  /**
   * Retry policy of the operation (core's {@link RetryPolicyOptions}). Default: the node's `defaults.retry`, else
   * retryable errors are retried, 3 attempts. A non-idempotent operation called without an idempotency key is never
   * retried.
   */
  readonly retry?: RetryPolicyOptions;
  /**
   * Per-attempt timeout, ms: the attempt's signal aborts and the attempt fails with a retryable `TIMEOUT` at once. A
   * `run` that ignores its signal keeps running: under an idempotency key, the key stays held until it settles.
   * Default: the node's `defaults.timeoutMs`, else none (the call's deadline still applies).
   */
  readonly timeoutMs?: number;
  /**
   * The operation's own circuit breaker (key `op:<node>:<operation>` in the node's registry), or `false` for none.
   * Its own timeout is off by default (`timeoutMs` above applies). Default: the node's `defaults.breaker`, else a
   * breaker with core's default settings.
   */
  readonly breaker?: CircuitBreakerOptions | false;
  /**
   * Interceptors of each attempt, inside the node's `defaults.interceptors` (see {@link OperationInterceptor}). They
   * see the operation's parsed input and its result as `run` answers it; `ctx.tx` is `unknown` to them (the
   * transaction's type is only known from `run`'s own annotation).
   */
  readonly interceptors?: readonly OperationInterceptor<z.output<TInput>, z.input<TOutput>>[];
  /**
   * Whether running the operation twice has the effect of running it once. Default true. A non-idempotent
   * operation is retried only when the call carries an idempotency key.
   */
  readonly idempotent?: boolean;
  /** Run inside a transaction of the node's transaction manager; rolled back on error or timeout. Default false. */
  readonly transactional?: boolean;
}

/**
 * A declared operation of an effect node, as made by {@link defineOperation}.
 *
 * @example
 * ```ts
 * const op: EffectOperation<'charge', typeof ChargeIn, typeof ChargeOut, undefined> = charge;
 * op.idempotent; // true (the default): retried even without an idempotency key
 * const operations: readonly AnyEffectOperation[] = [charge, refund]; // a list of any operations
 * ```
 */
export interface EffectOperation<TName extends string = string, TInput extends Schema = Schema, TOutput extends Schema = Schema, TTx = unknown>
  extends OperationDefinition<TName, TInput, TOutput, TTx> {
  readonly idempotent: boolean;
  readonly transactional: boolean;
}

/**
 * Any operation, whatever its types: what a node's operation list holds.
 *
 * @example
 * ```ts
 * const byName = new Map<string, AnyEffectOperation>(operations.map((op) => [op.name, op]));
 * ```
 */
// The transaction type is `never` here: `run` is contravariant in it, so only the bottom type admits every
// operation (whatever its `ctx.tx`); the node hands `run` the transaction its manager opened.
export type AnyEffectOperation = EffectOperation<string, Schema, Schema, never>;

const OPERATION_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/**
 * Declares one operation of an effect node: its name, input and output schemas, the side effect, and how it is
 * made safe (retry, timeout, breaker, idempotency, transaction). Annotate `ctx` to type the transaction handle.
 *
 * @throws OnexError `CONTRACT` for an invalid name or option.
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineOperation, type OperationContext } from '@onex/effect';
 * import type { SqliteTransaction } from '@onex/effect/sqlite';
 * export const credit = defineOperation({
 *   name: 'credit',
 *   input: z.object({ account: z.string(), amount: z.number().int().positive() }),
 *   output: z.object({ balance: z.number() }),
 *   transactional: true,
 *   timeoutMs: 2_000,
 *   run: async ({ account, amount }, ctx: OperationContext<SqliteTransaction>) => {
 *     ctx.tx.run('UPDATE accounts SET balance = balance + ? WHERE id = ?', amount, account);
 *     return { balance: ctx.tx.get<{ balance: number }>('SELECT balance FROM accounts WHERE id = ?', account)!.balance };
 *   },
 * });
 * ```
 */
export function defineOperation<TName extends string, TInput extends Schema, TOutput extends Schema, TTx = undefined>(
  definition: OperationDefinition<TName, TInput, TOutput, TTx>,
): EffectOperation<TName, TInput, TOutput, TTx> {
  if (!OPERATION_NAME.test(definition.name)) {
    throw new OnexError(ErrorCode.Contract, `Invalid operation name '${definition.name}': use letters, digits, '_', '.', '-', starting with a letter`);
  }
  if (typeof definition.run !== 'function') throw new OnexError(ErrorCode.Contract, `Operation '${definition.name}' has no run function`);
  if (definition.timeoutMs !== undefined && !isPositive(definition.timeoutMs)) {
    throw new OnexError(ErrorCode.Contract, `Operation '${definition.name}': timeoutMs must be a number > 0`);
  }
  if (definition.interceptors !== undefined && !definition.interceptors.every((i) => typeof i === 'function')) {
    throw new OnexError(ErrorCode.Contract, `Operation '${definition.name}': every interceptor must be a function`);
  }
  return Object.freeze({
    ...definition,
    ...(definition.interceptors === undefined ? {} : { interceptors: Object.freeze([...definition.interceptors]) }),
    idempotent: definition.idempotent ?? true,
    transactional: definition.transactional ?? false,
  });
}
