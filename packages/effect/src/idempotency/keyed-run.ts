import type { OnexError } from '@onex/core';
import { onAbort } from '@onex/core/internal';

/** Stops one attempt that is still running: rejects it at once and aborts its signal with `reason`. */
export type StopAttempt = (reason: unknown) => void;

/**
 * One run of an operation under an idempotency key, from the claim to the record: the holder's lease token and its
 * renewal, the attempts whose operation is still running, and whether the lease was lost.
 *
 * An attempt stopped by its timeout or a cancellation answers at once, but its operation may keep running (it may
 * ignore its signal): the run counts it as running until its promise settles, so the key stays held — renewed —
 * until then, a retry of the run waits for it rather than run beside it, and a result it produces late is kept (it is
 * the run's result, or recorded after the caller's answer). When a renewal answers that the lease is lost,
 * {@link lose} stops every running attempt and aborts the signal handed to the operation; nothing is recorded.
 *
 * @internal Made by {@link NodeEffect} for each keyed call that claimed its key.
 */
export class KeyedRun {
  /** The scoped key, `<node>:<operation>:<key>`. */
  readonly scoped: string;
  /** The holder's lease token. */
  readonly token: string;
  /** The completion was written inside the operation's transaction. */
  completedInTx: boolean;
  /**
   * The completion is written in the operation's transaction, not committed yet: the record is ours until the
   * transaction ends, so a renewal refused meanwhile (it waited for our COMMIT, then found the key completed) is no
   * loss of the lease.
   */
  completingInTx: boolean;
  /** Attempts with their own signal whose operation has not settled; made on the first one. */
  #running: Set<StopAttempt> | undefined;
  #late: { readonly value: unknown } | undefined;
  #lost: OnexError | undefined;
  #finished: boolean;
  #renewal: NodeJS.Timeout | undefined;
  #idle: (() => void)[] | undefined;
  /** The signal of attempts without their own (the call's, plus the lease): made when first read. */
  #lease: AbortController | undefined;
  #unlink: (() => void) | undefined;

  constructor(scoped: string, token: string) {
    this.scoped = scoped;
    this.token = token;
    this.completedInTx = false;
    this.completingInTx = false;
    this.#running = undefined;
    this.#late = undefined;
    this.#lost = undefined;
    this.#finished = false;
    this.#renewal = undefined;
    this.#idle = undefined;
    this.#lease = undefined;
    this.#unlink = undefined;
  }

  /** Why the lease was lost (a retryable `CONFLICT`), or undefined while it is held. */
  get lost(): OnexError | undefined {
    return this.#lost;
  }

  /** True once the run recorded or released its key, or was abandoned: later renewals and results are ignored. */
  get finished(): boolean {
    return this.#finished;
  }

  /** True while an attempt that already answered (timed out, cancelled) still runs its operation. */
  get busy(): boolean {
    return this.#running !== undefined && this.#running.size > 0;
  }

  /** The value an attempt produced after it had answered with a timeout or cancellation, if one did. */
  get lateResult(): { readonly value: unknown } | undefined {
    return this.#late;
  }

  /** Calls `renew` every `intervalMs` (an unref'ed timer) until the run finishes or loses its lease. */
  renewEvery(intervalMs: number, renew: () => void): void {
    this.#renewal = setInterval(renew, intervalMs);
    this.#renewal.unref();
  }

  /** An attempt with its own signal started; {@link lose} stops it. */
  attemptStarted(stop: StopAttempt): void {
    (this.#running ??= new Set()).add(stop);
  }

  /** The operation of an attempt settled; `late` is its value when it succeeded after the attempt was stopped. */
  attemptSettled(stop: StopAttempt, late?: { readonly value: unknown }): void {
    this.#running?.delete(stop);
    if (late !== undefined && this.#late === undefined) this.#late = late;
    if (!this.busy) this.#wake();
  }

  /** Resolves once no attempt runs any more, or the lease is lost, or the run is abandoned. Never rejects. */
  whenIdle(): Promise<void> {
    if (!this.busy || this.#lost !== undefined || this.#finished) return Promise.resolve();
    return new Promise<void>((resolve) => {
      (this.#idle ??= []).push(resolve);
    });
  }

  /**
   * The signal for attempts that have none of their own: aborted with the call's reason when `base` aborts, or with
   * the lease-lost error. Made on first use, so a run whose operation never reads its signal pays nothing for it.
   */
  signalFor(base: AbortSignal): AbortSignal {
    if (this.#lease === undefined) {
      const lease = new AbortController();
      this.#lease = lease;
      if (this.#lost !== undefined) lease.abort(this.#lost);
      else this.#unlink = onAbort(base, (reason) => lease.abort(reason));
    }
    return this.#lease.signal;
  }

  /** The lease is lost: stop renewing, stop every running attempt and abort the operation's signal with `reason`. */
  lose(reason: OnexError): void {
    if (this.#finished || this.#lost !== undefined) return;
    this.#lost = reason;
    clearInterval(this.#renewal);
    if (this.#running !== undefined) for (const stop of this.#running) stop(reason);
    this.#lease?.abort(reason);
    this.#wake();
  }

  /** The run records or releases its key now: stop renewing; later renewals and late results are ignored. */
  finish(): void {
    this.#finished = true;
    clearInterval(this.#renewal);
    this.#unlink?.();
    this.#unlink = undefined;
  }

  /** Gives the key up without recording anything (node shutdown): its lease lapses as if the process had crashed. */
  abandon(): void {
    this.finish();
    this.#wake();
  }

  #wake(): void {
    const idle = this.#idle;
    this.#idle = undefined;
    if (idle !== undefined) for (const resolve of idle) resolve();
  }
}
