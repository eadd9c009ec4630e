import type { CallContext, CallerIdentity, Logger } from '@onex/core';
import type { OperationContext } from './effect-operation.js';

/** Makes an attempt's signal from the call's when it is first read (a keyed run adds its lease to it). */
export interface AttemptSignalSource {
  signalFor(base: AbortSignal): AbortSignal;
}

/**
 * The {@link OperationContext} of one attempt: reads the call's fields through to its {@link CallContext} instead of
 * copying them. (In Node 20, every fresh object that points at a call's AbortSignal costs ~3 µs of GC work per
 * call; reading through to the call context avoids one per attempt.)
 *
 * @internal Made by {@link NodeEffect}; user code sees it as an `OperationContext`.
 */
export class AttemptContext<TTx> implements OperationContext<TTx> {
  readonly operation: string;
  readonly attempt: number;
  readonly tx: TTx;
  readonly #base: CallContext;
  #signal: AbortSignal | AttemptSignalSource | undefined;

  /**
   * `signal`: the attempt's own signal; a source that makes it from the call's on first read; or undefined for the
   * call's signal itself.
   */
  constructor(base: CallContext, operation: string, attempt: number, tx: TTx, signal: AbortSignal | AttemptSignalSource | undefined) {
    this.#base = base;
    this.operation = operation;
    this.attempt = attempt;
    this.tx = tx;
    this.#signal = signal;
  }

  get correlationId(): string {
    return this.#base.correlationId;
  }

  get signal(): AbortSignal {
    const signal = this.#signal;
    if (signal === undefined) return this.#base.signal;
    if (signal instanceof AbortSignal) return signal;
    const made = signal.signalFor(this.#base.signal);
    this.#signal = made;
    return made;
  }

  get deadlineAt(): number | undefined {
    return this.#base.deadlineAt;
  }

  get idempotencyKey(): string | undefined {
    return this.#base.idempotencyKey;
  }

  get caller(): CallerIdentity | undefined {
    return this.#base.caller;
  }

  get logger(): Logger {
    return this.#base.logger;
  }

  /** The same attempt inside a transaction. */
  inTransaction<TNext>(tx: TNext, signal: AbortSignal): AttemptContext<TNext> {
    return new AttemptContext(this.#base, this.operation, this.attempt, tx, signal);
  }

  /** A plain copy, for logs and for code that spreads the context. */
  toJSON(): Omit<OperationContext<TTx>, 'logger' | 'signal' | 'tx'> {
    return { correlationId: this.correlationId, deadlineAt: this.deadlineAt, idempotencyKey: this.idempotencyKey, caller: this.caller, operation: this.operation, attempt: this.attempt };
  }
}
