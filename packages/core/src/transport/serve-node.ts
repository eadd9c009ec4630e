import { randomUUID } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { Server, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { context, propagation, ROOT_CONTEXT, type TextMapGetter } from '@opentelemetry/api';
import { Hono, type Context, type Next } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import { ErrorCode, errorCodeForHttpStatus } from '../errors/error-codes.js';
import type { ErrorSanitizer } from '../errors/error-sanitizer.js';
import { OnexError, toOnexError } from '../errors/onex-error.js';
import { toWireError, type ToWireErrorOptions } from '../errors/wire-error.js';
import type { Logger } from '../logging/logger.js';
import type { CallOptions } from '../node/call-context.js';
import { HealthStatus, type NodeService } from '../node/node-service.js';
import { NodeAuthenticator, unauthorized, verifiedCaller, type NodeAuthOptions } from '../auth/node-auth.js';
import { CallerLimiter } from './caller-limiter.js';
import { DEFAULT_BODY_LIMIT_BYTES, hasUnreadBody, nodeBindings, readJsonBody } from './bounded-body.js';
import { OnexHeader, parseCallerHeader, parseCorrelationIdHeader, parseIdempotencyKeyHeader, parseTimeoutHeader } from './headers.js';

/**
 * Any node, whatever its schemas: what the transport serves. A concrete `NodeService` subclass is assignable to
 * it (checked in `serve-node.test.ts`).
 *
 * @example
 * ```ts
 * import type { AnyNodeService } from '@onex/core';
 * async function stopAll(nodes: readonly AnyNodeService[]): Promise<void> {
 *   await Promise.all(nodes.map((node) => node.shutdown()));
 * }
 * await stopAll([]);
 * ```
 */
export type AnyNodeService = NodeService<z.ZodType, z.ZodType, z.ZodType>;

/**
 * Options of {@link createNodeApp}: how the HTTP app answers, without a listening server.
 *
 * @example
 * ```ts
 * const options: NodeAppOptions = { bodyLimitBytes: 64 * 1024, exposeStack: process.env.NODE_ENV === 'development' };
 * ```
 */
export interface NodeAppOptions {
  /** Largest request body accepted, bytes; a larger one is answered 413 without being buffered. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Send error stacks on the wire (development only). Default false. */
  readonly exposeStack?: boolean;
  /**
   * Masks secrets in every error body. Default: the node's own sanitizer (the one its `handle()` uses), or a
   * default {@link ErrorSanitizer} when the node has none.
   */
  readonly sanitizer?: ErrorSanitizer;
  /** Where errors that escape the routes (transport bugs, `configure` routes) are logged. Default: not logged. */
  readonly logger?: Logger;
  /**
   * Require signed requests (see {@link NodeAuthOptions} and `signRequest`): every route, those added with
   * `configure` included, answers 401 `UNAUTHORIZED` to a request that is not signed with an active key of the
   * keyring, except `GET /health` (see `publicPaths`). `process` handlers see the verified caller as `ctx.caller`
   * (it replaces any `x-onex-caller` header); routes added with `configure` read it with `verifiedCaller(c)` and
   * guard themselves with `requireScope(scope)`. Default: no authentication.
   */
  readonly auth?: NodeAuthOptions;
  /**
   * Requests one caller may have in flight at once; one more is answered 429 `RATE_LIMITED` with `Retry-After`. A
   * caller is the verified principal (with `auth`), else the remote address. At most `maxTrackedCallers` callers may
   * have requests in flight at once (beyond: 503 `OVERLOADED`), so the state stays bounded. `false` turns the limit
   * off. Default 1024 per caller.
   */
  readonly maxConcurrentPerCaller?: number | false;
  /** See `maxConcurrentPerCaller`. Default 10 000. */
  readonly maxTrackedCallers?: number;
  /**
   * Adds routes to the app after the built-in ones (`POST /v1/process`, `GET /health`, `GET /metrics`,
   * `GET /metrics.json`, `GET /contract`), e.g. an orchestrator's `/v1/workflows`. Built-in paths win; a route that
   * throws is answered with a sanitized wire error like the built-in ones, and every response of the app's error
   * and not-found handlers carries `x-correlation-id`. Extra routes set that header themselves if they want it.
   *
   * `settings` carries the app's resolved options, so the routes can apply the same limits: read a JSON body with
   * `readJsonBody(c, { limitBytes: settings.bodyLimitBytes })`.
   */
  readonly configure?: (app: Hono, settings: NodeAppSettings) => void;
}

/**
 * The resolved settings of a node app, handed to {@link NodeAppOptions.configure} so that added routes enforce
 * the same limits as the built-in ones.
 *
 * @example
 * ```ts
 * import type { Hono } from 'hono';
 * import { readJsonBody, type NodeAppSettings } from '@onex/core';
 * const configure = (app: Hono, { bodyLimitBytes }: NodeAppSettings): void => {
 *   app.post('/v1/echo', async (c) => {
 *     const body = await readJsonBody(c, { limitBytes: bodyLimitBytes });
 *     if (!body.ok) throw body.error;
 *     return c.json(body.value);
 *   });
 * };
 * ```
 */
export interface NodeAppSettings {
  /** Largest request body accepted, bytes: the app's `bodyLimitBytes`, or its 1 MiB default. */
  readonly bodyLimitBytes: number;
}

/**
 * Options of {@link serveNode}.
 *
 * @example
 * ```ts
 * const options: ServeNodeOptions = { port: 8080, host: '0.0.0.0', drainTimeoutMs: 5_000 };
 * ```
 */
export interface ServeNodeOptions extends NodeAppOptions {
  /** Port to listen on; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Interface to bind. Default `'127.0.0.1'` (loopback only: exposing a node is an explicit decision). */
  readonly host?: string;
  /**
   * How long a client may take to send a request's headers, ms (Node's `server.headersTimeout`): a slow client is
   * answered 408 and disconnected. Default 10 000.
   */
  readonly headersTimeoutMs?: number;
  /**
   * How long a client may take to send a whole request, headers and body, ms (Node's `server.requestTimeout`): a
   * client that trickles its body is answered 408 and disconnected. Does not bound the time the node takes to
   * answer (that is the call's deadline). At least `headersTimeoutMs`. Default 30 000.
   */
  readonly requestTimeoutMs?: number;
  /** How long `close()` waits for in-flight calls before dropping their connections, ms. Default 10 000. */
  readonly drainTimeoutMs?: number;
  /**
   * Whether `close()` also runs `node.shutdown()` once the server has drained. Default true: `serveNode`
   * initialises the node, so by default it also shuts it down. Pass false when the node outlives the server
   * (served twice, or also used through an in-process client); then the caller shuts it down.
   */
  readonly shutdownNode?: boolean;
}

/**
 * A node being served over HTTP.
 *
 * @example
 * ```ts
 * const served = await serveNode(node);
 * console.log(served.url); // http://127.0.0.1:41234
 * await served.close();
 * ```
 */
export interface ServedNode {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  /** The port actually bound. */
  readonly port: number;
  /** The hono app answering requests. */
  readonly app: Hono;
  /**
   * Graceful stop: stops accepting connections, answers requests that arrive on open keep-alive connections with
   * a retryable 503 and `connection: close`, lets in-flight calls finish (up to `drainTimeoutMs`), closes the
   * remaining connections, then shuts the node down unless `shutdownNode: false`. Idempotent.
   */
  close(): Promise<void>;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_CONCURRENT_PER_CALLER = 1024;
const DEFAULT_MAX_TRACKED_CALLERS = 10_000;
/** When a caller over its limit may try again, ms. */
const RATE_LIMIT_RETRY_AFTER_MS = 1_000;
/** After the drain, how long responses already produced get to reach the wire before connections are cut. */
const FLUSH_GRACE_MS = 1_000;
/**
 * A client that disconnects this close to its deadline gave up because of it: report TIMEOUT, not CANCELLED. The
 * server's deadline starts when it reads the request, later than the client's by the transit and event-loop lag,
 * which on a loaded machine reaches tens of ms.
 */
const DEADLINE_SLACK_MS = 50;
const JSON_TYPE = 'application/json';
const CLOSE_CONNECTION: Readonly<Record<string, string>> = Object.freeze({ connection: 'close' });
const PROCESS_PATH = '/v1/process';

/** State shared by the app's handlers and the server that serves it. */
class ServeState {
  closing = false;
  inFlight = 0;
  #onIdle: (() => void) | undefined;

  leave(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0 && this.#onIdle !== undefined) this.#onIdle();
  }

  /** Resolves once no call is in flight, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#onIdle = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#onIdle = done;
    });
  }
}

const MAX_POOLED_CONTROLLERS = 1024;

/**
 * Recycles the AbortControllers that tie a call to its connection. Under load in Node 20 a new AbortSignal costs
 * ~3 µs plus GC work (measured in bench/core-overhead.bench.mjs), a few percent of a whole HTTP call, and almost
 * every call ends without aborting. Only the transport and `handle()` ever see these signals: `handle()` listens
 * for the abort and removes its listener before it resolves, and hands its own signal to `process()`.
 */
class ControllerPool {
  readonly #free: AbortController[] = [];

  acquire(): AbortController {
    return this.#free.pop() ?? new AbortController();
  }

  release(controller: AbortController): void {
    // Reuse only an untouched signal: never aborted, and nobody still listening to it.
    const { signal } = controller;
    if (this.#free.length < MAX_POOLED_CONTROLLERS && !signal.aborted && getEventListeners(signal, 'abort').length === 0) {
      this.#free.push(controller);
    }
  }
}

/**
 * A request path with its percent-encoded ASCII decoded, for logs: the logger's masking sees `/,sk_live_…` rather than
 * `/%2Csk_live_…`, where the escape's hex digits would glue onto the credential and hide it.
 */
function readablePath(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const code = Number.parseInt(hex, 16);
    return code >= 0x20 && code < 0x7f ? String.fromCharCode(code) : escape;
  });
}

/** Node's parsed headers when the app runs under `@hono/node-server`, else the Web `Headers`. */
type HeaderSource = IncomingHttpHeaders | Headers;

function header(source: HeaderSource, name: string): string | string[] | undefined | null {
  return source instanceof Headers ? source.get(name) : source[name];
}

/** Reads the propagator's headers (`traceparent`, `tracestate`) from Node's parsed headers or Web `Headers`. */
const HEADER_GETTER: TextMapGetter<HeaderSource> = {
  get(source, key) {
    const value = header(source, key);
    return value === null ? undefined : value;
  },
  keys: (source) => (source instanceof Headers ? [...source.keys()] : Object.keys(source)),
};

/** Mutable view of {@link CallOptions}, filled field by field (exactOptionalPropertyTypes forbids `undefined`). */
type MutableCallOptions = { -readonly [K in keyof CallOptions]: CallOptions[K] };

/**
 * Builds the hono app that serves `node`, without listening: for tests (`app.request(...)`) and for embedding
 * in a larger server. The node must already be initialised (calls to a node that is not ready answer 503
 * `LIFECYCLE`).
 *
 * Routes: `POST /v1/process` (body: the input as JSON; 200 with the output as JSON), `GET /health` (200 when
 * healthy or degraded, 503 when unhealthy), `GET /metrics` (Prometheus text exposition format, from the node's
 * `metricsRegistry`), `GET /metrics.json` (the JSON figures of `node.metrics()`), `GET /contract`. Failures answer
 * with the status of the error code and a {@link WireError} body; every response carries `x-correlation-id`.
 *
 * @example
 * ```ts
 * import { createNodeApp } from '@onex/core';
 * await node.initialize();
 * const app = createNodeApp(node);
 * const res = await app.request('/v1/process', {
 *   method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ada' }),
 * });
 * await res.json(); // { greeting: 'Hello Ada' }
 * ```
 */
export function createNodeApp(node: AnyNodeService, options: NodeAppOptions = {}): Hono {
  return buildApp(node, options, new ServeState());
}

function buildApp(node: AnyNodeService, options: NodeAppOptions, state: ServeState): Hono {
  const limit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new OnexError(ErrorCode.Validation, `bodyLimitBytes must be a non-negative integer (got ${String(limit)})`);
  }
  const readOptions = { limitBytes: limit };
  const settings: NodeAppSettings = { bodyLimitBytes: limit };
  const sanitizer = options.sanitizer ?? node.sanitizer;
  const wireOptions: ToWireErrorOptions = { sanitize: sanitizer.forWire, exposeStack: options.exposeStack === true };
  const logger = options.logger;
  const controllers = new ControllerPool();
  const authenticator = options.auth === undefined ? undefined : new NodeAuthenticator(options.auth);
  const perCaller = options.maxConcurrentPerCaller ?? DEFAULT_MAX_CONCURRENT_PER_CALLER;
  const maxCallers = options.maxTrackedCallers ?? DEFAULT_MAX_TRACKED_CALLERS;
  for (const [name, value] of [['maxConcurrentPerCaller', perCaller], ['maxTrackedCallers', maxCallers]] as const) {
    if (value !== false && (!Number.isInteger(value) || value < 1)) {
      throw new OnexError(ErrorCode.Validation, `${name} must be a positive integer (got ${String(value)})`);
    }
  }
  const limiter = perCaller === false ? undefined : new CallerLimiter(perCaller, maxCallers);
  const app = new Hono();

  const respond = (status: number, body: string, correlationId: string, extra?: Record<string, string>): Response => {
    const headers: Record<string, string> = { 'content-type': JSON_TYPE, [OnexHeader.CorrelationId]: correlationId };
    if (state.closing) headers['connection'] = 'close';
    if (extra !== undefined) Object.assign(headers, extra);
    return new Response(body, { status, headers });
  };

  const errorResponse = (error: OnexError, correlationId: string, extra?: Record<string, string>): Response => {
    const withId = error.correlationId === undefined ? error.withCorrelationId(correlationId) : error;
    const body = JSON.stringify(toWireError(withId, wireOptions));
    const headers = error.retryAfterMs === undefined ? extra : { ...extra, 'retry-after': String(Math.ceil(error.retryAfterMs / 1000)) };
    return respond(error.httpStatus, body, correlationId, headers);
  };

  const fail = (code: ErrorCode, message: string, correlationId: string): Response => errorResponse(new OnexError(code, message, { correlationId }), correlationId);

  const success = (value: unknown, correlationId: string): Response => {
    let body: string | undefined;
    try {
      body = JSON.stringify(value);
    } catch (error) {
      return errorResponse(new OnexError(ErrorCode.Contract, 'Output is not JSON-serializable', { correlationId, cause: error }), correlationId);
    }
    return respond(200, body ?? 'null', correlationId);
  };

  // The rest of a refused body is never read: the connection cannot carry another request.
  const unreadBodyHeaders = (c: Context): Record<string, string> | undefined => (hasUnreadBody(c) ? CLOSE_CONNECTION : undefined);

  const correlationOf = (c: Context): string => {
    const bindings = nodeBindings(c);
    const raw = bindings === undefined ? c.req.raw.headers.get(OnexHeader.CorrelationId) : bindings.incoming.headers[OnexHeader.CorrelationId];
    return parseCorrelationIdHeader(raw) ?? randomUUID();
  };

  /** Checks a request's signature (with `auth`): undefined when it may go on, else the 401 answer. */
  const refuseUnauthenticated = (c: Context, auth: NodeAuthenticator): Response | undefined => {
    const bindings = nodeBindings(c);
    let path: string;
    let read: (name: string) => string | string[] | undefined | null;
    if (bindings === undefined) {
      const url = new URL(c.req.url);
      path = `${url.pathname}${url.search}`;
      const { headers } = c.req.raw;
      read = (name) => headers.get(name);
    } else {
      path = bindings.incoming.url ?? '/';
      const { headers } = bindings.incoming;
      read = (name) => headers[name];
    }
    const outcome = auth.authenticate(c, { method: c.req.method, path, header: read }, c.req.path);
    if (outcome.ok) return undefined;
    // The reason is for operators; the caller only learns that authentication failed.
    logger?.warn({ reason: outcome.reason, method: c.req.method }, 'request authentication failed');
    const correlationId = correlationOf(c);
    return errorResponse(unauthorized(outcome.reason, correlationId), correlationId, { ...unreadBodyHeaders(c), 'www-authenticate': 'ONEX-HMAC-SHA256' });
  };

  /**
   * What every request goes through before its route, in order: its signature (with `auth`), then the caller's
   * slot (with a per-caller limit), held until the route has answered. One function rather than a middleware each:
   * every level of hono's chain costs promises on every request.
   */
  const admit = (c: Context, next: Next): Promise<Response | void> => {
    if (authenticator !== undefined) {
      const refused = refuseUnauthenticated(c, authenticator);
      if (refused !== undefined) return Promise.resolve(refused);
    }
    if (limiter === undefined) return next();
    const principal = verifiedCaller(c)?.id;
    const caller = principal === undefined ? `a:${nodeBindings(c)?.incoming.socket.remoteAddress ?? 'local'}` : `p:${principal}`;
    const entered = limiter.enter(caller);
    if (entered !== 'ok') {
      const correlationId = correlationOf(c);
      const error =
        entered === 'caller-busy'
          ? new OnexError(ErrorCode.RateLimited, 'Too many concurrent requests from this caller', { correlationId, retryAfterMs: RATE_LIMIT_RETRY_AFTER_MS })
          : new OnexError(ErrorCode.Overloaded, 'Too many callers at once', { correlationId, retryAfterMs: RATE_LIMIT_RETRY_AFTER_MS });
      return Promise.resolve(errorResponse(error, correlationId, unreadBodyHeaders(c)));
    }
    return next().finally(() => limiter.leave(caller));
  };

  // Every request runs in the trace context its caller sent (W3C `traceparent`, through the SDK's propagator): a
  // node's `process` span, or a workflow started over HTTP, is the caller's child. A request never inherits the
  // context the server was started in. Without an SDK both calls are no-ops.
  app.use((c, next) => {
    const bindings = nodeBindings(c);
    const source: HeaderSource = bindings === undefined ? c.req.raw.headers : bindings.incoming.headers;
    const extracted = propagation.extract(ROOT_CONTEXT, source, HEADER_GETTER);
    // No trace header and no context around: nothing to enter (entering one costs on every request).
    return extracted === context.active() ? admit(c, next) : context.with(extracted, admit, undefined, c, next);
  });

  app.post(PROCESS_PATH, async (c) => {
    const bindings = nodeBindings(c);
    const headers: HeaderSource = bindings === undefined ? c.req.raw.headers : bindings.incoming.headers;
    const correlationId = parseCorrelationIdHeader(header(headers, OnexHeader.CorrelationId)) ?? randomUUID();
    if (state.closing) return fail(ErrorCode.Unavailable, 'Server is shutting down', correlationId);

    const timeout = parseTimeoutHeader(header(headers, OnexHeader.TimeoutMs));
    const key = parseIdempotencyKeyHeader(header(headers, OnexHeader.IdempotencyKey));
    const caller = parseCallerHeader(header(headers, OnexHeader.Caller));
    if (!timeout.ok || !key.ok || !caller.ok) {
      const reasons = [timeout, key, caller].flatMap((p) => (p.ok ? [] : [{ message: p.reason }]));
      return errorResponse(
        new OnexError(ErrorCode.BadRequest, `Invalid header: ${reasons[0]?.message ?? 'invalid'}`, { correlationId, details: reasons }),
        correlationId,
        unreadBodyHeaders(c),
      );
    }

    state.inFlight += 1;
    try {
      const body = await readJsonBody(c, readOptions);
      if (!body.ok) return errorResponse(body.error, correlationId, unreadBodyHeaders(c));
      const input = body.value;

      const call: MutableCallOptions = { correlationId };
      if (timeout.value !== undefined) call.timeoutMs = timeout.value;
      if (key.value !== undefined) call.idempotencyKey = key.value;
      const verified = authenticator === undefined ? undefined : verifiedCaller(c);
      if (verified !== undefined) call.caller = verified;
      else if (caller.value !== undefined) call.caller = caller.value;
      if (bindings === undefined) {
        call.signal = c.req.raw.signal;
        const result = await node.handle(input, call);
        return result.ok ? success(result.value, correlationId) : errorResponse(result.error, correlationId);
      }
      // Our own signal rather than `c.req.raw.signal`: a client that hangs up at its deadline must show up as
      // TIMEOUT on this side too, not as CANCELLED; and ours can be recycled.
      const controller = controllers.acquire();
      const { outgoing } = bindings;
      const deadlineAt = timeout.value === undefined ? undefined : Date.now() + timeout.value;
      let live = true;
      outgoing.on('close', () => {
        if (!live || outgoing.writableFinished) return;
        controller.abort(
          deadlineAt !== undefined && Date.now() >= deadlineAt - DEADLINE_SLACK_MS
            ? new OnexError(ErrorCode.Timeout, 'Deadline exceeded', { correlationId })
            : new OnexError(ErrorCode.Cancelled, 'Client disconnected', { correlationId }),
        );
      });
      call.signal = controller.signal;
      let result: Awaited<ReturnType<AnyNodeService['handle']>>;
      try {
        result = await node.handle(input, call);
      } finally {
        live = false;
        controllers.release(controller);
      }
      return result.ok ? success(result.value, correlationId) : errorResponse(result.error, correlationId);
    } finally {
      state.leave();
    }
  });
  app.get('/health', async (c) => {
    const health = await node.health();
    return respond(health.status === HealthStatus.Unhealthy ? 503 : 200, JSON.stringify(health), correlationOf(c));
  });
  app.get('/metrics', async (c) => {
    const registry = node.metricsRegistry;
    return respond(200, await registry.metrics(), correlationOf(c), { 'content-type': registry.contentType });
  });
  app.get('/metrics.json', (c) => respond(200, JSON.stringify(node.metrics()), correlationOf(c)));
  let contractBody: string | undefined;
  app.get('/contract', (c) => respond(200, (contractBody ??= JSON.stringify(node.contract.toDocument())), correlationOf(c)));

  options.configure?.(app, settings);

  app.notFound((c) => {
    const correlationId = correlationOf(c);
    // The path is not echoed: it is the caller's text, and percent-encoding can hide a credential from the masking.
    return errorResponse(new OnexError(ErrorCode.NotFound, `No route ${c.req.method} for this path`, { correlationId }), correlationId, unreadBodyHeaders(c));
  });
  app.onError((error, c) => {
    const correlationId = correlationOf(c);
    let onex: OnexError;
    if (error instanceof HTTPException) {
      onex = new OnexError(errorCodeForHttpStatus(error.status), error.message || `HTTP ${error.status}`, { correlationId, cause: error });
    } else {
      onex = toOnexError(error, { correlationId });
    }
    logger?.error({ err: error, correlationId, path: readablePath(c.req.path) }, `request failed: ${onex.message}`);
    return errorResponse(onex, correlationId, unreadBodyHeaders(c));
  });
  return app;
}

/**
 * Serves a node over HTTP with hono on `@hono/node-server`: initialises the node (idempotent when it is already
 * ready), listens, and resolves once the port is bound.
 *
 * Each `POST /v1/process` reads the body up to `bodyLimitBytes` (413 past it, 415 without a JSON content type,
 * 400 for malformed JSON or ONEX headers), takes `x-correlation-id` (or makes one), turns `x-onex-timeout-ms`
 * into the call's deadline, aborts the call when the client disconnects, and runs `node.handle()`; schema
 * violations come back 422 from there.
 *
 * @example
 * ```ts
 * import { serveNode, createNodeClient } from '@onex/core';
 * const served = await serveNode(new Greeter(), { port: 0 });
 * const client = createNodeClient(served.url, greeterContract);
 * const r = await client.call({ name: 'Ada' });
 * await client.close();
 * await served.close(); // drains, then shuts the node down
 * ```
 * @see createNodeApp for the app alone.
 */
export async function serveNode(node: AnyNodeService, options: ServeNodeOptions = {}): Promise<ServedNode> {
  const state = new ServeState();
  const app = buildApp(node, options, state);
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const host = options.host ?? '127.0.0.1';
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const requestTimeout = options.requestTimeoutMs ?? Math.max(DEFAULT_REQUEST_TIMEOUT_MS, headersTimeout);
  if (!Number.isInteger(headersTimeout) || headersTimeout < 1 || !Number.isInteger(requestTimeout) || requestTimeout < headersTimeout) {
    throw new OnexError(ErrorCode.Validation, 'headersTimeoutMs must be a positive integer and requestTimeoutMs an integer at least as large');
  }
  // Node checks these timeouts every `connectionsCheckingInterval` (30 s by default, far coarser than the timeouts).
  const serverOptions = { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(headersTimeout / 4))) };
  await node.initialize();

  const listening = new Promise<Server>((resolve, reject) => {
    const created = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: host, serverOptions }, () => {
      created.off('error', onListenError);
      if (created instanceof Server) resolve(created);
      else reject(new OnexError(ErrorCode.Internal, 'Expected an HTTP/1.1 server'));
    });
    function onListenError(error: Error): void {
      reject(new OnexError(ErrorCode.Unavailable, `Cannot listen on ${host}:${options.port ?? 0}: ${error.message}`, { cause: error }));
    }
    created.once('error', onListenError);
  });
  let server: Server;
  try {
    server = await listening;
  } catch (error) {
    if (options.shutdownNode !== false) await node.shutdown();
    throw error;
  }

  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closed: Promise<void> | undefined;

  const shutdown = async (): Promise<void> => {
    state.closing = true;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await state.idle(drainTimeoutMs);
    // Responses of the last calls are being written; their sockets close after them (`connection: close`).
    server.closeIdleConnections();
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([stopped, new Promise<void>((resolve) => (grace = setTimeout(resolve, FLUSH_GRACE_MS)))]);
    clearTimeout(grace);
    server.closeAllConnections();
    await stopped;
    if (options.shutdownNode !== false) await node.shutdown();
  };

  return {
    url,
    port,
    app,
    close: () => (closed ??= shutdown()),
  };
}
