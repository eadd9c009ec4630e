import { EventEmitter } from 'node:events';
import OpossumBreaker from 'opossum';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError, toOnexError } from '../errors/onex-error.js';
import { shareSignal } from '../internal/abort.js';
import { invalidOption, resolveCircuitBreakerOptions, type CircuitBreakerOptions, type ResolvedCircuitBreakerOptions } from './circuit-breaker-options.js';

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

/**
 * A signal that never aborts, handed to calls of breakers without a timeout: every concurrent call of every such
 * breaker may listen to it (a `fetch` does), so it is declared shared by that many (1 024 calls, 4 listeners each)
 * before Node warns of a leak.
 */
const IDLE_SIGNAL: AbortSignal = shareSignal(new AbortController().signal, 1024);

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
    if (typeof key !== 'string' || key.length === 0) invalidOption('key', 'a non-empty string');
    this.key = key;
    this.options = resolveCircuitBreakerOptions(options);
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
    const action = (call: Call): Promise<unknown> => {
      const failed = (thrown: unknown): never => {
        const error = toOnexError(thrown);
        call.error = error;
        call.failure = isFailure(error);
        throw error;
      };
      let pending: Promise<unknown>;
      try {
        // `Promise.resolve` of a native promise is that promise: no promise more, and a plain value still works.
        pending = Promise.resolve(call.fn(call.signal));
      } catch (thrown) {
        return Promise.reject(thrown as Error).catch(failed);
      }
      return pending.then(undefined, failed);
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
   * import { CircuitBreaker } from '@onex/core';
   * const breaker = new CircuitBreaker('users');
   * const users = { get: async (id: string, _options: { signal: AbortSignal }) => ({ id }) };
   * const user = await breaker.execute((signal) => users.get('u-1', { signal }));
   * breaker.shutdown();
   * ```
   */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let probeRound: number;
    try {
      probeRound = this.#admit();
    } catch (refused) {
      // #admit throws OnexErrors only (shut down, open): as they are.
      return Promise.reject(toOnexError(refused));
    }
    // Without a breaker timeout nothing can abort the call here: share one idle signal instead of paying for an
    // AbortController per call (the caller's own deadline still applies).
    const controller = this.options.timeoutMs === false ? undefined : new AbortController();
    const call: Call = { fn, signal: controller?.signal ?? IDLE_SIGNAL, error: undefined, failure: undefined };
    // One `then` on opossum's promise, not an async function around it: this runs on every peer call, and each
    // promise more is work (and, under an OpenTelemetry context manager on Node 20, an async hook) per call.
    const failed = (thrown: unknown): never => {
      const { error, failure } = this.#settleError(thrown, call, controller);
      if (probeRound !== NOT_A_PROBE) this.#settleProbe(probeRound, failure ? 'failure' : error.code === ErrorCode.Cancelled ? 'neutral' : 'success');
      throw error;
    };
    // The action resolves with what `fn` resolved with, so the value is a T.
    const fired = this.#opossum.fire(call) as Promise<T>;
    if (probeRound === NOT_A_PROBE) return fired.then(undefined, failed);
    return fired.then((value) => {
      this.#settleProbe(probeRound, 'success');
      return value;
    }, failed);
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

function isOpossumError(value: unknown): value is Error & { readonly code: string } {
  return value instanceof Error && OpossumBreaker.isOurError(value);
}
