import { CircuitBreakerRegistry, type BreakerStateChange, type CircuitBreakerOptions } from '@onex/core';

/** What `GET /v1/breakers` answers: openings per breaker and the last transitions. */
export interface BreakerReport {
  readonly openings: Readonly<Record<string, number>>;
  readonly states: Readonly<Record<string, string>>;
  readonly transitions: readonly BreakerStateChange[];
}

const MAX_TRANSITIONS = 200;

/**
 * A breaker registry that remembers how often each breaker opened (the registry itself only knows current states),
 * with a bounded log of the last transitions.
 */
export class BreakerLog {
  readonly registry: CircuitBreakerRegistry;
  readonly #openings = new Map<string, number>();
  readonly #transitions: BreakerStateChange[] = [];

  constructor(defaults: CircuitBreakerOptions) {
    this.registry = new CircuitBreakerRegistry({ defaults, onStateChange: (change) => this.#record(change) });
  }

  /** Openings, current states and recent transitions. */
  report(): BreakerReport {
    return { openings: Object.fromEntries(this.#openings), states: this.registry.states(), transitions: [...this.#transitions] };
  }

  #record(change: BreakerStateChange): void {
    if (change.to === 'open') this.#openings.set(change.key, (this.#openings.get(change.key) ?? 0) + 1);
    this.#transitions.push(change);
    if (this.#transitions.length > MAX_TRANSITIONS) this.#transitions.shift();
  }
}
