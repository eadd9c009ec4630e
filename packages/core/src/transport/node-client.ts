import { randomUUID } from 'node:crypto';
import { Agent, request, type IncomingMessage } from 'node:http';
import { context, propagation, SpanKind, trace, type Context, type Span, type SpanOptions, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { z } from 'zod';
import type { ContractDocument, NodeContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError, abortReasonToOnexError, isOnexError, toOnexError, validationDetails } from '../errors/onex-error.js';
import { parseWireError } from '../errors/wire-error.js';
import type { CircuitBreaker } from '../resilience/circuit-breaker.js';
import type { RetryPolicy } from '../resilience/retry-policy.js';
import type { CallOptions, CallerIdentity } from '../node/call-context.js';
import type { NodeHealth, NodeMetrics } from '../node/node-service.js';
import type { Result } from '../node/result.js';
import { onAbort } from '../internal/abort.js';
import type { Keyring } from '../auth/keyring.js';
import { signRequest } from '../auth/request-signing.js';
import { CORE_VERSION, failSpan, HEADER_LIST_SETTER, isTraced, OnexAttribute, onexTracer } from '../telemetry/tracing.js';
import { BodyReadFailure, readBoundedBody } from './bounded-body.js';
import {
  MAX_TIMEOUT_MS,
  OnexHeader,
  formatCallerHeader,
  formatTimeoutHeader,
  isValidCorrelationId,
  isValidIdempotencyKey,
  parseCorrelationIdHeader,
} from './headers.js';

/**
 * A typed client of one node: the interface shared by the HTTP client ({@link createNodeClient}) and the
 * in-process one (`createInProcessClient`), so code that calls a node does not care where it runs.
 *
 * Both clients give a call the same semantics: a correlation id (the caller's, or a new one), a deadline (the
 * call's, or the client's default `timeoutMs`) after which the call fails with `TIMEOUT`, cancellation through
 * `options.signal` (`CANCELLED`), the caller identity, and errors as {@link OnexError}s.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineContract, NodeKind, type NodeClient } from '@onex/core';
 * const pricingContract = defineContract({ name: 'pricing', kind: NodeKind.Compute, version: '1.0.0',
 *   input: z.object({ sku: z.string() }), output: z.object({ price: z.number() }) });
 * async function quote(pricing: NodeClient<typeof pricingContract>, sku: string) {
 *   const r = await pricing.call({ sku }, { timeoutMs: 500 });
 *   return r.ok ? r.value.price : undefined;
 * }
 * ```
 */
export interface NodeClient<C extends NodeContract> {
  /** The contract the client was made for. */
  readonly contract: C;
  /** Calls the node. Never throws: failures come back as `{ ok: false, error }`. */
  call(input: z.input<C['input']>, options?: CallOptions): Promise<Result<z.output<C['output']>>>;
  /** Calls the node and returns its output; throws the {@link OnexError} of a failed call. */
  callOrThrow(input: z.input<C['input']>, options?: CallOptions): Promise<z.output<C['output']>>;
  /** The node's health (also when it is unhealthy). Throws an {@link OnexError} when it cannot be read. */
  health(): Promise<NodeHealth>;
  /** The node's metrics as JSON (`GET /metrics.json`). Throws an {@link OnexError} when they cannot be read. */
  metrics(): Promise<NodeMetrics>;
  /** The node's contract document, as the node serves it. */
  fetchContract(): Promise<ContractDocument>;
  /** Releases the client's resources; later calls fail with `LIFECYCLE`. Does not stop the node. */
  close(): Promise<void>;
}

/**
 * What every node client accepts: the default deadline, resilience wrappers and the caller identity.
 *
 * @example
 * ```ts
 * const options: CallPolicyOptions = { timeoutMs: 2_000, retry: new RetryPolicy({ maxAttempts: 3 }) };
 * ```
 */
export interface CallPolicyOptions {
  /** Deadline of a call that brings none (neither `timeoutMs` nor `deadlineAt`), ms. Default 30 000. */
  readonly timeoutMs?: number;
  /** Every attempt goes through this breaker (share one breaker per peer). */
  readonly breaker?: CircuitBreaker;
  /**
   * Retries failed attempts as the policy decides (by default: retryable errors). Every attempt carries the same
   * correlation id and idempotency key and the remaining budget of the one deadline. The client never invents an
   * idempotency key: a call without one is retried exactly when the policy says so, so give a policy that retries
   * non-idempotent calls a `retryOn` that only accepts failures which cannot have reached the node.
   */
  readonly retry?: RetryPolicy;
  /** Identity sent with every call that does not name its own `caller`. */
  readonly caller?: CallerIdentity;
  /**
   * Where the client's `call <node>` spans go (one per call, over its attempts; the HTTP client sends its W3C
   * `traceparent`/`tracestate` through the global propagator). Default: the global provider, a no-op until an
   * OpenTelemetry SDK is registered.
   */
  readonly tracerProvider?: TracerProvider;
}

/**
 * Options of {@link createNodeClient}.
 *
 * @example
 * ```ts
 * import { Agent } from 'node:http';
 * const agent = new Agent({ keepAlive: true, maxSockets: 64 }); // shared by several clients
 * const options: NodeClientOptions = { agent, timeoutMs: 1_000, caller: { id: 'checkout', kind: 'node' } };
 * ```
 */
export interface NodeClientOptions extends CallPolicyOptions {
  /** Connection pool to use (shared by several clients). Default: the client's own keep-alive agent, 256 sockets. */
  readonly agent?: Agent;
  /** Parse a successful body with the contract's output schema (`CONTRACT` error when it does not fit). Default true. */
  readonly validateOutput?: boolean;
  /** Largest response body read, bytes; a larger one fails the call with `PAYLOAD_TOO_LARGE`. Default 16 MiB. */
  readonly maxResponseBytes?: number;
  /** Sign every request (calls and `GET`s) for a node served with `auth`. Default: unsigned. */
  readonly auth?: ClientAuthOptions;
}

/**
 * How a client signs its requests: with a key of `keyring` (e.g. `Keyring.fromEnv()`), chosen per request by
 * `keyring.signingKey(now, keyId)`: the key `keyId`, or the newest active key, so signers move to a rotated key
 * once its `notBefore` passes. Each attempt is signed anew (a fresh timestamp and nonce), over the exact body bytes
 * sent.
 *
 * @example
 * ```ts
 * import { Keyring, type ClientAuthOptions } from '@onex/core';
 * const auth: ClientAuthOptions = { keyring: new Keyring([{ id: 'k1', secret: 'k7VvJ0p5bQ6m1sX9tY2wZ8aB3cD4eF5g' }]), keyId: 'k1' };
 * ```
 */
export interface ClientAuthOptions {
  /** The keys to sign with. */
  readonly keyring: Keyring;
  /** The key to sign with. Default: the active key that became valid last. */
  readonly keyId?: string;
  /** The signer's clock, epoch ms. Default `Date.now`. */
  readonly now?: () => number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const JSON_TYPE = 'application/json';

/**
 * One call with its options resolved: what every attempt of it shares.
 *
 * @internal Shared by the node clients; not part of the public API.
 */
export interface PreparedCall {
  readonly correlationId: string;
  /** Absolute deadline, epoch ms. */
  readonly deadlineAt: number;
  readonly signal: AbortSignal | undefined;
  readonly idempotencyKey: string | undefined;
  readonly caller: CallerIdentity | undefined;
}

/**
 * Resolves a call's options against the client's defaults, or explains why they cannot be used (values that
 * could not cross an HTTP hop are refused by every client alike, so in-process and HTTP calls behave the same).
 *
 * @internal Shared by the node clients; not part of the public API.
 */
export function prepareCall(options: CallOptions, defaultTimeoutMs: number, defaultCaller: CallerIdentity | undefined): PreparedCall | OnexError {
  const correlationId = options.correlationId ?? randomUUID();
  if (options.correlationId !== undefined && !isValidCorrelationId(correlationId)) {
    return new OnexError(ErrorCode.Validation, 'Invalid correlationId: use 1-128 characters from [A-Za-z0-9._~:/+=-]');
  }
  const key = options.idempotencyKey;
  if (key !== undefined && !isValidIdempotencyKey(key)) {
    return new OnexError(ErrorCode.Validation, 'Invalid idempotencyKey: use 1-256 visible ASCII characters', { correlationId });
  }
  const caller = options.caller ?? defaultCaller;
  if (caller !== undefined && options.caller !== undefined && formatCallerHeader(caller) === undefined) {
    return new OnexError(ErrorCode.Validation, 'Invalid caller: id must be visible ASCII without ";", kind [A-Za-z0-9._-]', { correlationId });
  }
  const now = Date.now();
  let deadlineAt = options.timeoutMs === undefined ? undefined : now + options.timeoutMs;
  if (options.deadlineAt !== undefined) deadlineAt = deadlineAt === undefined ? options.deadlineAt : Math.min(deadlineAt, options.deadlineAt);
  return {
    correlationId,
    deadlineAt: deadlineAt ?? now + defaultTimeoutMs,
    signal: options.signal,
    idempotencyKey: key,
    caller,
  };
}

const CLIENT_SPAN: SpanOptions = Object.freeze({ kind: SpanKind.CLIENT });

/**
 * The span of one client call: started in the active context, it is the parent of the node's `process` span.
 *
 * @internal Shared by the node clients; not part of the public API.
 */
export interface CallSpan {
  readonly span: Span;
  /** The active context with the span current: what the call propagates. */
  readonly context: Context;
}

/**
 * Starts the `call <node>` span of one call, or answers undefined when it would have no trace (no SDK registered):
 * then the call pays for nothing else.
 *
 * @internal Shared by the node clients; not part of the public API.
 */
export function startCallSpan(tracer: Tracer, name: string, node: string, prepared: PreparedCall): CallSpan | undefined {
  const parent = context.active();
  const span = tracer.startSpan(name, CLIENT_SPAN, parent);
  if (!isTraced(span)) return undefined;
  if (span.isRecording()) {
    span.setAttribute(OnexAttribute.Node, node);
    span.setAttribute(OnexAttribute.CorrelationId, prepared.correlationId);
    if (prepared.idempotencyKey !== undefined) span.setAttribute(OnexAttribute.IdempotencyKey, prepared.idempotencyKey);
  }
  return { span, context: trace.setSpan(parent, span) };
}

/**
 * Ends a call's span with the call's result.
 *
 * @internal Shared by the node clients; not part of the public API.
 */
export function endCallSpan<T>(span: Span, result: Result<T>): Result<T> {
  if (!result.ok) failSpan(span, result.error);
  span.end();
  return result;
}

/**
 * The tracer of the node clients.
 *
 * @internal Shared by the node clients; not part of the public API.
 */
export function clientTracer(policy: CallPolicyOptions): Tracer {
  return onexTracer(policy.tracerProvider, '@onex/core', CORE_VERSION);
}

/**
 * Runs one call's attempts, through the breaker and the retry policy when there are any. `attempt` receives the
 * signal to honour (the caller's, combined with the breaker's) and resolves with a {@link Result}.
 *
 * @internal Shared by the node clients; not part of the public API.
 */
export function runCall<T>(
  prepared: PreparedCall,
  policy: CallPolicyOptions,
  attempt: (signal: AbortSignal | undefined) => Promise<Result<T>>,
): Promise<Result<T>> {
  const { breaker, retry } = policy;
  if (breaker === undefined && retry === undefined) return attempt(prepared.signal);
  return runResilient(prepared, breaker, retry, attempt);
}

async function runResilient<T>(
  prepared: PreparedCall,
  breaker: CircuitBreaker | undefined,
  retry: RetryPolicy | undefined,
  attempt: (signal: AbortSignal | undefined) => Promise<Result<T>>,
): Promise<Result<T>> {
  const once = async (): Promise<T> => {
    const result =
      breaker === undefined
        ? await attempt(prepared.signal)
        : await breaker.execute(async (breakerSignal) => {
            const signal = prepared.signal === undefined ? breakerSignal : AbortSignal.any([prepared.signal, breakerSignal]);
            const r = await attempt(signal);
            if (!r.ok) throw r.error;
            return r;
          });
    if (!result.ok) throw result.error;
    return result.value;
  };
  try {
    const value =
      retry === undefined
        ? await once()
        : await retry.execute(once, { deadlineAt: prepared.deadlineAt, ...(prepared.signal === undefined ? {} : { signal: prepared.signal }) });
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: toOnexError(error, { correlationId: prepared.correlationId }) };
  }
}

/** Throws the error of a failed result. */
function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw result.error;
}

/**
 * Turns what one HTTP exchange produced into the caller's value: an answer (any status, with its body) or a
 * transport failure. Made once per client, so the exchange resolves with the final value in one step.
 */
interface ExchangeHandlers<R> {
  answered(status: number, text: string, res: IncomingMessage, correlationId: string): R;
  failed(error: OnexError): R;
}

interface Target {
  readonly agent: Agent;
  readonly hostname: string;
  readonly port: number;
  /** The `host` header: with headers given as an array, `http.request` does not add it. */
  readonly host: string;
  readonly maxResponseBytes: number;
}

function transportError(error: unknown, correlationId: string): OnexError {
  if (isOnexError(error)) return error;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const what = typeof code === 'string' ? code : error instanceof Error ? error.message : 'transport failure';
  return new OnexError(ErrorCode.Unavailable, `Peer unavailable: ${what}`, { cause: error, correlationId });
}

/**
 * One request on the keep-alive pool, bounded by `deadlineAt` (→ `TIMEOUT`) and `signal` (→ its abort reason,
 * `CANCELLED` unless it says otherwise). Never rejects.
 *
 * `headers` is a flat `[name, value, …]` list: `http.request` then writes it as is (still validating every
 * name and value) instead of going through `setHeader` per header — measurably cheaper per call.
 */
function exchange<R>(
  target: Target,
  method: 'GET' | 'POST',
  path: string,
  headers: string[],
  body: Buffer | undefined,
  deadlineAt: number,
  signal: AbortSignal | undefined,
  correlationId: string,
  handlers: ExchangeHandlers<R>,
): Promise<R> {
  return new Promise<R>((resolve) => {
    const remaining = deadlineAt - Date.now();
    if (signal?.aborted === true) {
      resolve(handlers.failed(abortReasonToOnexError(signal, correlationId)));
      return;
    }
    if (remaining <= 0) {
      resolve(handlers.failed(new OnexError(ErrorCode.Timeout, 'Deadline exceeded before the call was sent', { correlationId })));
      return;
    }
    if (method === 'POST') headers.push(OnexHeader.TimeoutMs, formatTimeoutHeader(remaining));
    const req = request({ agent: target.agent, hostname: target.hostname, port: target.port, method, path, headers });
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      stopListening();
      return true;
    };
    const fail = (error: OnexError): void => {
      if (settle()) resolve(handlers.failed(error));
    };
    const timer = setTimeout(() => {
      fail(new OnexError(ErrorCode.Timeout, 'Deadline exceeded', { correlationId }));
      req.destroy();
    }, Math.min(remaining, MAX_TIMEOUT_MS)); // Node fires longer timers at once
    // The signal has not aborted yet (checked above), so the listener cannot run before the request exists.
    const stopListening = onAbort(signal, () => {
      fail(abortReasonToOnexError(signal as AbortSignal, correlationId));
      req.destroy();
    });
    req.on('error', (error) => fail(transportError(error, correlationId)));
    req.on('response', (res: IncomingMessage) => {
      const limit = target.maxResponseBytes;
      readBoundedBody(res, limit).then(
        (read) => {
          if (read.ok) {
            if (settle()) resolve(handlers.answered(res.statusCode ?? 0, read.body.toString('utf8'), res, correlationId));
          } else if (read.failure === BodyReadFailure.TooLarge) {
            fail(new OnexError(ErrorCode.PayloadTooLarge, `Response body exceeds ${limit} bytes`, { correlationId }));
            req.destroy();
          } else {
            fail(new OnexError(ErrorCode.Unavailable, 'Peer closed the connection mid-response', { correlationId }));
          }
        },
        (error: unknown) => fail(transportError(error, correlationId)),
      );
    });
    req.end(body);
  });
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The error an HTTP failure answer stands for (an ONEX wire error, or whatever a proxy sent). */
function failureOf(status: number, text: string, res: IncomingMessage, sentCorrelationId: string): OnexError {
  const parsed = parseJson(text);
  const echoed = parseCorrelationIdHeader(res.headers[OnexHeader.CorrelationId]);
  return parseWireError(parsed.ok ? parsed.value : undefined, status, echoed ?? sentCorrelationId);
}

/** A transport failure as a failed {@link Result}. */
const failedResult = (error: OnexError): Result<never> => ({ ok: false, error });

/**
 * A typed HTTP client of a node served by `serveNode`, on `node:http` with a keep-alive pool (Node 20's global
 * `fetch` costs several times more per call).
 *
 * Each call sends the input as JSON to `POST {url}/v1/process` with `x-correlation-id`, the remaining budget in
 * `x-onex-timeout-ms`, and `idempotency-key` / `x-onex-caller` when set. The request is aborted locally at the
 * deadline (`TIMEOUT`) or when `options.signal` aborts (`CANCELLED`); refused or dropped connections fail with a
 * retryable `UNAVAILABLE`; error answers become the peer's {@link OnexError} (via `parseWireError`), non-JSON
 * ones an error whose code follows the HTTP status. The client does not validate inputs (the node does, answering
 * 422 `VALIDATION`); it validates outputs unless `validateOutput: false`.
 *
 * @throws OnexError `VALIDATION` when `url` is not an `http://` URL.
 * @example
 * ```ts
 * import { createNodeClient } from '@onex/core';
 * const greeter = createNodeClient('http://127.0.0.1:8080', greeterContract, { timeoutMs: 1_000 });
 * const r = await greeter.call({ name: 'Ada' }, { correlationId: ctx.correlationId, signal: ctx.signal });
 * if (r.ok) console.log(r.value.greeting); else console.error(r.error.code);
 * await greeter.close();
 * ```
 */
export function createNodeClient<C extends NodeContract>(url: string, contract: C, options: NodeClientOptions = {}): NodeClient<C> {
  let base: URL;
  try {
    base = new URL(url);
  } catch (error) {
    throw new OnexError(ErrorCode.Validation, `Invalid node URL '${url}'`, { cause: error });
  }
  if (base.protocol !== 'http:') throw new OnexError(ErrorCode.Validation, `Node URL must use http: (got ${base.protocol})`);
  const ownsAgent = options.agent === undefined;
  const agent = options.agent ?? new Agent({ keepAlive: true, maxSockets: 256 });
  const target: Target = {
    agent,
    hostname: base.hostname.startsWith('[') ? base.hostname.slice(1, -1) : base.hostname,
    port: base.port === '' ? 80 : Number(base.port),
    host: base.host,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  const processPath = `${prefix}/v1/process`;
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const defaultCallerHeader = options.caller === undefined ? undefined : formatCallerHeader(options.caller);
  if (options.caller !== undefined && defaultCallerHeader === undefined) {
    throw new OnexError(ErrorCode.Validation, 'Invalid caller: id must be visible ASCII without ";", kind [A-Za-z0-9._-]');
  }
  const validate = options.validateOutput !== false;
  const output = contract.output;
  const auth = options.auth;
  const now = auth?.now ?? Date.now;
  const tracer = clientTracer(options);
  const spanName = `call ${contract.name}`;
  let closed = false;

  /** Appends the signature headers of one attempt; a failure when no key of the keyring is active. */
  const sign = (headers: string[], method: 'GET' | 'POST', path: string, body: Buffer | undefined, correlationId: string): OnexError | undefined => {
    if (auth === undefined) return undefined;
    const at = now();
    const key = auth.keyring.signingKey(at, auth.keyId);
    if (key === undefined) {
      return new OnexError(ErrorCode.Unauthorized, auth.keyId === undefined ? 'No active auth key to sign with' : `Auth key '${auth.keyId}' is unknown or not active`, { correlationId });
    }
    const signed = signRequest(key, { method, path, now: at, ...(body === undefined ? {} : { body }) });
    for (const [name, value] of Object.entries(signed)) headers.push(name, value);
    return undefined;
  };

  type Output = z.output<C['output']>;

  const callHandlers: ExchangeHandlers<Result<Output>> = {
    failed: failedResult,
    answered: (status, text, res, correlationId) => {
      if (status < 200 || status > 299) return { ok: false, error: failureOf(status, text, res, correlationId) };
      const parsed = parseJson(text);
      if (!parsed.ok) {
        return { ok: false, error: new OnexError(ErrorCode.Contract, `Node '${contract.name}' answered with a body that is not JSON`, { correlationId }) };
      }
      if (!validate) return { ok: true, value: parsed.value as Output };
      const checked = output.safeParse(parsed.value);
      if (checked.success) return { ok: true, value: checked.data as Output };
      return {
        ok: false,
        error: new OnexError(ErrorCode.Contract, `Node '${contract.name}' answered with output that breaks its contract`, {
          correlationId,
          details: validationDetails(checked.error.issues),
        }),
      };
    },
  };

  const attemptCall = (body: Buffer, prepared: PreparedCall, signal: AbortSignal | undefined, traced: Context | undefined): Promise<Result<Output>> => {
    const headers = [
      'host',
      target.host,
      'content-type',
      JSON_TYPE,
      'content-length',
      String(body.length),
      OnexHeader.CorrelationId,
      prepared.correlationId,
    ];
    if (prepared.idempotencyKey !== undefined) headers.push(OnexHeader.IdempotencyKey, prepared.idempotencyKey);
    const callerHeader = prepared.caller === undefined ? undefined : prepared.caller === options.caller ? defaultCallerHeader : formatCallerHeader(prepared.caller);
    if (callerHeader !== undefined) headers.push(OnexHeader.Caller, callerHeader);
    // W3C traceparent/tracestate (the SDK's propagator): outside the signature, which covers method, path and body.
    if (traced !== undefined) propagation.inject(traced, headers, HEADER_LIST_SETTER);
    const unsigned = sign(headers, 'POST', processPath, body, prepared.correlationId);
    if (unsigned !== undefined) return Promise.resolve({ ok: false, error: unsigned });
    return exchange(target, 'POST', processPath, headers, body, prepared.deadlineAt, signal, prepared.correlationId, callHandlers);
  };

  const call = (input: z.input<C['input']>, callOptions: CallOptions = {}): Promise<Result<Output>> => {
    const prepared = prepareCall(callOptions, defaultTimeoutMs, options.caller);
    if (isOnexError(prepared)) return Promise.resolve({ ok: false, error: prepared });
    if (closed) return Promise.resolve({ ok: false, error: new OnexError(ErrorCode.Lifecycle, 'Client is closed', { correlationId: prepared.correlationId }) });
    let body: string | undefined;
    try {
      body = JSON.stringify(input);
    } catch (error) {
      return Promise.resolve({ ok: false, error: new OnexError(ErrorCode.Validation, 'Input is not JSON-serializable', { cause: error, correlationId: prepared.correlationId }) });
    }
    // The exact bytes sent: the signature's digest is over them.
    const json = Buffer.from(body ?? 'null', 'utf8');
    const traced = startCallSpan(tracer, spanName, contract.name, prepared);
    if (traced === undefined) return runCall(prepared, options, (signal) => attemptCall(json, prepared, signal, undefined));
    if (traced.span.isRecording()) {
      traced.span.setAttribute('server.address', target.hostname);
      traced.span.setAttribute('server.port', target.port);
    }
    return runCall(prepared, options, (signal) => attemptCall(json, prepared, signal, traced.context)).then((result) => endCallSpan(traced.span, result));
  };

  type Answer = { readonly status: number; readonly text: string; readonly res: IncomingMessage; readonly correlationId: string } | OnexError;
  const getHandlers: ExchangeHandlers<Answer> = {
    answered: (status, text, res, correlationId) => ({ status, text, res, correlationId }),
    failed: (error) => error,
  };

  const getJson = async (path: string, accept: (status: number, value: unknown) => boolean): Promise<unknown> => {
    const correlationId = randomUUID();
    if (closed) throw new OnexError(ErrorCode.Lifecycle, 'Client is closed', { correlationId });
    const headers = ['host', target.host, 'accept', JSON_TYPE, OnexHeader.CorrelationId, correlationId];
    const unsigned = sign(headers, 'GET', `${prefix}${path}`, undefined, correlationId);
    if (unsigned !== undefined) throw unsigned;
    const answer = await exchange(target, 'GET', `${prefix}${path}`, headers, undefined, Date.now() + defaultTimeoutMs, undefined, correlationId, getHandlers);
    if (isOnexError(answer)) throw answer;
    const parsed = parseJson(answer.text);
    if (parsed.ok && accept(answer.status, parsed.value)) return parsed.value;
    throw failureOf(answer.status, answer.text, answer.res, correlationId);
  };

  const isOk = (status: number): boolean => status >= 200 && status <= 299;

  return {
    contract,
    call,
    callOrThrow: async (input, callOptions) => unwrap(await call(input, callOptions)),
    health: async () =>
      (await getJson('/health', (status, value) => {
        // An unhealthy node answers 503 with its health document: that is an answer, not a failure.
        if (isOk(status)) return true;
        return status === 503 && typeof value === 'object' && value !== null && 'lifecycle' in value && 'status' in value;
      })) as NodeHealth,
    metrics: async () => (await getJson('/metrics.json', isOk)) as NodeMetrics,
    fetchContract: async () => (await getJson('/contract', isOk)) as ContractDocument,
    close: () => {
      closed = true;
      if (ownsAgent) agent.destroy();
      return Promise.resolve();
    },
  };
}
