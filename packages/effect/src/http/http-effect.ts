import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  abortReasonToOnexError,
  CircuitBreakerRegistry,
  errorCodeForHttpStatus,
  ErrorCode,
  ErrorSanitizer,
  isConnectionError,
  isOnexError,
  OnexError,
  RetryPolicy,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type RetryPolicyOptions,
} from '@onex/core';
import { BodyReadFailure, onAbort, readBoundedBody } from '@onex/core/internal';
import { parseRetryAfter } from './retry-after.js';

/**
 * HTTP methods of {@link HttpEffect.request}.
 *
 * @example
 * ```ts
 * const method: HttpMethod = 'POST';
 * ```
 */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/**
 * Options of {@link createHttpEffect}.
 *
 * @example
 * ```ts
 * const options: HttpEffectOptions = {
 *   baseUrl: 'https://api.example.com/v1', timeoutMs: 2_000, retry: { maxAttempts: 4 },
 *   headers: { authorization: `Bearer ${process.env.API_TOKEN}` },
 * };
 * ```
 */
export interface HttpEffectOptions {
  /** `http://` or `https://` origin with an optional path prefix. Credentials in it are refused. */
  readonly baseUrl: string;
  /** Timeout of each attempt, ms. Default 10 000. */
  readonly timeoutMs?: number;
  /**
   * Retry policy (core's). Retried: 429, 5xx, timeouts and dropped connections — for `GET`, `HEAD`, `PUT`,
   * `DELETE`, `OPTIONS`, and for `POST`/`PATCH` sent with an idempotency key; other `POST`/`PATCH` requests only when
   * the server cannot have processed them (429, connection refused). `Retry-After` is honoured. Default 3 attempts.
   */
  readonly retry?: RetryPolicyOptions;
  /** Breaker of the host (key `http:<host>` in `breakers`), or `false` for none. Its own timeout is off by default. */
  readonly breaker?: CircuitBreakerOptions | false;
  /** Registry the host's breaker comes from. Default: the effect's own (shut down by `close()`). */
  readonly breakers?: CircuitBreakerRegistry;
  /** Headers sent with every request (e.g. `authorization`). Never shown in errors. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Largest response body read, bytes; past it the request fails with `PAYLOAD_TOO_LARGE`. Default 10 MiB. */
  readonly maxResponseBytes?: number;
  /** Connection pool. Default: the effect's own keep-alive agent (destroyed by `close()`). */
  readonly agent?: HttpAgent;
  /** Masks secrets in error messages. Default: core's default sanitizer. */
  readonly sanitizer?: ErrorSanitizer;
}

/**
 * One request of an {@link HttpEffect}.
 *
 * @example
 * ```ts
 * const req: HttpRequest = { method: 'POST', path: '/charges', body: { amount: 10 }, signal: ctx.signal, idempotencyKey: ctx.idempotencyKey };
 * ```
 */
export interface HttpRequest {
  /** Default `GET`. */
  readonly method?: HttpMethod;
  /** Path under the base URL, starting with `/`. */
  readonly path: string;
  /** Query parameters (undefined values are left out). */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Body: a string or Buffer as is, anything else as JSON. */
  readonly body?: unknown;
  /** Extra headers of this request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Cancels the request (and its retries). Pass the operation's `ctx.signal`. */
  readonly signal?: AbortSignal;
  /** Sent as `Idempotency-Key`; makes `POST`/`PATCH` retryable. Pass the operation's `ctx.idempotencyKey`. */
  readonly idempotencyKey?: string | undefined;
  /** Timeout of each attempt, ms. Default: the effect's. */
  readonly timeoutMs?: number;
  /** No retry starts after this epoch ms. Pass the operation's `ctx.deadlineAt`. */
  readonly deadlineAt?: number | undefined;
}

/**
 * A successful (2xx) answer.
 *
 * @example
 * ```ts
 * const { status, body } = await api.request<{ id: string }>({ path: '/things/1' });
 * ```
 */
export interface HttpResponse<T = unknown> {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON for a JSON content type, the text otherwise, `undefined` when empty. */
  readonly body: T;
  /** Attempts it took. */
  readonly attempts: number;
}

/**
 * A client of one external HTTP API with the resilience an effect needs. Made by {@link createHttpEffect}.
 *
 * @example
 * ```ts
 * const r = await api.request<{ id: string }>({ method: 'POST', path: '/charges', body, signal: ctx.signal });
 * ```
 */
export interface HttpEffect {
  /** The base URL, without credentials. */
  readonly baseUrl: string;
  /** The host's breaker, when there is one. */
  readonly breaker: CircuitBreaker | undefined;
  /**
   * Sends a request, retrying as the policy allows, through the host's breaker; resolves with a 2xx answer.
   *
   * @throws OnexError — for a non-2xx answer the code follows the status (`NOT_FOUND`, `RATE_LIMITED` with
   *   `retryAfterMs`, `UNAVAILABLE` for 5xx…) with `context.status`; `TIMEOUT`, `CANCELLED`, `UNAVAILABLE` for a
   *   failed connection, `PAYLOAD_TOO_LARGE`, `CIRCUIT_OPEN`. Messages carry the method and the sanitized URL without
   *   its query, never headers or bodies.
   */
  request<T = unknown>(request: HttpRequest): Promise<HttpResponse<T>>;
  /** Destroys the effect's own agent and breakers. */
  close(): void;
}

const SAFE_METHODS: ReadonlySet<HttpMethod> = new Set<HttpMethod>(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

interface Raw {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Makes an {@link HttpEffect}: requests on `node:http`/`node:https` with a keep-alive agent (Node 20's `fetch` costs
 * about 5× more per call), a timeout per attempt, retries on 429/5xx/dropped connections honouring `Retry-After`, a
 * breaker per host from core's registry, a response size limit, and errors as sanitized {@link OnexError}s.
 *
 * @throws OnexError `VALIDATION` for a base URL that is not http(s) or that holds credentials.
 * @example
 * ```ts
 * import { createHttpEffect, defineOperation } from '@onex/effect';
 * const payments = createHttpEffect({ baseUrl: 'https://api.example.com', timeoutMs: 2_000, headers: { authorization: `Bearer ${token}` } });
 * const charge = defineOperation({
 *   name: 'charge', input: ChargeIn, output: ChargeOut, retry: { maxAttempts: 1 }, // the helper retries
 *   run: async (input, ctx) => {
 *     const { body } = await payments.request<{ id: string }>({ method: 'POST', path: '/charges', body: input,
 *       signal: ctx.signal, idempotencyKey: ctx.idempotencyKey, deadlineAt: ctx.deadlineAt });
 *     return { chargeId: body.id }; // the API's answer, as the operation's output
 *   },
 * });
 * ```
 */
export function createHttpEffect(options: HttpEffectOptions): HttpEffect {
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch (error) {
    throw new OnexError(ErrorCode.Validation, 'createHttpEffect: baseUrl is not a URL', { cause: error });
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new OnexError(ErrorCode.Validation, `createHttpEffect: baseUrl must be http: or https: (got ${base.protocol})`);
  }
  if (base.username !== '' || base.password !== '') {
    throw new OnexError(ErrorCode.Validation, 'createHttpEffect: put credentials in headers, not in baseUrl');
  }
  const secure = base.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  const ownsAgent = options.agent === undefined;
  const agent = options.agent ?? (secure ? new HttpsAgent({ keepAlive: true, maxSockets: 64 }) : new HttpAgent({ keepAlive: true, maxSockets: 64 }));
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  const origin = base.origin;
  const sanitizer = options.sanitizer ?? new ErrorSanitizer();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const defaultHeaders = options.headers ?? {};
  const retryOptions = options.retry ?? {};
  const retry = new RetryPolicy(retryOptions);
  // For requests that are not idempotent: retry only failures the server cannot have acted on.
  const unsafeRetry = new RetryPolicy({ ...retryOptions, retryOn: (error) => error.context['notProcessed'] === true });
  const ownsBreakers = options.breakers === undefined;
  const breakers = options.breakers ?? new CircuitBreakerRegistry();
  const breaker = options.breaker === false ? undefined : breakers.get(`http:${base.host}`, { timeoutMs: false, ...options.breaker });

  const attempt = (method: HttpMethod, path: string, headers: OutgoingHttpHeaders, body: Buffer | undefined, where: string, signal: AbortSignal): Promise<Raw> =>
    new Promise<Raw>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReasonToOnexError(signal));
        return;
      }
      const req = send(`${origin}${path}`, { agent, method, headers });
      let settled = false;
      const finish = (error: OnexError | undefined, raw?: Raw): void => {
        if (settled) return;
        settled = true;
        unlink();
        if (error === undefined) resolve(raw as Raw);
        else {
          reject(error);
          req.destroy();
        }
      };
      const unlink = onAbort(signal, () => finish(abortReasonToOnexError(signal)));
      req.on('error', (error) => finish(transportError(error, method, where)));
      req.on('response', (res: IncomingMessage) => {
        // Core's bounded reader: a body declared or streamed past the limit is refused (and the request destroyed).
        readBoundedBody(res, maxBytes).then(
          (read) => {
            if (read.ok) finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: read.body });
            else if (read.failure === BodyReadFailure.TooLarge) {
              finish(new OnexError(ErrorCode.PayloadTooLarge, `${method} ${where} answered with a body over ${String(maxBytes)} bytes`, { context: { method, url: where } }));
            } else finish(new OnexError(ErrorCode.Unavailable, `${method} ${where}: connection closed mid-response`, { context: { method, url: where } }));
          },
          (error: unknown) => finish(transportError(error, method, where)),
        );
      });
      req.end(body);
    });

  /** One attempt bounded by its timeout, the caller's signal and the breaker's. */
  const bounded = async (
    method: HttpMethod,
    path: string,
    headers: OutgoingHttpHeaders,
    body: Buffer | undefined,
    where: string,
    attemptTimeoutMs: number,
    signals: readonly (AbortSignal | undefined)[],
  ): Promise<Raw> => {
    const controller = new AbortController();
    const abort = (reason: unknown): void => controller.abort(reason);
    const unlinks = signals.map((s) => onAbort(s, abort));
    const timer = setTimeout(
      () => controller.abort(new OnexError(ErrorCode.Timeout, `${method} ${where} timed out after ${String(attemptTimeoutMs)} ms`, { context: { method, url: where } })),
      attemptTimeoutMs,
    );
    try {
      const raw = await attempt(method, path, headers, body, where, controller.signal);
      if (raw.status >= 200 && raw.status <= 299) return raw;
      throw statusError(raw, method, where);
    } finally {
      clearTimeout(timer);
      for (const unlink of unlinks) unlink();
    }
  };

  const request = async <T>(req: HttpRequest): Promise<HttpResponse<T>> => {
    const method = req.method ?? 'GET';
    if (!req.path.startsWith('/')) throw new OnexError(ErrorCode.Validation, 'HttpRequest.path must start with /');
    const where = sanitizer.sanitizeText(`${origin}${prefix}${req.path}`);
    const path = `${prefix}${req.path}${queryString(req.query)}`;
    const headers: OutgoingHttpHeaders = { accept: 'application/json', ...defaultHeaders, ...req.headers };
    let body: Buffer | undefined;
    if (req.body !== undefined) {
      if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) body = Buffer.from(req.body);
      else {
        body = Buffer.from(JSON.stringify(req.body));
        if (headers['content-type'] === undefined) headers['content-type'] = 'application/json';
      }
      headers['content-length'] = body.length;
    }
    if (req.idempotencyKey !== undefined) headers['idempotency-key'] = req.idempotencyKey;
    const policy = SAFE_METHODS.has(method) || req.idempotencyKey !== undefined ? retry : unsafeRetry;
    const attemptTimeoutMs = req.timeoutMs ?? timeoutMs;
    let attempts = 0;
    const once = (): Promise<Raw> => {
      attempts++;
      if (breaker === undefined) return bounded(method, path, headers, body, where, attemptTimeoutMs, [req.signal]);
      return breaker.execute((breakerSignal) => bounded(method, path, headers, body, where, attemptTimeoutMs, [req.signal, breakerSignal]));
    };
    const raw = await policy.execute(once, {
      ...(req.signal === undefined ? {} : { signal: req.signal }),
      ...(req.deadlineAt === undefined ? {} : { deadlineAt: req.deadlineAt }),
    });
    return { status: raw.status, headers: raw.headers, body: decode(raw, method, where) as T, attempts };
  };

  return {
    baseUrl: `${origin}${prefix}`,
    breaker,
    request,
    close: () => {
      if (ownsAgent) agent.destroy();
      if (ownsBreakers) breakers.shutdown();
    },
  };
}

function queryString(query: HttpRequest['query']): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.append(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function statusError(raw: Raw, method: HttpMethod, where: string): OnexError {
  const status = raw.status;
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(raw.headers['retry-after']) : undefined;
  return new OnexError(errorCodeForHttpStatus(status), `${method} ${where} answered HTTP ${String(status)}`, {
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    context: { method, url: where, status, ...(status === 429 ? { notProcessed: true } : {}) },
  });
}

function transportError(error: unknown, method: HttpMethod, where: string): OnexError {
  if (isOnexError(error)) return error;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const reason = typeof code === 'string' ? code : 'connection failed';
  return new OnexError(ErrorCode.Unavailable, `${method} ${where} failed: ${reason}`, {
    cause: error,
    retryable: isConnectionError(error) || typeof code !== 'string',
    context: { method, url: where, ...(code === 'ECONNREFUSED' ? { notProcessed: true } : {}) },
  });
}

function decode(raw: Raw, method: HttpMethod, where: string): unknown {
  if (raw.body.length === 0) return undefined;
  const type = raw.headers['content-type'] ?? '';
  const text = raw.body.toString('utf8');
  if (!/[/+]json\b/i.test(type)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new OnexError(ErrorCode.Unavailable, `${method} ${where} answered with invalid JSON`, { cause: error, retryable: false, context: { method, url: where } });
  }
}
