import { errorCodeForHttpStatus, isErrorCode, type ErrorCode } from './error-codes.js';
import { isOnexError, OnexError } from './onex-error.js';

/**
 * One link of a wire error's `cause` chain: what caused the failure, and what caused that, sanitized and bounded.
 *
 * An ONEX link (an {@link OnexError} cause) carries its `code`, `retryable` and message. A foreign link (any other
 * error, or a thrown non-error value, named `'NonError'`) carries its `name` and, for a Node system error, its
 * `code` (`ECONNREFUSED`); its message only when {@link ToWireErrorOptions.exposeForeignMessages} is on, because
 * a foreign message was never written to be shown. `truncated` marks the last link sent of a chain that goes on
 * (deeper than the depth limit, or back to an earlier link).
 *
 * @example
 * ```ts
 * import type { WireErrorCause } from '@onex/core';
 * const cause: WireErrorCause = { name: 'OnexError', code: 'UNAVAILABLE', retryable: true, message: 'PostgreSQL unavailable during append',
 *   cause: { name: 'Error', code: 'ECONNREFUSED' } };
 * ```
 */
export interface WireErrorCause {
  /** The error's name: `OnexError`, `TypeError`, …, or `NonError` for a thrown value that is not an error. */
  readonly name: string;
  /** The sanitized message; absent on a foreign link unless foreign messages are exposed. */
  readonly message?: string;
  /** An ONEX {@link ErrorCode}, or a foreign error's own code (`ECONNREFUSED`). */
  readonly code?: string;
  /** Present on ONEX links only: whether that failure was retryable. */
  readonly retryable?: boolean;
  /** The next link. */
  readonly cause?: WireErrorCause;
  /** The chain went on past this link: it was cut at the depth limit, or looped back. */
  readonly truncated?: true;
}

/**
 * The JSON body ONEX transports send for a failed call. Stable: peers of other versions parse it (a peer that does not
 * know `cause` ignores it).
 *
 * @example
 * ```ts
 * import { ErrorCode, type WireError } from '@onex/core';
 * const body: WireError = { error: { code: ErrorCode.NotFound, message: 'order 42 not found', retryable: false, correlationId: 'c-1' } };
 * ```
 */
export interface WireError {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly retryable: boolean;
    readonly correlationId?: string;
    readonly retryAfterMs?: number;
    readonly details?: readonly unknown[];
    readonly context?: Readonly<Record<string, unknown>>;
    /** What caused the failure: the error's `cause` chain, sanitized and bounded ({@link WireErrorCause}). */
    readonly cause?: WireErrorCause;
    readonly stack?: string;
  };
}

/**
 * Options for {@link toWireError}.
 *
 * @example
 * ```ts
 * import { ErrorSanitizer, type ToWireErrorOptions } from '@onex/core';
 * const options: ToWireErrorOptions = { sanitize: new ErrorSanitizer().forWire, maxCauseDepth: 2 };
 * ```
 */
export interface ToWireErrorOptions {
  /** Masks secrets in the message, context, details and causes (pass an {@link ErrorSanitizer}'s `forWire`). */
  readonly sanitize?: {
    readonly text: (text: string) => string;
    readonly value: (value: unknown) => unknown;
  };
  /** Include the stack (development only). Implies `exposeForeignMessages`. */
  readonly exposeStack?: boolean;
  /**
   * Send the (sanitized) messages of causes that are not {@link OnexError}s. Default: `exposeStack`. Off, a foreign
   * cause shows its name and code only, as a foreign error on top becomes a generic `Internal error`.
   */
  readonly exposeForeignMessages?: boolean;
  /** How many links of the `cause` chain are sent, 0 to 8; `0` sends none. Default {@link WIRE_CAUSE_DEPTH}. */
  readonly maxCauseDepth?: number;
}

/**
 * How many links of an error's `cause` chain {@link toWireError} sends by default.
 *
 * @example
 * ```ts
 * import { toWireError, WIRE_CAUSE_DEPTH, type OnexError } from '@onex/core';
 * const shallow = (error: OnexError) => toWireError(error, { maxCauseDepth: Math.min(2, WIRE_CAUSE_DEPTH) });
 * ```
 */
export const WIRE_CAUSE_DEPTH = 4;

/** The most links sent or parsed, whatever the options or the peer say. */
const MAX_CAUSE_DEPTH = 8;
/** Characters of one cause's message (after masking), name and code at most. */
const MAX_CAUSE_MESSAGE = 1_000;
const MAX_CAUSE_NAME = 100;
const MAX_CAUSE_CODE = 100;

function bounded(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

const identity = <T>(value: T): T => value;

/**
 * The wire shape of an error: code, exposable message, retryability, correlation id, `retryAfterMs`, details and
 * context, and the `cause` chain ({@link WireErrorCause}, at most `maxCauseDepth` links, cycles cut, each message
 * masked and cut to 1 000 characters). Everything textual goes through `sanitize`. The stack only with `exposeStack`.
 *
 * @example
 * ```ts
 * import { ErrorCode, ErrorSanitizer, OnexError, toWireError } from '@onex/core';
 * const cause = new OnexError(ErrorCode.Unavailable, 'ledger down: password=hunter2');
 * const error = new OnexError(ErrorCode.Internal, 'payment failed', { cause });
 * toWireError(error, { sanitize: new ErrorSanitizer().forWire }).error.cause;
 * // { name: 'OnexError', code: 'UNAVAILABLE', retryable: true, message: 'ledger down: password=[REDACTED]' }
 * ```
 */
export function toWireError(error: OnexError, options: ToWireErrorOptions = {}): WireError {
  const text = options.sanitize?.text ?? identity;
  const value = options.sanitize?.value ?? identity;
  const hasContext = Object.keys(error.context).length > 0;
  const cause = wireCause(error, options, text);
  return {
    error: {
      code: error.code,
      message: text(error.message),
      retryable: error.retryable,
      ...(error.correlationId === undefined ? {} : { correlationId: error.correlationId }),
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
      ...(error.details === undefined ? {} : { details: value(error.details) as readonly unknown[] }),
      ...(hasContext ? { context: value(error.context) as Record<string, unknown> } : {}),
      ...(cause === undefined ? {} : { cause }),
      ...(options.exposeStack === true && error.stack !== undefined ? { stack: text(error.stack) } : {}),
    },
  };
}

/** The sent links of `error`'s cause chain, innermost built first. */
function wireCause(error: OnexError, options: ToWireErrorOptions, text: (text: string) => string): WireErrorCause | undefined {
  const requested = options.maxCauseDepth ?? WIRE_CAUSE_DEPTH;
  const depth = Number.isFinite(requested) ? Math.min(MAX_CAUSE_DEPTH, Math.max(0, Math.floor(requested))) : WIRE_CAUSE_DEPTH;
  const foreignMessages = options.exposeForeignMessages ?? options.exposeStack === true;
  const links: unknown[] = [];
  const seen = new Set<unknown>([error]);
  let link: unknown = readCause(error);
  let truncated = false;
  while (link !== undefined) {
    if (seen.has(link) || links.length >= depth) {
      truncated = links.length > 0;
      break;
    }
    seen.add(link);
    links.push(link);
    link = readCause(link);
  }
  let wire: WireErrorCause | undefined;
  for (let i = links.length - 1; i >= 0; i--) {
    const own = describeLink(links[i], foreignMessages, text);
    const last = i === links.length - 1;
    wire = { ...own, ...(wire === undefined ? {} : { cause: wire }), ...(last && truncated ? { truncated: true as const } : {}) };
  }
  return wire;
}

function readCause(link: unknown): unknown {
  if (typeof link !== 'object' || link === null || !('cause' in link)) return undefined;
  try {
    const cause = (link as { cause?: unknown }).cause;
    return cause === null ? undefined : cause;
  } catch {
    return undefined;
  }
}

function describeLink(link: unknown, foreignMessages: boolean, text: (text: string) => string): WireErrorCause {
  const message = (raw: string): string => bounded(text(raw), MAX_CAUSE_MESSAGE);
  if (isOnexError(link)) {
    return { name: bounded(text(link.name), MAX_CAUSE_NAME), code: link.code, retryable: link.retryable, message: message(link.message) };
  }
  if (typeof link === 'object' && link !== null && typeof (link as { message?: unknown }).message === 'string') {
    const { name, code } = link as { name?: unknown; code?: unknown };
    return {
      name: typeof name === 'string' ? bounded(text(name), MAX_CAUSE_NAME) : 'Error',
      ...(typeof code === 'string' || typeof code === 'number' ? { code: bounded(text(String(code)), MAX_CAUSE_CODE) } : {}),
      ...(foreignMessages ? { message: message((link as { message: string }).message) } : {}),
    };
  }
  return { name: 'NonError', ...(foreignMessages && typeof link === 'string' ? { message: message(link) } : {}) };
}

/**
 * Parses a wire error body back into an {@link OnexError}, its `cause` chain included: an ONEX link becomes an
 * `OnexError` (its code and retryability), a foreign one an `Error` with the name and code the peer sent. A body
 * that is not an ONEX error (a proxy's HTML page, say) becomes an error whose code follows the HTTP status.
 *
 * @example
 * ```ts
 * import { parseWireError } from '@onex/core';
 * const error = parseWireError({ error: { code: 'UNAVAILABLE', message: 'ledger down', retryable: true,
 *   cause: { name: 'Error', code: 'ECONNREFUSED' } } }, 503);
 * (error.cause as Error & { code: string }).code; // 'ECONNREFUSED'
 * ```
 */
export function parseWireError(body: unknown, httpStatus: number, correlationId?: string): OnexError {
  const fallbackCode = errorCodeForHttpStatus(httpStatus);
  const base = correlationId === undefined ? {} : { correlationId };
  if (typeof body !== 'object' || body === null) {
    return new OnexError(fallbackCode, `Peer answered HTTP ${httpStatus}`, base);
  }
  const inner = (body as { error?: unknown }).error;
  if (typeof inner !== 'object' || inner === null) {
    return new OnexError(fallbackCode, `Peer answered HTTP ${httpStatus}`, base);
  }
  const e = inner as Record<string, unknown>;
  const code = isErrorCode(e['code']) ? e['code'] : fallbackCode;
  const message = typeof e['message'] === 'string' ? e['message'] : `Peer answered HTTP ${httpStatus}`;
  const wireCorrelation = typeof e['correlationId'] === 'string' ? e['correlationId'] : correlationId;
  const context = typeof e['context'] === 'object' && e['context'] !== null ? (e['context'] as Record<string, unknown>) : undefined;
  const cause = parseCause(e['cause'], 0);
  return new OnexError(code, message, {
    ...(wireCorrelation === undefined ? {} : { correlationId: wireCorrelation }),
    ...(typeof e['retryable'] === 'boolean' ? { retryable: e['retryable'] } : {}),
    ...(typeof e['retryAfterMs'] === 'number' ? { retryAfterMs: e['retryAfterMs'] } : {}),
    ...(Array.isArray(e['details']) ? { details: e['details'] as unknown[] } : {}),
    ...(context === undefined ? {} : { context }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** One link sent by a peer, and the links below it (a peer of any version may send anything: checked, bounded). */
function parseCause(raw: unknown, depth: number): Error | undefined {
  if (depth >= MAX_CAUSE_DEPTH || typeof raw !== 'object' || raw === null) return undefined;
  const link = raw as Record<string, unknown>;
  const name = typeof link['name'] === 'string' ? bounded(link['name'], MAX_CAUSE_NAME) : 'Error';
  const message = typeof link['message'] === 'string' ? bounded(link['message'], MAX_CAUSE_MESSAGE) : '';
  const code = typeof link['code'] === 'string' ? bounded(link['code'], MAX_CAUSE_CODE) : undefined;
  const inner = parseCause(link['cause'], depth + 1);
  const options = inner === undefined ? {} : { cause: inner };
  if (typeof link['retryable'] === 'boolean' && isErrorCode(code)) {
    return new OnexError(code, message, { ...options, retryable: link['retryable'] });
  }
  const error = new Error(message, inner === undefined ? undefined : { cause: inner });
  error.name = name;
  if (code !== undefined) Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error;
}
