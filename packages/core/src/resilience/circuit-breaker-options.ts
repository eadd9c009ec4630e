import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';

// The options of a circuit breaker: what they mean, their defaults and their validation (the behaviour is in
// circuit-breaker.ts, the one-per-key registry in circuit-breaker-registry.ts).

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
 * `options` over {@link DEFAULT_CIRCUIT_BREAKER_OPTIONS}, checked and frozen.
 *
 * @throws OnexError `VALIDATION` naming the first invalid option.
 * @internal Shared by the breaker and its registry; not exported from the package.
 */
export function resolveCircuitBreakerOptions(options: CircuitBreakerOptions): ResolvedCircuitBreakerOptions {
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
  if (timeoutMs !== false && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) invalidOption('timeoutMs', 'a number > 0 or false');
  if (!(Number.isFinite(errorThresholdPercentage) && errorThresholdPercentage >= 0 && errorThresholdPercentage <= 100)) {
    invalidOption('errorThresholdPercentage', 'a number from 0 to 100');
  }
  if (!(Number.isInteger(volumeThreshold) && volumeThreshold >= 0)) invalidOption('volumeThreshold', 'an integer >= 0');
  if (!(Number.isFinite(resetTimeoutMs) && resetTimeoutMs >= 0)) invalidOption('resetTimeoutMs', 'a finite number >= 0');
  if (!(Number.isInteger(rollingBuckets) && rollingBuckets >= 1)) invalidOption('rollingBuckets', 'an integer >= 1');
  if (!(Number.isInteger(rollingWindowMs) && rollingWindowMs >= rollingBuckets)) {
    invalidOption('rollingWindowMs', 'an integer >= rollingBuckets (each bucket spans at least 1 ms)');
  }
  if (!(Number.isInteger(resolved.halfOpenMaxProbes) && resolved.halfOpenMaxProbes >= 1)) {
    invalidOption('halfOpenMaxProbes', 'an integer >= 1');
  }
  if (typeof resolved.isFailure !== 'function') invalidOption('isFailure', 'a function');
  return Object.freeze(resolved);
}

/**
 * Throws the `VALIDATION` error of an invalid breaker option.
 *
 * @internal Shared by the breaker and its registry; not exported from the package.
 */
export function invalidOption(option: string, expected: string): never {
  const message = `${option} must be ${expected}`;
  throw new OnexError(ErrorCode.Validation, `CircuitBreaker: ${message}`, {
    context: { option },
    details: [{ path: option, message }],
  });
}
