import type { KeyedRun } from '../idempotency/keyed-run.js';
import { serializeResult } from '../idempotency/stored-outcome.js';
import type { AttemptContext } from '../operation/attempt-context.js';
import { produce, type PreparedOperation } from '../operation/prepared-operation.js';
import type { TransactionManager } from './transaction-manager.js';

/**
 * One attempt of a transactional operation: the run, its output check and — in a keyed run whose store shares the
 * manager's connection — the idempotency completion, all in one transaction, then `COMMIT` (exactly-once). Rolled
 * back when any of them throws, or when the attempt's signal aborts (its timeout, the call's deadline, a lost
 * lease).
 *
 * @internal Used by {@link NodeEffect}.
 */
export async function runInTransaction(
  manager: TransactionManager<unknown>,
  prepared: PreparedOperation,
  input: unknown,
  opCtx: AttemptContext<unknown>,
  keyed: KeyedRun | undefined,
): Promise<unknown> {
  const completeInTx = keyed === undefined ? undefined : prepared.completeInTx;
  let recorded = false;
  let value: unknown;
  try {
    value = await manager.run(
      async (tx, txSignal) => {
        const produced = await produce(prepared, input, opCtx.inTransaction(tx, txSignal));
        if (keyed !== undefined && completeInTx !== undefined) {
          await completeInTx(tx, keyed.scoped, keyed.token, { ok: true, resultJson: serializeResult(produced, prepared.op.name) });
          recorded = true;
          keyed.completingInTx = true;
        }
        return produced;
      },
      { signal: opCtx.signal },
    );
  } finally {
    if (keyed !== undefined) keyed.completingInTx = false;
  }
  if (keyed !== undefined && recorded) keyed.completedInTx = true;
  return value;
}
