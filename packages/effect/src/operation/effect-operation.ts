import { ErrorCode, OnexError, type CallContext, type CircuitBreakerOptions, type RetryPolicyOptions, type Schema } from '@onex/core';
import type { z } from 'zod';

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
 * What {@link defineOperation} takes.
 *
 * @example
 * ```ts
 * const definition: OperationDefinition<'ping', typeof In, typeof Out, undefined> = {
 *   name: 'ping', input: In, output: Out, run: async () => ({ pong: true }),
 * };
 * ```
 */
export interface OperationDefinition<TName extends string, TInput extends Schema, TOutput extends Schema, TTx> {
  /** Operation name: letters, digits, `_`, `.`, `-`; starts with a letter. Scopes idempotency keys. */
  readonly name: TName;
  /** One sentence for people. */
  readonly description?: string;
  /** Schema of the operation's input. */
  readonly input: TInput;
  /**
   * Schema of its result. Results are stored as JSON and re-parsed by this schema on replay: the result must be
   * JSON-serializable and the schema must accept its JSON form (`z.coerce.date()`, not `z.date()`).
   */
  readonly output: TOutput;
  /** The side effect. Honour `ctx.signal`. */
  readonly run: (input: z.output<TInput>, ctx: OperationContext<TTx>) => Promise<z.input<TOutput>>;
  /**
   * Retry policy of the operation (core's {@link RetryPolicyOptions}; by default retryable errors are retried, 3
   * attempts). A non-idempotent operation called without an idempotency key is never retried.
   */
  readonly retry?: RetryPolicyOptions;
  /**
   * Per-attempt timeout, ms: the attempt's signal aborts and the attempt fails with a retryable `TIMEOUT` at once. A
   * `run` that ignores its signal keeps running: under an idempotency key, the key stays held until it settles.
   */
  readonly timeoutMs?: number;
  /**
   * The operation's own circuit breaker (key `op:<node>:<operation>` in the node's registry), or `false` for none.
   * Its own timeout is off by default (`timeoutMs` above applies).
   */
  readonly breaker?: CircuitBreakerOptions | false;
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
 * const operations: readonly EffectOperation[] = [charge, refund];
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
// The transaction type is erased here: `run` is contravariant in it, so only `any` admits every operation.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEffectOperation = EffectOperation<string, Schema, Schema, any>;

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
  if (definition.timeoutMs !== undefined && !(Number.isFinite(definition.timeoutMs) && definition.timeoutMs > 0)) {
    throw new OnexError(ErrorCode.Contract, `Operation '${definition.name}': timeoutMs must be a number > 0`);
  }
  return Object.freeze({ ...definition, idempotent: definition.idempotent ?? true, transactional: definition.transactional ?? false });
}
