import { ErrorCode, isOnexError, OnexError, toOnexError, toWireError, type CallContext, type ErrorSanitizer, type WireError } from '@onex/core';
import { deepFreeze } from '@onex/core/internal';
import { runAttempts, untilSettled } from '../operation/attempts.js';
import type { PreparedOperation } from '../operation/prepared-operation.js';
import { fingerprint } from './fingerprint.js';
import type { IdempotencyOutcome, IdempotencyStore } from './idempotency-store.js';
import { KeyedRun } from './keyed-run.js';
import { isDefiniteFailure, replayOutcome, serializeResult } from './stored-outcome.js';

interface InFlight {
  readonly fingerprint: string;
  /** The run's result; for a settling entry, a promise that resolves (never rejects) once the key is recorded or released. */
  readonly promise: Promise<unknown>;
  /** Set when the run already answered its caller but its operation still runs, holding the key. */
  readonly settling?: KeyedRun;
}

/**
 * The idempotency path of an effect node: calls that carry a key. A call joins a concurrent duplicate in this
 * process, or claims the key in the store (a replay, a `CONFLICT`, or a run of its own), runs the operation's
 * attempts holding the key — its lease renewed until the operation has settled, also after the caller was answered
 * — and records the outcome: definite outcomes are stored, anything else releases the key (see {@link NodeEffect}
 * for the rules).
 *
 * @internal Made by {@link NodeEffect}.
 */
export class KeyedCalls {
  readonly #node: string;
  readonly #store: IdempotencyStore;
  readonly #sanitizer: ErrorSanitizer;
  readonly #inFlight: Map<string, InFlight>;

  constructor(node: string, store: IdempotencyStore, sanitizer: ErrorSanitizer) {
    this.#node = node;
    this.#store = store;
    this.#sanitizer = sanitizer;
    this.#inFlight = new Map();
  }

  /** Keys with a run in this process (running, or settling after their answer). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** A keyed call: joins a concurrent duplicate in this process, or claims the key in the store and runs. */
  async run(prepared: PreparedOperation, input: unknown, ctx: CallContext, key: string): Promise<unknown> {
    const scoped = `${this.#node}:${prepared.op.name}:${key}`;
    const print = fingerprint(input);
    for (;;) {
      const running = this.#inFlight.get(scoped);
      if (running === undefined) break;
      if (running.fingerprint !== print) throw this.#mismatch(prepared, ctx);
      if (running.settling !== undefined) {
        // The first run answered its caller, but its operation still runs: wait until its key is recorded or
        // released, then ask the store (a replay, or a run of our own).
        await untilSettled(running.promise, ctx.signal, ctx.correlationId);
        continue;
      }
      prepared.stats.dedupHits++;
      try {
        return await running.promise;
      } catch (error) {
        // The first caller gave up (its outcome was released, not stored): run it ourselves unless we gave up too.
        if (isOnexError(error) && error.code === ErrorCode.Cancelled && !ctx.signal.aborted) continue;
        throw error;
      }
    }
    // Every caller joining this key gets this very value: frozen, so one of them cannot change what the others see.
    const promise = this.#claimAndRun(prepared, input, ctx, scoped, print).then((value) => deepFreeze(value));
    const entry: InFlight = { fingerprint: print, promise };
    this.#inFlight.set(scoped, entry);
    try {
      return await promise;
    } finally {
      if (this.#inFlight.get(scoped) === entry) this.#inFlight.delete(scoped);
    }
  }

  /** Node shutdown: runs still holding a key after their answer stop renewing it (their lease lapses, as after a crash). */
  abandonAll(): void {
    for (const entry of this.#inFlight.values()) entry.settling?.abandon();
  }

  async #claimAndRun(prepared: PreparedOperation, input: unknown, ctx: CallContext, scoped: string, print: string): Promise<unknown> {
    const store = this.#store;
    const begun = await this.#storeCall(() => store.begin(scoped, print), ctx);
    switch (begun.kind) {
      case 'completed':
        prepared.stats.dedupHits++;
        return replayOutcome(begun.outcome, prepared.op, ctx.correlationId);
      case 'mismatch':
        throw this.#mismatch(prepared, ctx);
      case 'in_progress':
        prepared.stats.conflicts++;
        throw new OnexError(ErrorCode.Conflict, `Operation '${prepared.op.name}' with this idempotency key is running elsewhere`, {
          correlationId: ctx.correlationId,
          retryable: true,
          retryAfterMs: begun.retryAfterMs,
          // Marks a CONFLICT of the idempotency layer (not the operation's): a call with this key reached the node.
          context: { operation: prepared.op.name, idempotency: 'in_progress' },
        });
      case 'started':
        break;
    }
    const keyed = new KeyedRun(scoped, begun.token);
    keyed.renewEvery(Math.max(1, store.leaseMs / 3), () => {
      this.#renewLease(prepared, ctx, keyed);
    });
    let value: unknown;
    try {
      value = await runAttempts(prepared, input, ctx, keyed);
    } catch (thrown) {
      const error = keyed.lost ?? toOnexError(thrown, { correlationId: ctx.correlationId });
      if (keyed.busy && keyed.lost === undefined) this.#holdUntilSettled(prepared, ctx, keyed, print, error);
      else await this.#recordFailure(ctx, keyed, error);
      throw error;
    }
    keyed.finish();
    if (keyed.completedInTx) return value;
    if (keyed.lost !== undefined) {
      ctx.logger.warn({ operation: prepared.op.name }, 'idempotency lease was lost while the operation ran; its result is not recorded');
      return value;
    }
    await this.#recordResult(prepared, ctx, keyed, value);
    return value;
  }

  /** One lease renewal; a holder that lost the key stops its run. */
  #renewLease(prepared: PreparedOperation, ctx: CallContext, keyed: KeyedRun): void {
    const store = this.#store;
    void Promise.resolve()
      .then(() => store.renew(keyed.scoped, keyed.token))
      .then(
        (held) => {
          // Refused because our own transaction completed the key (the renewal waited for its COMMIT): not a loss.
          if (held || keyed.finished || keyed.completingInTx || keyed.completedInTx) return;
          ctx.logger.warn({ operation: prepared.op.name }, 'idempotency lease lost to another holder; aborting the operation');
          keyed.lose(
            new OnexError(ErrorCode.Conflict, `Operation '${prepared.op.name}' lost its idempotency lease while it ran (the key expired and was taken, or is gone)`, {
              correlationId: ctx.correlationId,
              retryable: true,
              context: { operation: prepared.op.name, idempotency: 'lease_lost' },
            }),
          );
        },
        (error: unknown) => ctx.logger.warn({ err: error }, 'idempotency lease renewal failed'),
      );
  }

  /**
   * The run answered its caller (timeout, cancel, or a failure while an earlier attempt still runs) but an operation
   * is still running: keep the key — renewed — until it settles, then record its late result or apply the failure
   * rules. Duplicates in this process wait on the settling entry.
   */
  #holdUntilSettled(prepared: PreparedOperation, ctx: CallContext, keyed: KeyedRun, print: string, error: OnexError): void {
    const settled = keyed
      .whenIdle()
      .then(async () => {
        if (keyed.finished) return; // abandoned at shutdown
        const late = keyed.lateResult;
        if (late === undefined || keyed.lost !== undefined) {
          await this.#recordFailure(ctx, keyed, error);
          return;
        }
        keyed.finish();
        if (keyed.completedInTx) return; // recorded inside its transaction
        ctx.logger.info({ operation: prepared.op.name, code: error.code }, 'operation finished after its caller was answered; its result is recorded');
        await this.#recordResult(prepared, ctx, keyed, late.value);
      })
      .catch((e: unknown) => ctx.logger.error({ err: e, operation: prepared.op.name }, 'could not settle an idempotent call after its answer'));
    const entry: InFlight = { fingerprint: print, promise: settled, settling: keyed };
    this.#inFlight.set(keyed.scoped, entry);
    void settled.then(() => {
      if (this.#inFlight.get(keyed.scoped) === entry) this.#inFlight.delete(keyed.scoped);
    });
  }

  /** Stores a successful run's result. A result that is not JSON is a stored `CONTRACT` failure, thrown. */
  async #recordResult(prepared: PreparedOperation, ctx: CallContext, keyed: KeyedRun, value: unknown): Promise<void> {
    const store = this.#store;
    let outcome: IdempotencyOutcome;
    try {
      outcome = { ok: true, resultJson: serializeResult(value, prepared.op.name) };
    } catch (thrown) {
      const error = toOnexError(thrown, { correlationId: ctx.correlationId });
      await this.#recordFailure(ctx, keyed, error);
      throw error;
    }
    keyed.finish();
    try {
      const recorded = await this.#storeCall(() => store.complete(keyed.scoped, keyed.token, outcome), ctx);
      if (!recorded) ctx.logger.warn({ operation: prepared.op.name }, 'idempotency lease was lost before the result was recorded');
    } catch (error) {
      // The effect happened: answer with it. The key stays in progress until its lease expires.
      ctx.logger.error({ err: error, operation: prepared.op.name }, 'could not record the result of an idempotent call');
    }
  }

  /** A failed run: a definite failure is stored, anything else releases the key; nothing when the lease was lost. */
  async #recordFailure(ctx: CallContext, keyed: KeyedRun, error: OnexError): Promise<void> {
    keyed.finish();
    if (keyed.lost !== undefined) return;
    const store = this.#store;
    if (isDefiniteFailure(error)) {
      const recorded: IdempotencyOutcome = { ok: false, error: this.#storedError(error) };
      await this.#storeCall(() => store.complete(keyed.scoped, keyed.token, recorded), ctx).catch((e: unknown) =>
        ctx.logger.error({ err: e }, 'could not record the failure of an idempotent call'),
      );
    } else {
      await this.#storeCall(() => store.release(keyed.scoped, keyed.token), ctx).catch((e: unknown) => ctx.logger.warn({ err: e }, 'idempotency release failed'));
    }
  }

  async #storeCall<T>(fn: () => T | Promise<T>, ctx: CallContext): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isOnexError(error)) throw error;
      throw new OnexError(ErrorCode.Unavailable, 'Idempotency store unavailable', { cause: error, correlationId: ctx.correlationId });
    }
  }

  #mismatch(prepared: PreparedOperation, ctx: CallContext): OnexError {
    prepared.stats.conflicts++;
    return new OnexError(ErrorCode.Conflict, `Idempotency key already used with a different input for operation '${prepared.op.name}'`, {
      correlationId: ctx.correlationId,
      context: { operation: prepared.op.name, idempotency: 'mismatch' },
    });
  }

  /** The wire form kept for replay: sanitized, without the first call's correlation id. */
  #storedError(error: OnexError): WireError {
    const { correlationId: _omitted, ...rest } = toWireError(error, { sanitize: this.#sanitizer.forWire }).error;
    return { error: rest };
  }
}
