import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { CircuitBreaker, type BreakerState, type BreakerStateChange, type BreakerStats } from './circuit-breaker.js';
import { resolveCircuitBreakerOptions, type CircuitBreakerOptions } from './circuit-breaker-options.js';

/**
 * Options of a {@link CircuitBreakerRegistry}.
 *
 * @example
 * ```ts
 * const options: CircuitBreakerRegistryOptions = { defaults: { timeoutMs: 5_000 } };
 * ```
 */
export interface CircuitBreakerRegistryOptions {
  /** Options every breaker starts from; `get(key, options)` overrides them field by field. */
  readonly defaults?: CircuitBreakerOptions;
  /** Receives the state changes of every breaker of the registry. */
  readonly onStateChange?: (change: BreakerStateChange) => void;
}

/**
 * One {@link CircuitBreaker} per key (a peer or an operation), created on first use. Keys should come from a
 * bounded set: the registry keeps every breaker until {@link shutdown}.
 *
 * @example
 * ```ts
 * import { CircuitBreakerRegistry } from '@onex/core';
 * const breakers = new CircuitBreakerRegistry({
 *   defaults: { timeoutMs: 5_000 },
 *   onStateChange: (change) => log.warn(change, 'circuit breaker state change'),
 * });
 * const inventory = { stock: async (sku: string, _options: { signal: AbortSignal }) => (sku === 'sku-1' ? 3 : 0) };
 * const stock = await breakers.get('inventory').execute((signal) => inventory.stock('sku-1', { signal }));
 * breakers.shutdown();
 * ```
 */
export class CircuitBreakerRegistry {
  readonly #breakers: Map<string, CircuitBreaker>;
  readonly #defaults: CircuitBreakerOptions;
  readonly #onStateChange: ((change: BreakerStateChange) => void) | undefined;
  #isShutdown: boolean;

  /**
   * @throws OnexError `VALIDATION` when `defaults` holds an invalid option.
   */
  constructor(options: CircuitBreakerRegistryOptions = {}) {
    this.#defaults = options.defaults ?? {};
    resolveCircuitBreakerOptions(this.#defaults); // fail at construction, not on the first call
    this.#onStateChange = options.onStateChange;
    this.#breakers = new Map();
    this.#isShutdown = false;
  }

  /**
   * The breaker for `key`, created on first use from `options` merged over the registry's defaults; later
   * `options` for an existing key are ignored.
   *
   * @throws OnexError `VALIDATION` for invalid options, `LIFECYCLE` after {@link shutdown}.
   * @example
   * ```ts
   * const breaker = registry.get('payments', { resetTimeoutMs: 60_000 });
   * ```
   */
  get(key: string, options?: CircuitBreakerOptions): CircuitBreaker {
    const existing = this.#breakers.get(key);
    if (existing !== undefined) return existing;
    if (this.#isShutdown) {
      throw new OnexError(ErrorCode.Lifecycle, 'Circuit breaker registry is shut down', { context: { breaker: key } });
    }
    const breaker = new CircuitBreaker(key, options === undefined ? this.#defaults : { ...this.#defaults, ...options });
    if (this.#onStateChange !== undefined) breaker.onStateChange(this.#onStateChange);
    this.#breakers.set(key, breaker);
    return breaker;
  }

  /**
   * True when a breaker exists for `key`.
   *
   * @example
   * ```ts
   * registry.has('payments'); // false until registry.get('payments')
   * ```
   */
  has(key: string): boolean {
    return this.#breakers.has(key);
  }

  /**
   * The state of every breaker, by key.
   *
   * @example
   * ```ts
   * registry.states(); // { payments: 'closed', inventory: 'open' }
   * ```
   */
  states(): Readonly<Record<string, BreakerState>> {
    const states: Record<string, BreakerState> = {};
    for (const [key, breaker] of this.#breakers) states[key] = breaker.state;
    return states;
  }

  /**
   * The stats of every breaker.
   *
   * @example
   * ```ts
   * for (const s of registry.stats()) metrics.gauge('breaker_failures', s.failures, { peer: s.key });
   * ```
   */
  stats(): readonly BreakerStats[] {
    return Array.from(this.#breakers.values(), (breaker) => breaker.stats());
  }

  /**
   * Shuts every breaker down (clearing opossum's timers) and forgets them; later `get` calls fail with
   * `LIFECYCLE`. Idempotent.
   *
   * @example
   * ```ts
   * import { CircuitBreakerRegistry } from '@onex/core';
   * const registry = new CircuitBreakerRegistry();
   * registry.get('payments');
   * registry.shutdown(); // at the end of the process, after the server closed
   * ```
   */
  shutdown(): void {
    this.#isShutdown = true;
    for (const breaker of this.#breakers.values()) breaker.shutdown();
    this.#breakers.clear();
  }
}
