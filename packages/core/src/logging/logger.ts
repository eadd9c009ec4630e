import { format } from 'node:util';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import pino from 'pino';
import type { Bindings, ChildLoggerOptions, DestinationStream, LogFn, Logger as PinoLogger, LoggerOptions as PinoLoggerOptions } from 'pino';
import { ErrorSanitizer } from '../errors/error-sanitizer.js';

/**
 * The ONEX logger: a pino logger. Re-exported so code depends on `@onex/core`, not on pino directly.
 *
 * @example
 * ```ts
 * import { createLogger, type Logger } from '@onex/core';
 * const logger: Logger = createLogger({ name: 'pricing' });
 * ```
 */
export type Logger = PinoLogger;

/**
 * Options of {@link createLogger}.
 *
 * @example
 * ```ts
 * createLogger({ name: 'pricing', level: 'debug', redactPaths: ['order.card.number'] });
 * ```
 */
export interface LoggerOptions {
  /** The logger's name, written as `name` on every line. */
  readonly name?: string;
  /** The minimum level written. Default: `process.env.ONEX_LOG_LEVEL`, else `'info'`. */
  readonly level?: string;
  /**
   * Masks secrets in every part of every line: the message and its printf arguments, each field of the logged
   * object, logged errors and child bindings. Default: a new `ErrorSanitizer` with the default preset.
   */
  readonly sanitizer?: ErrorSanitizer;
  /** More pino redact paths (`'a.b'`, `'a[*].b'`, `'headers["x-token"]'`), added to the default ones. */
  readonly redactPaths?: readonly string[];
  /** Where lines go. Default: standard output. */
  readonly destination?: DestinationStream;
  /** Not supported: pipe the output through `pino-pretty` instead, which keeps formatting off the hot path. */
  readonly pretty?: never;
}

/**
 * Bindings of a per-call child logger.
 *
 * @example
 * ```ts
 * const bindings: CallLogBindings = { correlationId: 'c-1', node: 'pricing', operation: 'quote' };
 * ```
 */
export interface CallLogBindings {
  /** The call's correlation id, on every line the child writes. */
  readonly correlationId: string;
  /** The node handling the call. */
  readonly node?: string;
  /** The operation being performed. */
  readonly operation?: string;
}

/** The value written in place of a redacted field. */
const CENSOR = '[REDACTED]';

const SECRET_FIELDS = [
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'apiKey',
  'api_key',
  'authorization',
  'Authorization',
  'cookie',
  'privateKey',
  'clientSecret',
  'client_secret',
  'connectionString',
  'credentials',
] as const;

const HEADER_FIELDS = ['authorization', 'Authorization', 'cookie', 'Cookie', '"set-cookie"', '"x-api-key"', '"proxy-authorization"'];

/**
 * The paths pino redacts by default: secret fields at the top level and one level down, and the secret
 * headers of requests and responses. Key-level masking everywhere else is the sanitizer's job.
 */
const DEFAULT_REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  ...['req.headers', 'res.headers', 'headers', 'request.headers', 'response.headers'].flatMap((base) =>
    HEADER_FIELDS.map((field) => (field.startsWith('"') ? `${base}[${field}]` : `${base}.${field}`)),
  ),
];

/**
 * Creates the ONEX root logger: pino with every part of every line masked by the sanitizer, and the ids of the active
 * OpenTelemetry span (`trace_id`, `span_id`) on every line written while one is current. The message is masked
 * with {@link ErrorSanitizer.sanitizeText} (printf-style arguments are formatted with `node:util` `format` first,
 * so a secret passed as an argument is masked too); every field of the logged object goes through
 * {@link ErrorSanitizer.sanitizeValue} (values under secret keys masked whole, every string masked by the text
 * rules, at any depth); `err`/`error` through {@link ErrorSanitizer.sanitizeError} (cause chains included); and the
 * bindings of every child logger, at any depth, through `sanitizeValue` once, when the child is made. pino's
 * `redact` paths apply on top.
 *
 * @throws Error (from pino) when `level` is not a known level.
 * @example
 * ```ts
 * import { createLogger } from '@onex/core';
 * const logger = createLogger({ name: 'pricing' });
 * logger.info({ user: 'ann', password: 'hunter2' }, 'login with token=abc');
 * // {"level":30,…,"name":"pricing","user":"ann","password":"[REDACTED]","msg":"login with token=[REDACTED]"}
 * ```
 * @see https://getpino.io/#/docs/redaction
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const sanitizer = options.sanitizer ?? new ErrorSanitizer();
  const serializeError = (error: unknown): unknown => sanitizer.sanitizeError(error);
  const pinoOptions: PinoLoggerOptions = {
    level: options.level ?? process.env['ONEX_LOG_LEVEL'] ?? 'info',
    ...(options.name === undefined ? {} : { name: options.name }),
    redact: { paths: [...DEFAULT_REDACT_PATHS, ...(options.redactPaths ?? [])], censor: CENSOR },
    serializers: { err: serializeError, error: serializeError },
    // The trace ids go in after the masking: a span id of 16 decimal digits would pass for a card number.
    formatters: { log: (object) => withTraceIds(sanitizeLogObject(object, sanitizer)) },
    hooks: {
      logMethod(args, method) {
        method.apply(this, sanitizeLogArguments(args, sanitizer));
      },
    },
  };
  const logger = options.destination === undefined ? pino(pinoOptions) : pino(pinoOptions, options.destination);
  maskChildBindings(logger, sanitizer);
  return logger;
}

/**
 * A child of `logger` whose every line carries the call's correlation id (and node and operation, when
 * given).
 *
 * @example
 * ```ts
 * const log = childLogger(logger, { correlationId: 'c-1', node: 'pricing' });
 * log.info('quote computed'); // {…,"correlationId":"c-1","node":"pricing","msg":"quote computed"}
 * ```
 */
export function childLogger(logger: Logger, bindings: CallLogBindings): Logger {
  return logger.child({
    correlationId: bindings.correlationId,
    ...(bindings.node === undefined ? {} : { node: bindings.node }),
    ...(bindings.operation === undefined ? {} : { operation: bindings.operation }),
  });
}

/**
 * A logger that writes nothing (level `'silent'`), for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { createSilentLogger } from '@onex/core';
 * const logger = createSilentLogger();
 * logger.info('never written'); // pass it as a node's `logger` option in tests
 * ```
 */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' }, { write: () => undefined });
}

/**
 * The line with the ids of the active span (`trace_id`, `span_id`, as OpenTelemetry's log correlation names them),
 * when one is current; as it is when no SDK is registered or no span is active. Read once per line written.
 */
function withTraceIds(line: Record<string, unknown>): Record<string, unknown> {
  const span = trace.getSpan(context.active());
  if (span === undefined) return line;
  const ids = span.spanContext();
  if (!isSpanContextValid(ids)) return line;
  line['trace_id'] = ids.traceId;
  line['span_id'] = ids.spanId;
  return line;
}

type LogArguments = Parameters<LogFn>;

/** Keys whose values have a serializer of their own (sanitizeError), which must see them as they were logged. */
const SERIALIZED_KEYS = new Set(['err', 'error']);

/**
 * The logged object with every field masked, as pino's `log` formatter: everything but the serialized error keys
 * goes through `sanitizeValue` at once (so secret keys are masked at the top level too); those keys are kept for
 * their serializer.
 */
function sanitizeLogObject(object: Record<string, unknown>, sanitizer: ErrorSanitizer): Record<string, unknown> {
  let rest: Record<string, unknown> | undefined;
  let serialized: Record<string, unknown> | undefined;
  for (const key of Object.keys(object)) {
    const target = SERIALIZED_KEYS.has(key) ? (serialized ??= {}) : (rest ??= {});
    // defineProperty, not assignment: a logged key named `__proto__` stays data.
    Object.defineProperty(target, key, { value: object[key], enumerable: true, writable: true, configurable: true });
  }
  const masked = rest === undefined ? {} : (sanitizer.sanitizeValue(rest) as Record<string, unknown>);
  return serialized === undefined ? masked : Object.assign(masked, serialized);
}

type ChildMethod = (this: Logger, bindings: Bindings, options?: ChildLoggerOptions) => Logger;

/**
 * Makes `logger.child` (and so the `child` of every descendant, which inherits it) mask the bindings it is given:
 * pino writes bindings into every line of the child as they were passed, past the `log` formatter, and a binding
 * such as a correlation id can come from a caller.
 */
function maskChildBindings(logger: Logger, sanitizer: ErrorSanitizer): void {
  const base = Reflect.get(Object.getPrototypeOf(logger) as object, 'child') as ChildMethod;
  const child: ChildMethod = function child(this: Logger, bindings, childOptions) {
    return base.call(this, sanitizer.sanitizeValue(bindings) as Bindings, childOptions);
  };
  Object.defineProperty(logger, 'child', { value: child, writable: true, configurable: true });
}

/**
 * Masks the message of one log call. pino's argument shapes: `(msg, ...params)` or `(obj, msg?, ...params)`.
 * When `obj` is an error (or holds one under `err`) and no message is given, pino would copy the raw
 * error message into `msg`, so the masked one is supplied instead.
 */
function sanitizeLogArguments(args: LogArguments, sanitizer: ErrorSanitizer): LogArguments {
  const [first, ...rest] = args as unknown as readonly unknown[];
  if (typeof first === 'string') return [maskMessage(first, rest, sanitizer)] as LogArguments;
  if (typeof first !== 'object' || first === null) return args;
  const [message, ...params] = rest;
  if (typeof message === 'string') return [first, maskMessage(message, params, sanitizer)] as unknown as LogArguments;
  if (message === undefined) {
    const error = first instanceof Error ? first : errorField(first);
    if (error !== undefined && !('msg' in first)) {
      return [first, sanitizer.sanitizeText(error.message)] as unknown as LogArguments;
    }
  }
  return args;
}

function maskMessage(message: string, params: readonly unknown[], sanitizer: ErrorSanitizer): string {
  // Format first: a secret may be in the template or in an argument, and masking either alone could miss it.
  // The result has no arguments left, so pino writes it as is.
  return sanitizer.sanitizeText(params.length === 0 ? message : format(message, ...params));
}

/** The error pino takes a missing message from: the one under its error key, `err`. */
function errorField(value: object): Error | undefined {
  const err = (value as { err?: unknown }).err;
  return err instanceof Error ? err : undefined;
}
