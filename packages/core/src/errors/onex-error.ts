import { ErrorCode, errorCodeForHttpStatus, errorCodeInfo } from './error-codes.js';

const ONEX_ERROR_BRAND: unique symbol = Symbol.for('@onex/core/OnexError') as never;
/** Marks the INTERNAL that toOnexError makes of a value it could not classify (see isUnclassifiedError). */
const UNCLASSIFIED: unique symbol = Symbol.for('@onex/core/OnexError.unclassified') as never;

/** Options accepted by the {@link OnexError} constructor. */
export interface OnexErrorOptions {
  /** The underlying failure; kept for logs, never sent over the wire. */
  readonly cause?: unknown;
  /** The correlation id of the call that failed. */
  readonly correlationId?: string;
  /** Structured, non-secret facts about the failure (sanitized before it leaves a node). */
  readonly context?: Readonly<Record<string, unknown>>;
  /** Overrides the code's default retryability. */
  readonly retryable?: boolean;
  /** When a caller may try again (circuit open, rate limited). */
  readonly retryAfterMs?: number;
  /** Machine-readable details, e.g. validation issues. */
  readonly details?: readonly unknown[];
}

/**
 * The one error type of ONEX: a typed `code`, an HTTP status and a `retryable` flag derived from it, the
 * correlation id of the failed call, structured context and the cause chain.
 *
 * @example
 * ```ts
 * import { OnexError, ErrorCode } from '@onex/core';
 * const error = new OnexError(ErrorCode.NotFound, 'order 42 not found', { context: { orderId: 42 } });
 * console.log(error.httpStatus, error.retryable); // 404 false — throw it from `process`, and the caller gets it
 * ```
 */
export class OnexError extends Error {
  /** The error's code: what kind of failure this is. */
  readonly code: ErrorCode;
  /** True when the same call may succeed if tried again. */
  readonly retryable: boolean;
  /** The HTTP status a transport answers with. */
  readonly httpStatus: number;
  /** Correlation id of the call that failed, when known. */
  readonly correlationId: string | undefined;
  /** Structured facts about the failure. */
  readonly context: Readonly<Record<string, unknown>>;
  /** When a caller may try again, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** Machine-readable details (validation issues and the like). */
  readonly details: readonly unknown[] | undefined;

  constructor(code: ErrorCode, message: string, options: OnexErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const info = errorCodeInfo(code);
    this.name = 'OnexError';
    this.code = code;
    this.retryable = options.retryable ?? info.retryable;
    this.httpStatus = info.httpStatus;
    this.correlationId = options.correlationId;
    this.context = options.context ?? {};
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
    Object.defineProperty(this, ONEX_ERROR_BRAND, { value: true, enumerable: false });
  }

  /** A copy of this error carrying the given correlation id (an {@link isUnclassifiedError} copy stays one). */
  withCorrelationId(correlationId: string): OnexError {
    if (this.correlationId === correlationId) return this;
    const copy = new OnexError(this.code, this.message, {
      cause: this.cause,
      correlationId,
      context: this.context,
      retryable: this.retryable,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
      ...(this.details === undefined ? {} : { details: this.details }),
    });
    if (this.stack !== undefined) copy.stack = this.stack;
    return isUnclassifiedError(this) ? markUnclassified(copy) : copy;
  }

  static override [Symbol.hasInstance](this: unknown, value: unknown): boolean {
    // Brand check for OnexError itself (works across package copies); subclasses keep prototype semantics.
    if (this === OnexError) return isOnexError(value);
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/**
 * True for an {@link OnexError}, also one made by another copy of `@onex/core` (the check uses a
 * `Symbol.for` brand, not the prototype chain).
 */
export function isOnexError(value: unknown): value is OnexError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ONEX_ERROR_BRAND] === true;
}

const TRANSIENT_SYSTEM_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** How many links of a cause chain (the error itself included) classification looks at. */
const MAX_CAUSE_DEPTH = 8;

/**
 * `error` followed by its `cause`, the cause's `cause`, …: at most {@link MAX_CAUSE_DEPTH} links, each once (a chain
 * that loops back on itself ends where it repeats). Node's `fetch` (undici) throws `TypeError('fetch failed')` with
 * the socket error as `cause`, so what a failure means is often a link or two down.
 *
 * @internal Shared by the classifiers of `@onex/core`; not exported from the package.
 */
export function causeChain(error: unknown): readonly unknown[] {
  const chain: unknown[] = [error];
  let link: unknown = error;
  while (chain.length < MAX_CAUSE_DEPTH && typeof link === 'object' && link !== null && 'cause' in link) {
    link = (link as { cause?: unknown }).cause;
    if (link === undefined || link === null || chain.includes(link)) break;
    chain.push(link);
  }
  return chain;
}

/**
 * True for the `INTERNAL` error {@link toOnexError} made of a value it could not classify (a plain `Error`, a
 * string, a bug's `TypeError`): nothing is known about that failure, not even whether a side effect happened
 * before it. Copies made by `withCorrelationId` and the retry policy keep the mark; an `OnexError` thrown on
 * purpose, whatever its code, is not unclassified. The mark does not cross the wire.
 *
 * @example
 * ```ts
 * isUnclassifiedError(toOnexError(new Error('boom'))); // true
 * isUnclassifiedError(new OnexError(ErrorCode.Internal, 'ledger out of balance')); // false
 * isUnclassifiedError(toOnexError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }))); // false: UNAVAILABLE
 * ```
 */
export function isUnclassifiedError(error: unknown): boolean {
  return isOnexError(error) && (error as unknown as Record<symbol, unknown>)[UNCLASSIFIED] === true;
}

function markUnclassified(error: OnexError): OnexError {
  // An own property (not enumerable): copies that take an error's own descriptors keep it.
  Object.defineProperty(error, UNCLASSIFIED, { value: true, enumerable: false });
  return error;
}

function hasTransientCode(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && TRANSIENT_SYSTEM_CODES.has(code);
}

/**
 * True when `error`, or an error in its `cause` chain (bounded, cycle-safe), is a Node system error for a dropped or
 * refused connection (`ECONNRESET`, `ECONNREFUSED`, `ETIMEDOUT`, undici's `UND_ERR_SOCKET`, …).
 *
 * @example
 * ```ts
 * isConnectionError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })); // true
 * ```
 */
export function isConnectionError(error: unknown): boolean {
  return causeChain(error).some(hasTransientCode);
}

function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  if (typeof status === 'number') return status;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

interface ZodLikeIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
}

function isZodLikeError(error: unknown): error is Error & { issues: readonly ZodLikeIssue[] } {
  return error instanceof Error && error.name === 'ZodError' && Array.isArray((error as { issues?: unknown }).issues);
}

/**
 * One entry of a `VALIDATION` error's `details`: where (a dotted path, `(root)` for the value itself) and what.
 *
 * @internal for ONEX packages; not part of the public API.
 */
export interface ValidationDetail {
  readonly path: string;
  readonly message: string;
}

/**
 * Turns zod issues into the `details` of a validation error.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 *
 * @example
 * ```ts
 * import { validationDetails } from '@onex/core/internal';
 * validationDetails([{ path: ['items', 0, 'sku'], message: 'Required' }]); // [{ path: 'items.0.sku', message: 'Required' }]
 * ```
 */
export function validationDetails(issues: readonly ZodLikeIssue[]): readonly ValidationDetail[] {
  return issues.map((issue) => ({
    path: issue.path.map((segment) => String(segment)).join('.') || '(root)',
    message: issue.message,
  }));
}

/**
 * Normalises anything thrown into an {@link OnexError}: the one boundary where foreign errors are understood.
 *
 * A foreign value is classified by the first link of its `cause` chain (itself first; bounded depth, cycle-safe)
 * that says what happened: an `OnexError` (its code, message and retryability are kept), a `TimeoutError` or
 * `ETIMEDOUT` (`TIMEOUT`), an `AbortError` (`TIMEOUT` when a `TimeoutError` caused it, else `CANCELLED`), an HTTP
 * `status`/`statusCode` >= 400 (the code for that status), or a dropped or refused connection (`UNAVAILABLE`). So
 * `new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })`, what Node's `fetch` throws, is a retryable
 * `UNAVAILABLE`. A zod error at the top is `VALIDATION`. Anything else becomes `INTERNAL` with a generic message,
 * marked as unclassified ({@link isUnclassifiedError}). The original value stays as `cause` for the logs.
 *
 * @example
 * ```ts
 * import { toOnexError } from '@onex/core';
 * async function charge(work: () => Promise<void>, correlationId: string): Promise<void> {
 *   try {
 *     await work();
 *   } catch (error) {
 *     throw toOnexError(error, { correlationId }); // one boundary: foreign errors become OnexErrors here
 *   }
 * }
 * await charge(async () => {}, 'c-1');
 * ```
 */
export function toOnexError(error: unknown, options: { readonly correlationId?: string } = {}): OnexError {
  const correlationId = options.correlationId;
  const base = correlationId === undefined ? {} : { correlationId };
  if (isOnexError(error)) {
    return correlationId === undefined || error.correlationId !== undefined ? error : error.withCorrelationId(correlationId);
  }
  if (isZodLikeError(error)) {
    const details = validationDetails(error.issues);
    const first = details[0];
    const summary = first === undefined ? 'invalid value' : `${first.path}: ${first.message}`;
    return new OnexError(ErrorCode.Validation, `Validation failed: ${summary}`, { ...base, cause: error, details });
  }
  const chain = causeChain(error);
  for (let i = 0; i < chain.length; i++) {
    const classified = classifyLink(chain[i], chain, i, error, base);
    if (classified !== undefined) return classified;
  }
  return markUnclassified(new OnexError(ErrorCode.Internal, 'Internal error', { ...base, cause: error }));
}

/** What link `i` of `chain` says about the failure `error`, or undefined when it says nothing known. */
function classifyLink(link: unknown, chain: readonly unknown[], i: number, error: unknown, base: { readonly correlationId?: string }): OnexError | undefined {
  if (isOnexError(link)) {
    // A typed error wrapped by foreign code: it knows what happened; the wrapper stays reachable as the cause.
    const adopted = new OnexError(link.code, link.message, {
      ...base,
      cause: error,
      retryable: link.retryable,
      context: link.context,
      ...(link.retryAfterMs === undefined ? {} : { retryAfterMs: link.retryAfterMs }),
      ...(link.details === undefined ? {} : { details: link.details }),
    });
    return isUnclassifiedError(link) ? markUnclassified(adopted) : adopted;
  }
  if (link instanceof Error && (link.name === 'TimeoutError' || (link as { code?: unknown }).code === 'ETIMEDOUT')) {
    return new OnexError(ErrorCode.Timeout, 'Operation timed out', { ...base, cause: error });
  }
  if (link instanceof Error && link.name === 'AbortError') {
    // An AbortSignal.timeout() reason surfaces as TimeoutError; a plain abort is a cancellation.
    const timedOut = chain.slice(i + 1).some((c) => c instanceof Error && c.name === 'TimeoutError');
    return timedOut
      ? new OnexError(ErrorCode.Timeout, 'Operation timed out', { ...base, cause: error })
      : new OnexError(ErrorCode.Cancelled, 'Operation was cancelled', { ...base, cause: error });
  }
  const status = httpStatusOf(link);
  if (status !== undefined && status >= 400) {
    return new OnexError(errorCodeForHttpStatus(status), `Upstream answered HTTP ${status}`, { ...base, cause: error });
  }
  if (hasTransientCode(link)) {
    return new OnexError(ErrorCode.Unavailable, 'Peer unavailable: connection failed', { ...base, cause: error });
  }
  return undefined;
}

/**
 * The error a call's `AbortSignal` was aborted with, as an {@link OnexError}: `TIMEOUT` for a deadline,
 * `CANCELLED` otherwise.
 */
export function abortReasonToOnexError(signal: AbortSignal, correlationId?: string): OnexError {
  const reason: unknown = signal.reason;
  const base = correlationId === undefined ? {} : { correlationId };
  if (isOnexError(reason)) return toOnexError(reason, base);
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new OnexError(ErrorCode.Timeout, 'Deadline exceeded', { ...base, cause: reason });
  }
  return new OnexError(ErrorCode.Cancelled, 'Operation was cancelled', { ...base, cause: reason });
}

/**
 * A non-fatal condition worth reporting (a slow computation, a degraded dependency). Warnings are values:
 * they are logged and collected, never thrown.
 *
 * @example
 * ```ts
 * const w = new OnexWarning('SLOW_COMPUTATION', 'price took 120 ms', { thresholdMs: 50 });
 * ```
 */
export class OnexWarning {
  constructor(
    /** A short, stable identifier of the condition. */
    readonly code: string,
    /** What happened, for people. */
    readonly message: string,
    /** Structured facts about it. */
    readonly context: Readonly<Record<string, unknown>> = {},
  ) {}
}
