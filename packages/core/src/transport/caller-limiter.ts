/**
 * Calls in flight per caller (a verified principal, else a remote address), with a bound on each and on the number
 * of callers tracked at once. Only callers with a call in flight have an entry, so the map never outgrows
 * `maxCallers`.
 *
 * @internal Used by `createNodeApp`; not part of the public API.
 */
export class CallerLimiter {
  readonly #inFlight = new Map<string, number>();
  readonly #perCaller: number;
  readonly #maxCallers: number;

  constructor(perCaller: number, maxCallers: number) {
    this.#perCaller = perCaller;
    this.#maxCallers = maxCallers;
  }

  /** Callers with at least one call in flight. */
  get callers(): number {
    return this.#inFlight.size;
  }

  /** Takes a slot for `caller`: `'ok'`, or why not (call {@link leave} only after `'ok'`). */
  enter(caller: string): 'ok' | 'caller-busy' | 'too-many-callers' {
    const current = this.#inFlight.get(caller);
    if (current === undefined) {
      if (this.#inFlight.size >= this.#maxCallers) return 'too-many-callers';
      this.#inFlight.set(caller, 1);
      return 'ok';
    }
    if (current >= this.#perCaller) return 'caller-busy';
    this.#inFlight.set(caller, current + 1);
    return 'ok';
  }

  /** Gives back a slot taken by {@link enter}. */
  leave(caller: string): void {
    const current = this.#inFlight.get(caller);
    if (current === undefined) return;
    if (current <= 1) this.#inFlight.delete(caller);
    else this.#inFlight.set(caller, current - 1);
  }
}
