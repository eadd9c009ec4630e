import { EventEmitter } from 'node:events';
import OpossumBreaker from 'opossum';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError, toOnexError } from '../errors/onex-error.js';

/**
 * The states of a {@link CircuitBreaker}: `closed` lets calls through, `open` fails them fast, `half_open` lets a
 * few probe calls through to find out whether the peer has recovered.
 *
 * @example
 * ```ts
 * if (breaker.state === BreakerState.Open) log.warn({ peer: breaker.key }, 'peer circuit open');
 * ```
 */
export const BreakerState = {
  Closed: 'closed',
  Open: 'open',
  HalfOpen: 'half_open',
} as const;

/** One of the {@link BreakerState} values. */
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/**
 * When a {@link CircuitBreaker} opens and how it recovers. Every field is optional; see
 * {@link DEFAULT_CIRCUIT_BREAKER_OPTIONS} for the defaults.
 *
 * @example
 * ```ts
 * const options: CircuitBreakerOptions = { timeoutMs: 2_000, volumeThreshold: 20, resetTimeoutMs: 5_000 };
 * ```
 */
export interface CircuitBreakerOptions {
  /**
   * A call running longer than this fails with `TIMEOUT`, counts as a failure, and the signal handed to it is
   * aborted. `false` disables the timeout. Default 10 000.
   */
  readonly timeoutMs?: number | false;
  /** The breaker opens when the failure rate in the rolling window exceeds this percentage (0–100). Default 50. */
  readonly errorThresholdPercentage?: number;
  /** Minimum number of calls in the rolling window before the breaker may open. Default 10. */
  readonly volumeThreshold?: number;
  /** How long the breaker stays open before letting probes through (half-open), in ms. Default 30 000. */
  readonly resetTimeoutMs?: number;
  /**
   * Length of the rolling statistics window, in ms. The window is emptied when the breaker closes after a
   * successful half-open probe. Default 10 000.
   */
  readonly rollingWindowMs?: number;
  /** Number of buckets the rolling window is divided into. Default 10. */
  readonly rollingBuckets?: number;
  /**
   * Calls let through concurrently while half-open; further calls fail fast with `CIRCUIT_OPEN`. The first probe
   * that succeeds closes the breaker, the first that fails re-opens it. Default 1.
   */
  readonly halfOpenMaxProbes?: number;
  /**
   * Whether an error counts against the peer's health. Default: `error.retryable` or code `INTERNAL`,
   * `UNAVAILABLE` or `TIMEOUT`. A `VALIDATION` or `NOT_FOUND` answer proves the peer is up, so it counts as a
   * success; so does a `CANCELLED` call (the caller gave up, the peer did nothing wrong).
   */
  readonly isFailure?: (error: OnexError) => boolean;
}

/**
 * The settings of a {@link CircuitBreaker} with every default applied.
 *
 * @example
 * ```ts
 * const settings: ResolvedCircuitBreakerOptions = breaker.options;
 * ```
 */
export type ResolvedCircuitBreakerOptions = Readonly<Required<CircuitBreakerOptions>>;

const FAILURE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([ErrorCode.Internal, ErrorCode.Unavailable, ErrorCode.Timeout]);

/**
 * The documented defaults of {@link CircuitBreakerOptions}.
 *
 * @example
 * ```ts
 * const isFailure = (e: OnexError) => DEFAULT_CIRCUIT_BREAKER_OPTIONS.isFailure(e) || e.code === ErrorCode.Conflict;
 * ```
 */
export const DEFAULT_CIRCUIT_BREAKER_OPTIONS: ResolvedCircuitBreakerOptions = Object.freeze({
  timeoutMs: 10_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  resetTimeoutMs: 30_000,
  rollingWindowMs: 10_000,
  rollingBuckets: 10,
  halfOpenMaxProbes: 1,
  isFailure: (error: OnexError): boolean => error.retryable || FAILURE_CODES.has(error.code),
});

/**
 * A transition of a {@link CircuitBreaker}, as reported to {@link CircuitBreaker.onStateChange}.
 *
 * @example
 * ```ts
 * breaker.onStateChange(({ key, from, to }) => log.warn({ key, from, to }, 'circuit breaker state change'));
 * ```
 */
export interface BreakerStateChange {
  readonly key: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** Epoch ms of the transition. */
  readonly at: number;
}

/**
 * Counters of a {@link CircuitBreaker} since it was created.
 *
 * @example
 * ```ts
 * const { failures, rejections } = breaker.stats();
 * ```
 */
export interface BreakerStats {
  readonly key: string;
  readonly state: BreakerState;
  /** Calls that completed without a failure (including errors `isFailure` does not count). */
  readonly successes: number;
  /** Calls that failed in a way `isFailure` counts, timeouts included. */
  readonly failures: number;
  /** Calls failed fast with `CIRCUIT_OPEN` without reaching the peer. */
  readonly rejections: number;
  /** Calls that exceeded `timeoutMs` (also counted in `failures`). */
  readonly timeouts: number;
  /** How many times the breaker has opened since it was created. */
  readonly openings: number;
  /** Epoch ms at which the breaker last opened; present while it is open or half-open. */
  readonly openedAt?: number;
}

/** What one `execute` hands to opossum; the action and the error filter fill in the outcome. */
interface Call {
  readonly fn: (signal: AbortSignal) => Promise<unknown>;
  readonly signal: AbortSignal;
  error: OnexError | undefined;
  failure: boolean | undefined;
}

type Outcome = 'success' | 'failure' | 'neutral';

const NOT_A_PROBE = -1;

/** A signal that never aborts, handed to calls of breakers without a timeout. */
const IDLE_SIGNAL: AbortSignal = new AbortController().signal;

/**
 * Stops calling a failing peer for a while: once the failure rate in a rolling window passes a threshold the
 * breaker opens and calls fail fast with `CIRCUIT_OPEN` (carrying `retryAfterMs`); after `resetTimeoutMs` it lets
 * `halfOpenMaxProbes` probe calls through and closes on the first success or re-opens on the first failure. Closing
 * after a successful probe starts the rolling window afresh: the failures that opened the breaker are forgotten,
 * so one failure right after recovery does not re-open it (the thresholds apply to calls made since).
 *
 * Built on opossum (rolling window, threshold, reset timer, per-call timeout), which stays an implementation
 * detail: errors are {@link OnexError}s, the half-open gate and the per-call `AbortSignal` are ours (opossum's
 * abort controller is shared by all calls of a breaker). Its timers are `unref`ed; call {@link shutdown} to clear
 * them. Usually obtained from a {@link CircuitBreakerRegistry}, one per peer or operation.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, ErrorCode } from '@onex/core';
 * const breaker = new CircuitBreaker('pricing-service', { timeoutMs: 2_000 });
 * const quote = await breaker.execute((signal) => fetch(url, { signal }).then((r) => r.json()));
 * ```
 */
export class CircuitBreaker {
  /** The peer or operation this breaker guards. */
  readonly key: string;
  /** The settings, defaults applied. */
  readonly options: ResolvedCircuitBreakerOptions;
  readonly #opossum: OpossumBreaker<[Call], unknown>;
  readonly #listeners: Set<(change: BreakerStateChange) => void>;
  /** Rotates opossum's rolling window (its `rotateBucketController`), so that a recovery can start it afresh. */
  readonly #rotation: EventEmitter;
  readonly #rotationTimer: NodeJS.Timeout;
  #state: BreakerState;
  #openedAt: number | undefined;
  /** Incremented on each entry into half-open, so late probes of an earlier round are ignored. */
  #halfOpenRound: number;
  #probesInFlight: number;
  #successes: number;
  #failures: number;
  #rejections: number;
  #timeouts: number;
  #openings: number;
  #isShutdown: boolean;

  /**
   * @throws OnexError `VALIDATION` naming the first invalid option.
   */
  constructor(key: string, options: CircuitBreakerOptions = {}) {
    if (typeof key !== 'string' || key.length === 0) invalid('key', 'a non-empty string');
    this.key = key;
    this.options = resolveOptions(options);
    this.#listeners = new Set();
    this.#state = BreakerState.Closed;
    this.#openedAt = undefined;
    this.#halfOpenRound = 0;
    this.#probesInFlight = 0;
    this.#successes = 0;
    this.#failures = 0;
    this.#rejections = 0;
    this.#timeouts = 0;
    this.#openings = 0;
    this.#isShutdown = false;

    const isFailure = this.options.isFailure;
    const action = async (call: Call): Promise<unknown> => {
      try {
        return await call.fn(call.signal);
      } catch (thrown) {
        const error = toOnexError(thrown);
        call.error = error;
        call.failure = isFailure(error);
        throw error;
      }
    };
    // opossum passes the fired arguments after the error; `true` means "not a failure" (counted as a success).
    const errorFilter = (error: unknown, call?: Call): boolean => !isOpossumError(error) && call?.failure === false;
    // The window's buckets rotate on our events rather than opossum's own interval (the same one timer), because
    // opossum 9 has no way to clear the window: `rollingBuckets` rotations in a row replace every bucket.
    this.#rotation = new EventEmitter();
    this.#rotationTimer = setInterval(() => this.#rotation.emit('rotate'), Math.floor(this.options.rollingWindowMs / this.options.rollingBuckets));
    this.#rotationTimer.unref();

    this.#opossum = new OpossumBreaker<[Call], unknown>(action, {
      name: key,
      timeout: this.options.timeoutMs,
      errorThresholdPercentage: this.options.errorThresholdPercentage,
      volumeThreshold: this.options.volumeThreshold,
      resetTimeout: this.options.resetTimeoutMs,
      rollingCountTimeout: this.options.rollingWindowMs,
      rollingCountBuckets: this.options.rollingBuckets,
      errorFilter,
      allowWarmUp: false,
      // Percentiles sort every latency in the window on each failure; snapshots add a timer per breaker.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: this.#rotation,
    });
    this.#opossum.on('success', () => {
      this.#successes++;
    });
    this.#opossum.on('failure', () => {
      this.#failures++;
    });
    this.#opossum.on('timeout', () => {
      this.#timeouts++;
    });
    this.#opossum.on('open', () => {
      this.#openedAt = Date.now();
      this.#transition(BreakerState.Open);
    });
    this.#opossum.on('halfOpen', () => {
      // opossum lets exactly one call through while half-open; we gate probes ourselves, so its circuit is
      // closed and our state machine decides how a probe's outcome moves the breaker.
      this.#halfOpenRound++;
      this.#probesInFlight = 0;
      this.#opossum.close();
      this.#transition(BreakerState.HalfOpen);
    });
  }

  /** The current state. */
  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Runs `fn` through the breaker. `fn` receives a signal that aborts (with an `OnexError` `TIMEOUT` as reason)
   * when the call exceeds `timeoutMs`.
   *
   * @throws OnexError `CIRCUIT_OPEN` with `retryAfterMs` (time left until half-open) and `context.breaker` when
   *   open or when every half-open probe slot is taken; `TIMEOUT` when `fn` runs too long; `LIFECYCLE` after
   *   {@link shutdown}; otherwise `toOnexError` of what `fn` threw (an OnexError is rethrown as is).
   * @example
   * ```ts
   * const user = await breaker.execute((signal) => users.get(id, { signal }));
   * ```
   */
  async execute<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const probeRound = this.#admit();
    // Without a breaker timeout nothing can abort the call here: share one idle signal instead of paying for an
    // AbortController per call (the caller's own deadline still applies).
    const controller = this.options.timeoutMs === false ? undefined : new AbortController();
    const call: Call = { fn, signal: controller?.signal ?? IDLE_SIGNAL, error: undefined, failure: undefined };
    let outcome: Outcome = 'success';
    try {
      // The action resolves with what `fn` resolved with, so the value is a T.
      return (await this.#opossum.fire(call)) as T;
    } catch (thrown) {
      const { error, failure } = this.#settleError(thrown, call, controller);
      outcome = failure ? 'failure' : error.code === ErrorCode.Cancelled ? 'neutral' : 'success';
      throw error;
    } finally {
      if (probeRound !== NOT_A_PROBE) this.#settleProbe(probeRound, outcome);
    }
  }

  /**
   * The breaker's counters and state.
   *
   * @example
   * ```ts
   * metrics.gauge('breaker_rejections', breaker.stats().rejections, { peer: breaker.key });
   * ```
   */
  stats(): BreakerStats {
    return {
      key: this.key,
      state: this.#state,
      successes: this.#successes,
      failures: this.#failures,
      rejections: this.#rejections,
      timeouts: this.#timeouts,
      openings: this.#openings,
      ...(this.#openedAt === undefined ? {} : { openedAt: this.#openedAt }),
    };
  }

  /**
   * Subscribes to state changes, reported synchronously in the order they happen. A listener that throws does
   * not disturb the breaker: its error is rethrown from a microtask (an uncaught exception).
   *
   * @returns a function that unsubscribes the listener.
   * @example
   * ```ts
   * const unsubscribe = breaker.onStateChange((change) => log.warn(change, 'breaker state change'));
   * unsubscribe();
   * ```
   */
  onStateChange(listener: (change: BreakerStateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Clears the breaker's timers and listeners; later calls fail with `LIFECYCLE`. Calls already running finish
   * normally. Idempotent.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => breaker.shutdown());
   * ```
   */
  shutdown(): void {
    if (this.#isShutdown) return;
    this.#isShutdown = true;
    this.#listeners.clear();
    clearInterval(this.#rotationTimer);
    this.#opossum.shutdown();
  }

  /** Lets a call in or throws; returns the half-open round of a probe, or NOT_A_PROBE. */
  #admit(): number {
    if (this.#isShutdown) {
      throw new OnexError(ErrorCode.Lifecycle, `Circuit breaker "${this.key}" is shut down`, {
        context: { breaker: this.key },
      });
    }
    switch (this.#state) {
      case BreakerState.Closed:
        return NOT_A_PROBE;
      case BreakerState.Open:
        this.#rejections++;
        throw this.#openError();
      case BreakerState.HalfOpen:
        if (this.#probesInFlight >= this.options.halfOpenMaxProbes) {
          this.#rejections++;
          throw this.#openError();
        }
        this.#probesInFlight++;
        return this.#halfOpenRound;
    }
  }

  #openError(): OnexError {
    // While half-open the wait is up to the probes in flight; the retry policy's own backoff applies then.
    const retryAfterMs =
      this.#state === BreakerState.Open && this.#openedAt !== undefined
        ? Math.max(0, this.#openedAt + this.options.resetTimeoutMs - Date.now())
        : 0;
    return new OnexError(ErrorCode.CircuitOpen, `Circuit breaker "${this.key}" is ${this.#state}`, {
      retryAfterMs,
      context: { breaker: this.key, state: this.#state },
    });
  }

  /** The error `execute` throws for a rejection of opossum's `fire`, and whether it counted as a failure. */
  #settleError(thrown: unknown, call: Call, controller: AbortController | undefined): { error: OnexError; failure: boolean } {
    if (!isOpossumError(thrown)) {
      return { error: call.error ?? toOnexError(thrown), failure: call.failure ?? true };
    }
    switch (thrown.code) {
      case 'ETIMEDOUT': {
        const error = new OnexError(
          ErrorCode.Timeout,
          `Circuit breaker "${this.key}": call timed out after ${String(this.options.timeoutMs)} ms`,
          { context: { breaker: this.key, timeoutMs: this.options.timeoutMs } },
        );
        controller?.abort(error);
        return { error, failure: true };
      }
      case 'EOPENBREAKER':
        // Not expected (calls are admitted only while opossum is closed), but keep the contract if it happens.
        this.#rejections++;
        return { error: this.#openError(), failure: false };
      default:
        // ESHUTDOWN: shutdown() raced this call.
        return {
          error: new OnexError(ErrorCode.Lifecycle, `Circuit breaker "${this.key}" is shut down`, {
            cause: thrown,
            context: { breaker: this.key },
          }),
          failure: false,
        };
    }
  }

  #settleProbe(round: number, outcome: Outcome): void {
    if (this.#isShutdown || round !== this.#halfOpenRound || this.#state !== BreakerState.HalfOpen) return;
    this.#probesInFlight--;
    if (outcome === 'failure') {
      this.#opossum.open(); // emits 'open': state, openedAt and opossum's reset timer follow
    } else if (outcome === 'success') {
      // The peer has recovered: the failures that opened the breaker must not count against it again.
      this.#resetWindow();
      this.#transition(BreakerState.Closed);
    }
  }

  /** Starts opossum's rolling window afresh: every bucket replaced by an empty one. */
  #resetWindow(): void {
    for (let i = 0; i < this.options.rollingBuckets; i++) this.#rotation.emit('rotate');
  }

  #transition(to: BreakerState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    if (to === BreakerState.Open) this.#openings++;
    if (to === BreakerState.Closed) this.#openedAt = undefined;
    const change: BreakerStateChange = Object.freeze({ key: this.key, from, to, at: Date.now() });
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

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
 * const stock = await breakers.get('inventory').execute((signal) => inventory.stock(sku, { signal }));
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
    resolveOptions(this.#defaults); // fail at construction, not on the first call
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
   * await server.close();
   * registry.shutdown();
   * ```
   */
  shutdown(): void {
    this.#isShutdown = true;
    for (const breaker of this.#breakers.values()) breaker.shutdown();
    this.#breakers.clear();
  }
}

function isOpossumError(value: unknown): value is Error & { readonly code: string } {
  return value instanceof Error && OpossumBreaker.isOurError(value);
}

function resolveOptions(options: CircuitBreakerOptions): ResolvedCircuitBreakerOptions {
  const d = DEFAULT_CIRCUIT_BREAKER_OPTIONS;
  const resolved: ResolvedCircuitBreakerOptions = {
    timeoutMs: options.timeoutMs ?? d.timeoutMs,
    errorThresholdPercentage: options.errorThresholdPercentage ?? d.errorThresholdPercentage,
    volumeThreshold: options.volumeThreshold ?? d.volumeThreshold,
    resetTimeoutMs: options.resetTimeoutMs ?? d.resetTimeoutMs,
    rollingWindowMs: options.rollingWindowMs ?? d.rollingWindowMs,
    rollingBuckets: options.rollingBuckets ?? d.rollingBuckets,
    halfOpenMaxProbes: options.halfOpenMaxProbes ?? d.halfOpenMaxProbes,
    isFailure: options.isFailure ?? d.isFailure,
  };
  const { timeoutMs, errorThresholdPercentage, volumeThreshold, resetTimeoutMs, rollingWindowMs, rollingBuckets } = resolved;
  if (timeoutMs !== false && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) invalid('timeoutMs', 'a number > 0 or false');
  if (!(Number.isFinite(errorThresholdPercentage) && errorThresholdPercentage >= 0 && errorThresholdPercentage <= 100)) {
    invalid('errorThresholdPercentage', 'a number from 0 to 100');
  }
  if (!(Number.isInteger(volumeThreshold) && volumeThreshold >= 0)) invalid('volumeThreshold', 'an integer >= 0');
  if (!(Number.isFinite(resetTimeoutMs) && resetTimeoutMs >= 0)) invalid('resetTimeoutMs', 'a finite number >= 0');
  if (!(Number.isInteger(rollingBuckets) && rollingBuckets >= 1)) invalid('rollingBuckets', 'an integer >= 1');
  if (!(Number.isInteger(rollingWindowMs) && rollingWindowMs >= rollingBuckets)) {
    invalid('rollingWindowMs', 'an integer >= rollingBuckets (each bucket spans at least 1 ms)');
  }
  if (!(Number.isInteger(resolved.halfOpenMaxProbes) && resolved.halfOpenMaxProbes >= 1)) {
    invalid('halfOpenMaxProbes', 'an integer >= 1');
  }
  if (typeof resolved.isFailure !== 'function') invalid('isFailure', 'a function');
  return Object.freeze(resolved);
}

function invalid(option: string, expected: string): never {
  const message = `${option} must be ${expected}`;
  throw new OnexError(ErrorCode.Validation, `CircuitBreaker: ${message}`, {
    context: { option },
    details: [{ path: option, message }],
  });
}
