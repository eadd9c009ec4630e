import { ErrorCode, OnexError, type CircuitBreaker, type RetryPolicy } from '@onex/core';
import { validationDetails } from '@onex/core/internal';
import type { TransactionalCompletion } from '../idempotency/idempotency-store.js';
import type { KeyedRun } from '../idempotency/keyed-run.js';
import type { OperationCounters } from '../node/operation-stats.js';
import type { AttemptContext } from './attempt-context.js';
import type { AnyEffectOperation, OperationContext } from './effect-operation.js';

/**
 * An operation as a node runs it: its settings with the node's defaults applied, its breaker, its counters, and
 * its call chain (interceptors composed around the node's `invokeOperation`), all made once at construction.
 *
 * @internal Made by {@link NodeEffect}.
 */
export interface PreparedOperation {
  readonly op: AnyEffectOperation;
  /** `effect <operation>`, the name of its span, made once. */
  readonly spanName: string;
  /** Per-attempt timeout, ms (the operation's own or the node's default). */
  readonly timeoutMs: number | undefined;
  readonly retry: RetryPolicy;
  readonly breaker: CircuitBreaker | undefined;
  /** The breaker has its own timeout, so its signal may abort an attempt. */
  readonly breakerTimes: boolean;
  readonly stats: OperationCounters;
  /** Writes the idempotency completion inside the operation's transaction (exactly-once), when the store can. */
  readonly completeInTx: TransactionalCompletion | undefined;
  /** `run` behind the interceptors; the result is not checked yet (see {@link produce}). */
  readonly call: (input: unknown, ctx: OperationContext<unknown>) => Promise<unknown>;
  /**
   * One attempt's work once its signal is set: {@link produce}, inside a transaction for a transactional operation.
   * `keyed` is the keyed run the attempt belongs to, if any.
   */
  readonly work: (input: unknown, opCtx: AttemptContext<unknown>, keyed: KeyedRun | undefined) => Promise<unknown>;
}

/**
 * Runs the operation's call chain and checks its result against the operation's output schema.
 *
 * @internal Used by {@link NodeEffect}.
 * @throws OnexError `CONTRACT` for a result that breaks the schema; otherwise what the chain threw.
 */
export async function produce(prepared: Pick<PreparedOperation, 'op' | 'call'>, input: unknown, opCtx: OperationContext<unknown>): Promise<unknown> {
  const produced = await prepared.call(input, opCtx);
  const parsed = prepared.op.output.safeParse(produced);
  if (!parsed.success) {
    throw new OnexError(ErrorCode.Contract, `Operation '${prepared.op.name}' produced output that breaks its schema`, {
      correlationId: opCtx.correlationId,
      details: validationDetails(parsed.error.issues),
    });
  }
  return parsed.data;
}
