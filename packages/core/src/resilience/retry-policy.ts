import { ErrorCode } from '../errors/error-codes.js';
import { OnexError, abortReasonToOnexError, causeChain, isConnectionError, isOnexError, toOnexError } from '../errors/onex-error.js';
import { sleep } from './sleep.js';

/**
 * How a {@link RetryPolicy} spaces its attempts. Every field is optional; see
 * {@link DEFAULT_RETRY_POLICY_OPTIONS} for the defaults.
 *
 * @example
 * ```ts
 * const options: RetryPolicyOptions = { maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 2_000 };
 * ```
 */
export interface RetryPolicyOptions {
  /** Total attempts including the first; `1` means no retry. An integer >= 1. Default 3. */
  readonly maxAttempts?: number;
  /** Backoff ceiling before the second attempt, in ms (>= 0). Default 100. */
  readonly initialDelayMs?: number;
  /** Upper bound of any single wait, in ms (>= 0). Default 10 000. */
  readonly maxDelayMs?: number;
  /** Growth factor of the backoff ceiling per attempt (>= 1). Default 2. */
  readonly multiplier?: number;
  /**
   * `'full'` (AWS "full jitter"): wait a random time in `[0, min(maxDelayMs, initialDelayMs * multiplier^(n-1))]`,
   * which spreads retries of many clients apart. `'none'`: wait exactly that ceiling. Default `'full'`.
   */
  readonly jitter?: 'full' | 'none';
  /**
   * Decides whether a failed attempt is retried, replacing the default classification
   * ({@link isRetryableError}). It is not consulted for `CANCELLED` errors (never retried) nor after the last
   * attempt.
   */
  readonly retryOn?: (error: OnexError, attempt: number) => boolean;
}

/**
 * The resolved numeric settings of a {@link RetryPolicy}.
 *
 * @example
 * ```ts
 * const settings: ResolvedRetryPolicyOptions = new RetryPolicy().options; // { maxAttempts: 3, ... }
 * ```
 */
export type ResolvedRetryPolicyOptions = Readonly<Required<Omit<RetryPolicyOptions, 'retryOn'>>>;

/**
 * The defaults of {@link RetryPolicyOptions}.
 *
 * @example
 * ```ts
 * DEFAULT_RETRY_POLICY_OPTIONS.maxAttempts; // 3
 * ```
 */
export const DEFAULT_RETRY_POLICY_OPTIONS: ResolvedRetryPolicyOptions = Object.freeze({
  maxAttempts: 3,
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  multiplier: 2,
  jitter: 'full',
});

/**
 * What is reported to {@link RetryExecuteOptions.onRetry} before each backoff.
 *
 * @example
 * ```ts
 * const onRetry = (info: RetryInfo) => log.warn({ attempt: info.attempt, delayMs: info.delayMs }, info.error.message);
 * ```
 */
export interface RetryInfo {
  /** The attempt that just failed (1 for the first call). */
  readonly attempt: number;
  /** How long the policy waits before the next attempt. */
  readonly delayMs: number;
  /** Why the attempt failed, normalised. */
  readonly error: OnexError;
}

/**
 * Per-call settings of {@link RetryPolicy.execute}.
 *
 * @example
 * ```ts
 * const options: RetryExecuteOptions = { signal: ctx.signal, deadlineAt: Date.now() + 5_000 };
 * ```
 */
export interface RetryExecuteOptions {
  /** Aborting stops retrying at once, interrupting a backoff wait; `execute` rejects with the abort reason. */
  readonly signal?: AbortSignal;
  /** Epoch ms. A backoff that would end past it is never started: the last error is thrown instead. */
  readonly deadlineAt?: number;
  /** Called before each backoff wait (for logs and metrics). */
  readonly onRetry?: (info: RetryInfo) => void;
  /** Source of randomness for the jitter, in `[0, 1)`; default `Math.random`. */
  readonly random?: () => number;
  /** Clock used for the deadline, in epoch ms; default `Date.now`. */
  readonly now?: () => number;
}

const defaultRandom = (): number => Math.random();
const defaultNow = (): number => Date.now();

/**
 * Retries a failing async operation with capped exponential backoff and jitter, honouring the peer's
 * `retryAfterMs`, a deadline and an `AbortSignal`. A policy is immutable and can be shared by any number of
 * concurrent calls.
 *
 * Between attempts it waits `min(max(backoff, error.retryAfterMs), maxDelayMs)`. With a `deadlineAt` it gives up
 * (throwing the last error) rather than start a wait that ends past the deadline, and also when the peer asked
 * for a wait longer than `maxDelayMs` that would itself end past the deadline.
 *
 * @example
 * ```ts
 * import { RetryPolicy } from '@onex/core';
 * const policy = new RetryPolicy({ maxAttempts: 4, initialDelayMs: 50 });
 * const orders = { get: async (id: string, _options: { attempt: number }) => ({ id }) };
 * const deadlineAt = Date.now() + 2_000;
 * const order = await policy.execute((attempt) => orders.get('order-42', { attempt }), { deadlineAt });
 * ```
 */
export class RetryPolicy {
  /** The resolved settings (defaults applied). */
  readonly options: ResolvedRetryPolicyOptions;
  readonly #retryOn: ((error: OnexError, attempt: number) => boolean) | undefined;

  /**
   * @throws OnexError `VALIDATION` naming the first invalid option.
   */
  constructor(options: RetryPolicyOptions = {}) {
    const resolved: ResolvedRetryPolicyOptions = {
      maxAttempts: options.maxAttempts ?? DEFAULT_RETRY_POLICY_OPTIONS.maxAttempts,
      initialDelayMs: options.initialDelayMs ?? DEFAULT_RETRY_POLICY_OPTIONS.initialDelayMs,
      maxDelayMs: options.maxDelayMs ?? DEFAULT_RETRY_POLICY_OPTIONS.maxDelayMs,
      multiplier: options.multiplier ?? DEFAULT_RETRY_POLICY_OPTIONS.multiplier,
      jitter: options.jitter ?? DEFAULT_RETRY_POLICY_OPTIONS.jitter,
    };
    check(Number.isInteger(resolved.maxAttempts) && resolved.maxAttempts >= 1, 'maxAttempts', resolved.maxAttempts, 'an integer >= 1');
    check(isFiniteAtLeast(resolved.initialDelayMs, 0), 'initialDelayMs', resolved.initialDelayMs, 'a finite number >= 0');
    check(isFiniteAtLeast(resolved.maxDelayMs, 0), 'maxDelayMs', resolved.maxDelayMs, 'a finite number >= 0');
    check(isFiniteAtLeast(resolved.multiplier, 1), 'multiplier', resolved.multiplier, 'a finite number >= 1');
    check(resolved.jitter === 'full' || resolved.jitter === 'none', 'jitter', resolved.jitter, "'full' or 'none'");
    check(options.retryOn === undefined || typeof options.retryOn === 'function', 'retryOn', options.retryOn, 'a function');
    this.options = Object.freeze(resolved);
    this.#retryOn = options.retryOn;
  }

  /**
   * A policy that makes exactly one attempt: for call sites that take a policy but must not retry.
   *
   * @example
   * ```ts
   * import { RetryPolicy } from '@onex/core';
   * const charge = async (card: string) => ({ charged: card });
   * await RetryPolicy.noRetry().execute(() => charge('card-1')); // one attempt, errors normalised
   * ```
   */
  static noRetry(): RetryPolicy {
    return new RetryPolicy({ maxAttempts: 1 });
  }

  /**
   * The backoff before attempt `attempt + 1`, i.e. after attempt `attempt` failed, before `retryAfterMs` is
   * taken into account. With full jitter it is `floor(random() * ceiling)`, so it lies in `[0, ceiling]` where
   * `ceiling = min(maxDelayMs, initialDelayMs * multiplier^(attempt - 1))`.
   *
   * @example
   * ```ts
   * new RetryPolicy({ jitter: 'none' }).delayFor(3); // 400 (100 * 2^2)
   * ```
   * @throws OnexError `VALIDATION` when `attempt` is not an integer >= 1.
   */
  delayFor(attempt: number, random: () => number = defaultRandom): number {
    check(Number.isInteger(attempt) && attempt >= 1, 'attempt', attempt, 'an integer >= 1');
    const { initialDelayMs, maxDelayMs, multiplier, jitter } = this.options;
    const grown = initialDelayMs * multiplier ** (attempt - 1);
    // `initialDelayMs * Infinity` is Infinity (capped below) unless initialDelayMs is 0: handle 0 * Infinity = NaN.
    const ceiling = initialDelayMs === 0 ? 0 : Math.min(maxDelayMs, grown);
    if (jitter === 'none') return Math.floor(ceiling);
    const r = random();
    const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
    return Math.floor(unit * ceiling);
  }

  /**
   * Whether attempt `attempt`, having failed with `error`, should be followed by another one: false after the
   * last attempt and for `CANCELLED`; otherwise `retryOn` if given, else `error.retryable`.
   *
   * @example
   * ```ts
   * policy.shouldRetry(new OnexError(ErrorCode.Unavailable, 'down'), 1); // true
   * policy.shouldRetry(new OnexError(ErrorCode.Validation, 'bad'), 1); // false
   * ```
   */
  shouldRetry(error: OnexError, attempt: number): boolean {
    return this.#decide(error, error, attempt);
  }

  /**
   * Runs `fn` until it succeeds, fails with an error that is not retried, runs out of attempts, or would wait
   * past `deadlineAt`. `fn` receives the attempt number (1-based).
   *
   * The thrown error is the last failure normalised by `toOnexError`, with `context.attempts` added (its class
   * and other fields are kept). Aborting `signal` rejects at once with `abortReasonToOnexError(signal)`.
   *
   * @example
   * ```ts
   * const value = await new RetryPolicy().execute(async (attempt) => {
   *   const response = await fetch(url, { signal });
   *   // 429 and 5xx are retried: isRetryableError reads `status`
   *   if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status });
   *   return response.json();
   * }, { signal });
   * ```
   */
  async execute<T>(fn: (attempt: number) => Promise<T>, options: RetryExecuteOptions = {}): Promise<T> {
    const { signal, deadlineAt, onRetry } = options;
    const random = options.random ?? defaultRandom;
    const now = options.now ?? defaultNow;
    for (let attempt = 1; ; attempt++) {
      if (isAborted(signal)) throw abortReasonToOnexError(signal);
      try {
        return await fn(attempt);
      } catch (thrown) {
        // An abort wins over whatever the attempt failed with: the caller no longer wants the result.
        if (isAborted(signal)) throw abortReasonToOnexError(signal);
        const error = toOnexError(thrown);
        if (!this.#decide(thrown, error, attempt)) throw withAttempts(error, attempt);
        const delayMs = this.#waitBefore(attempt + 1, error, random, now, deadlineAt);
        if (delayMs === undefined) throw withAttempts(error, attempt);
        onRetry?.({ attempt, delayMs, error });
        await sleep(delayMs, signal);
      }
    }
  }

  /** `thrown` is what the attempt threw, `error` its normalised form (the default looks at both). */
  #decide(thrown: unknown, error: OnexError, attempt: number): boolean {
    if (attempt >= this.options.maxAttempts || error.code === ErrorCode.Cancelled) return false;
    if (this.#retryOn !== undefined) return this.#retryOn(error, attempt);
    // A raw `{ status: 503 }` normalises to a non-retryable INTERNAL, so the thrown value is classified too.
    return error.retryable || isRetryableError(thrown);
  }

  /** The wait before attempt `next`, or undefined when the deadline rules out retrying. */
  #waitBefore(
    next: number,
    error: OnexError,
    random: () => number,
    now: () => number,
    deadlineAt: number | undefined,
  ): number | undefined {
    const backoff = this.delayFor(next - 1, random);
    const retryAfter = error.retryAfterMs !== undefined && error.retryAfterMs > 0 ? error.retryAfterMs : 0;
    const delay = Math.min(Math.max(backoff, retryAfter), this.options.maxDelayMs);
    if (deadlineAt === undefined) return delay;
    const at = now();
    if (at + delay > deadlineAt) return undefined;
    // The peer will not be ready before our deadline: retrying early would only fail again.
    if (retryAfter > delay && at + retryAfter > deadlineAt) return undefined;
    return delay;
  }
}

/**
 * The default retry classification: true for an {@link OnexError} marked `retryable`, for an object with a
 * numeric `status` or `statusCode` of 429 or 5xx (HTTP client errors), and for a dropped or refused connection
 * (`ECONNRESET`, `ECONNREFUSED`, …); false for anything else. A value that says none of these is judged by its
 * `cause` chain (bounded depth, cycle-safe): the first link that is an `OnexError` or carries a status decides, and
 * a connection error anywhere in the chain is retryable — so `TypeError('fetch failed')` caused by `ECONNREFUSED`
 * (Node's `fetch`) is retried.
 *
 * @example
 * ```ts
 * isRetryableError({ status: 503 }); // true
 * isRetryableError({ status: 404 }); // false
 * isRetryableError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })); // true
 * isRetryableError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })); // true
 * ```
 */
export function isRetryableError(error: unknown): boolean {
  for (const link of causeChain(error)) {
    if (isOnexError(link)) return link.retryable;
    if (typeof link !== 'object' || link === null) continue;
    const { status, statusCode } = link as { readonly status?: unknown; readonly statusCode?: unknown };
    const httpStatus = typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : undefined;
    if (httpStatus !== undefined) return httpStatus === 429 || (httpStatus >= 500 && httpStatus <= 599);
    if (isConnectionError(link)) return true;
  }
  return false;
}

/**
 * A copy of `error` with `context.attempts` set. The copy keeps the prototype (so subclasses of OnexError
 * survive), message, stack, cause and brand; OnexError has no `withContext`, and its fields are readonly.
 */
function withAttempts(error: OnexError, attempts: number): OnexError {
  const descriptors = Object.getOwnPropertyDescriptors(error);
  const context: PropertyDescriptor = {
    value: Object.freeze({ ...error.context, attempts }),
    writable: true,
    enumerable: true,
    configurable: true,
  };
  return Object.create(Object.getPrototypeOf(error) as object, { ...descriptors, context }) as OnexError;
}

function isAborted(signal: AbortSignal | undefined): signal is AbortSignal {
  return signal?.aborted === true;
}

function isFiniteAtLeast(value: number, min: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= min;
}

function check(ok: boolean, option: string, value: unknown, expected: string): void {
  if (ok) return;
  const message = `${option} must be ${expected}`;
  const got = typeof value === 'number' || typeof value === 'string' ? String(value) : typeof value;
  throw new OnexError(ErrorCode.Validation, `RetryPolicy: ${message} (got ${got})`, {
    context: { option },
    details: [{ path: option, message }],
  });
}
