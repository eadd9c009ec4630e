import { createRequire } from 'node:module';
import {
  context,
  INVALID_TRACEID,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { isOnexError, toOnexError } from '../errors/onex-error.js';

/**
 * The span attributes ONEX sets, beside OpenTelemetry's own (`server.address`, `server.port`). Spans are named
 * `workflow <type>`, `run <type>`, `step <name>`, `compensate <step>`, `call <node>`, `process <node>`,
 * `effect <operation>` and `transaction <operation>`; a failed one has status `ERROR` with its error code as the
 * description and in `onex.error.code` (never the message: it may hold user data).
 *
 * @example
 * ```ts
 * import { OnexAttribute } from '@onex/core';
 * // A query in a tracing backend: every step of one workflow.
 * const query = `${OnexAttribute.WorkflowId}="order-42" AND name~"step *"`;
 * ```
 */
export const OnexAttribute = {
  /** The workflow's id (every workflow, run, step and compensation span). */
  WorkflowId: 'onex.workflow.id',
  /** The workflow's type. */
  WorkflowType: 'onex.workflow.type',
  /** The workflow's status when its run segment ended (`completed`, `failed`, …), or absent when it stopped unfinished. */
  WorkflowStatus: 'onex.workflow.status',
  /** Why a run segment stopped without finishing the workflow (`parked`, `shutdown`, `lease`, `fenced`, `store`). */
  RunStopped: 'onex.run.stopped',
  /** The step's name. */
  Step: 'onex.step',
  /** The attempt's number: 1 for the first, 2 for the first retry, … */
  Attempt: 'onex.attempt',
  /** The call's idempotency key. */
  IdempotencyKey: 'onex.idempotency_key',
  /** The call's correlation id. */
  CorrelationId: 'onex.correlation_id',
  /** The node handling (`process`) or called (`call`). */
  Node: 'onex.node',
  /** The effect operation. */
  Operation: 'onex.operation',
  /** The {@link ErrorCode} of a failure. */
  ErrorCode: 'onex.error.code',
} as const;
/** One of the {@link OnexAttribute} names. */
export type OnexAttribute = (typeof OnexAttribute)[keyof typeof OnexAttribute];

/**
 * The tracer of an ONEX package: from `provider` when one is injected, else from the global provider (a no-op until
 * an OpenTelemetry SDK registers one; the proxy it answers follows a provider registered later).
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 */
export function onexTracer(provider: TracerProvider | undefined, name: string, version: string): Tracer {
  return (provider ?? trace.getTracerProvider()).getTracer(name, version);
}

/**
 * The version of the package whose module is at `moduleUrl`, two folders below the package root (`src/<dir>/x.ts`
 * and `dist/<dir>/x.js` alike): the instrumentation scope version of its tracer.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 */
export function packageVersion(moduleUrl: string): string {
  try {
    const manifest = createRequire(moduleUrl)('../../package.json') as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The version of `@onex/core`, for its tracer. */
export const CORE_VERSION = packageVersion(import.meta.url);

/**
 * True when `span` belongs to a trace: made by an SDK (recording, or sampled out but carrying the trace on). The
 * no-op tracer's spans have no trace, and making them current would only cost a context.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 */
export function isTraced(span: Span): boolean {
  // The no-op tracer's spans carry the invalid (all-zero) trace id; an SDK's always a valid one. (Cheaper than the
  // api's regex-based isSpanContextValid, on every call.)
  return span.spanContext().traceId !== INVALID_TRACEID;
}

/**
 * Marks `span` failed with the ONEX code of `error`: status `ERROR` with the code as its description, and the code
 * in `onex.error.code`. The message is left out: it may carry user data.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 */
export function failSpan(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const code = isOnexError(error) ? error.code : toOnexError(error).code;
  span.setAttribute(OnexAttribute.ErrorCode, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

/**
 * Runs `fn` with `span` current (a child of `parent`, default the active context), ends the span when `fn` settles,
 * and marks it failed when `fn` rejects. With the no-op tracer this is `fn()` and nothing else.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 */
export function runInSpan<T>(span: Span, fn: () => Promise<T>, parent?: Context): Promise<T> {
  if (isTraced(span)) return runTraced(span, fn, parent);
  // Not an async function: untraced (no SDK), a step pays for no promise around its call.
  try {
    return fn();
  } catch (error) {
    // What `fn` threw goes on unchanged, as when it rejects (it may not be an Error).
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(error);
  }
}

async function runTraced<T>(span: Span, fn: () => Promise<T>, parent: Context | undefined): Promise<T> {
  try {
    return await context.with(trace.setSpan(parent ?? context.active(), span), fn);
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * A W3C trace context as the `traceparent` and `tracestate` headers carry it.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 */
export interface TraceCarrier {
  readonly traceparent: string;
  readonly tracestate?: string;
}

const OBJECT_SETTER: TextMapSetter<Record<string, string>> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

/**
 * The W3C trace context of `ctx` (its current span), through the global propagator: undefined when there is no span,
 * or when the registered propagator does not write `traceparent` (none registered, or another format only).
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 */
export function traceCarrierOf(ctx: Context): TraceCarrier | undefined {
  const span = trace.getSpan(ctx);
  if (span === undefined || !isTraced(span)) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier, OBJECT_SETTER);
  const traceparent = carrier['traceparent'];
  if (traceparent === undefined) return undefined;
  const tracestate = carrier['tracestate'];
  return tracestate === undefined || tracestate === '' ? { traceparent } : { traceparent, tracestate };
}

const CARRIER_GETTER: TextMapGetter<TraceCarrier> = {
  get: (carrier, key) => (key === 'traceparent' ? carrier.traceparent : key === 'tracestate' ? carrier.tracestate : undefined),
  keys: (carrier) => (carrier.tracestate === undefined ? ['traceparent'] : ['traceparent', 'tracestate']),
};

/**
 * The context a stored W3C trace context stands for (a remote parent), through the global propagator; the root
 * context when there is none.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 */
export function contextOfCarrier(carrier: TraceCarrier | undefined): Context {
  return carrier === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, carrier, CARRIER_GETTER);
}

/** Writes the propagator's headers into a flat `[name, value, …]` list (the node client's request headers). */
export const HEADER_LIST_SETTER: TextMapSetter<string[]> = {
  set(carrier, key, value) {
    carrier.push(key, value);
  },
};
