import { ErrorSanitizer } from '../errors/error-sanitizer.js';
import type { CallerIdentity } from '../node/call-context.js';

/**
 * The HTTP headers ONEX transports exchange, lower-case as Node delivers them.
 *
 * - `x-correlation-id`: shared by every hop of one logical request; echoed on every response.
 * - `x-onex-timeout-ms`: the caller's remaining time budget in ms. Relative on purpose: an absolute deadline
 *   would break under clock skew between hosts.
 * - `idempotency-key`: a repeat of the call with the same key must not repeat its effect.
 * - `x-onex-caller`: who calls, `<id>` or `<id>;kind=<kind>` (see {@link formatCallerHeader}).
 *
 * @example
 * ```ts
 * import { OnexHeader } from '@onex/core';
 * const headers = { [OnexHeader.TimeoutMs]: '1500', [OnexHeader.CorrelationId]: 'c-1' };
 * ```
 */
export const OnexHeader = {
  CorrelationId: 'x-correlation-id',
  TimeoutMs: 'x-onex-timeout-ms',
  IdempotencyKey: 'idempotency-key',
  Caller: 'x-onex-caller',
} as const;
/** One of the {@link OnexHeader} names. */
export type OnexHeader = (typeof OnexHeader)[keyof typeof OnexHeader];

/**
 * The largest time budget a header may carry, ms (~24.8 days): Node's timers overflow above it and would fire
 * at once, so larger values are clamped to it rather than turned into an instant timeout. Clamp every timer delay to
 * it for the same reason.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 *
 * @example
 * ```ts
 * import { MAX_TIMEOUT_MS } from '@onex/core/internal';
 * const timer = setTimeout(() => console.log('in 24.8 days'), Math.min(40 * 86_400_000, MAX_TIMEOUT_MS)); // not at once
 * clearTimeout(timer);
 * ```
 */
export const MAX_TIMEOUT_MS = 2_147_483_647;

// Correlation ids end up in logs and response headers: a strict charset keeps log injection and header
// smuggling out. UUIDs, ULIDs and W3C trace ids all fit.
const CORRELATION_ID = /^[A-Za-z0-9._~:/+=-]{1,128}$/;
// Visible ASCII, no separators that would make the value ambiguous when re-emitted.
const IDEMPOTENCY_KEY = /^[\x21-\x7E]{1,256}$/;
const TIMEOUT = /^\d{1,16}$/;
const CALLER_ID = /^[\x21-\x3A\x3C-\x7E]{1,256}$/; // visible ASCII except ';'
const CALLER_KIND = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The outcome of parsing one header: absent (`value` undefined), valid, or invalid with a reason. Parsers never
 * throw: a malformed header is data, answered with 400 by the server (or ignored, for the correlation id).
 *
 * @example
 * ```ts
 * type Parsed = { readonly ok: true; readonly value: number | undefined } | { readonly ok: false; readonly reason: string }; // HeaderParse<number>
 * const parsed = { ok: false, reason: 'not a non-negative integer' } as Parsed;
 * if (!parsed.ok) console.error(parsed.reason);
 * else if (parsed.value !== undefined) console.log(`${parsed.value} ms left`);
 * ```
 */
export type HeaderParse<T> = { readonly ok: true; readonly value: T | undefined } | { readonly ok: false; readonly reason: string };

const ABSENT: HeaderParse<never> = Object.freeze({ ok: true, value: undefined });

/** Node gives repeated headers as arrays; a repeated ONEX header is ambiguous, so only a single string counts. */
function single(raw: string | readonly string[] | undefined | null): string | undefined | null {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string') return raw;
  return raw.length === 1 ? (raw[0] ?? null) : null;
}

/**
 * True when `value` is an acceptable correlation id: 1–128 characters from `[A-Za-z0-9._~:/+=-]`.
 *
 * @example
 * ```ts
 * isValidCorrelationId('3f2b8c1e-0d4a-4b8e-9a51-7c2d9e0f1a2b'); // true
 * isValidCorrelationId('bad\nid'); // false
 * ```
 */
export function isValidCorrelationId(value: string): boolean {
  return CORRELATION_ID.test(value);
}

/**
 * Immutable and stateless: one per process is enough to tell whether an id is shaped like a credential. Made on first
 * use, so importing the transport compiles no rules.
 */
let credentialCheck: ErrorSanitizer | undefined;

/** True when the default sanitizer would mask part of `id` (a planted API key, say): such an id is never echoed. */
function looksLikeSecret(id: string): boolean {
  credentialCheck ??= new ErrorSanitizer();
  return credentialCheck.sanitizeText(id) !== id;
}

/**
 * The correlation id carried by a header value, or `undefined` when absent or malformed. A malformed id is
 * dropped (the server makes a new one) rather than rejected: it is diagnostic data, not part of the call. An id that
 * the default sanitizer would mask (it looks like a credential) is dropped too: correlation ids are echoed in
 * responses and written to logs.
 *
 * @example
 * ```ts
 * parseCorrelationIdHeader('abc-123'); // 'abc-123'
 * parseCorrelationIdHeader('<script>'); // undefined
 * ```
 */
export function parseCorrelationIdHeader(raw: string | readonly string[] | undefined | null): string | undefined {
  const value = single(raw);
  return typeof value === 'string' && CORRELATION_ID.test(value) && !looksLikeSecret(value) ? value : undefined;
}

/**
 * Parses `x-onex-timeout-ms`: a non-negative integer of milliseconds, clamped to {@link MAX_TIMEOUT_MS}.
 * `0` is valid and means the budget is spent (the call times out at once).
 *
 * @example
 * ```ts
 * parseTimeoutHeader('250'); // { ok: true, value: 250 }
 * parseTimeoutHeader('-1'); // { ok: false, reason: '...' }
 * parseTimeoutHeader(undefined); // { ok: true, value: undefined }
 * ```
 */
export function parseTimeoutHeader(raw: string | readonly string[] | undefined | null): HeaderParse<number> {
  const value = single(raw);
  if (value === undefined) return ABSENT;
  if (value === null || !TIMEOUT.test(value)) {
    return { ok: false, reason: `${OnexHeader.TimeoutMs} must be a non-negative integer of milliseconds` };
  }
  const ms = Number(value);
  return { ok: true, value: ms > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : ms };
}

/**
 * Formats a remaining time budget for `x-onex-timeout-ms`: rounded up (so a budget of 0.3 ms is not sent as an
 * already-expired 0), never negative, clamped to {@link MAX_TIMEOUT_MS}.
 *
 * @example
 * ```ts
 * formatTimeoutHeader(1499.2); // '1500'
 * formatTimeoutHeader(-5); // '0'
 * ```
 */
export function formatTimeoutHeader(remainingMs: number): string {
  if (!(remainingMs > 0)) return '0';
  return String(remainingMs >= MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : Math.ceil(remainingMs));
}

/**
 * Parses `idempotency-key`: 1–256 visible ASCII characters, not shaped like a credential (the default sanitizer
 * would mask it). A malformed key is an error, not ignored: dropping it could let a retried call repeat its effect.
 *
 * @example
 * ```ts
 * parseIdempotencyKeyHeader('order-42-charge'); // { ok: true, value: 'order-42-charge' }
 * parseIdempotencyKeyHeader('two words'); // { ok: false, reason: '...' }
 * ```
 */
export function parseIdempotencyKeyHeader(raw: string | readonly string[] | undefined | null): HeaderParse<string> {
  const value = single(raw);
  if (value === undefined) return ABSENT;
  if (value === null || !IDEMPOTENCY_KEY.test(value)) {
    return { ok: false, reason: `${OnexHeader.IdempotencyKey} must be 1-256 visible ASCII characters` };
  }
  // Keys are stored with what they guard, logged and listed: one shaped like a credential is refused.
  if (looksLikeSecret(value)) return { ok: false, reason: `${OnexHeader.IdempotencyKey} must not look like a credential` };
  return { ok: true, value };
}

/**
 * True when `key` can be sent as an `idempotency-key` header.
 *
 * @example
 * ```ts
 * isValidIdempotencyKey('k1'); // true
 * ```
 */
export function isValidIdempotencyKey(key: string): boolean {
  return IDEMPOTENCY_KEY.test(key);
}

/**
 * Formats a caller for `x-onex-caller`: `<id>` or `<id>;kind=<kind>`. Returns `undefined` when the identity
 * cannot be expressed (an id with `;`, spaces or non-ASCII; a kind outside `[A-Za-z0-9._-]`).
 *
 * @example
 * ```ts
 * formatCallerHeader({ id: 'checkout', kind: 'node' }); // 'checkout;kind=node'
 * ```
 */
export function formatCallerHeader(caller: CallerIdentity): string | undefined {
  if (!CALLER_ID.test(caller.id)) return undefined;
  if (caller.kind === undefined) return caller.id;
  return CALLER_KIND.test(caller.kind) ? `${caller.id};kind=${caller.kind}` : undefined;
}

/**
 * Parses `x-onex-caller` (see {@link formatCallerHeader}).
 *
 * @example
 * ```ts
 * parseCallerHeader('checkout;kind=node'); // { ok: true, value: { id: 'checkout', kind: 'node' } }
 * ```
 */
export function parseCallerHeader(raw: string | readonly string[] | undefined | null): HeaderParse<CallerIdentity> {
  const value = single(raw);
  if (value === undefined) return ABSENT;
  const invalid = { ok: false, reason: `${OnexHeader.Caller} must be '<id>' or '<id>;kind=<kind>'` } as const;
  if (value === null) return invalid;
  if (looksLikeSecret(value)) return { ok: false, reason: `${OnexHeader.Caller} must not look like a credential` };
  const semi = value.indexOf(';');
  if (semi === -1) return CALLER_ID.test(value) ? { ok: true, value: { id: value } } : invalid;
  const id = value.slice(0, semi);
  const param = value.slice(semi + 1).trim();
  if (!CALLER_ID.test(id) || !param.startsWith('kind=')) return invalid;
  const kind = param.slice(5);
  return CALLER_KIND.test(kind) ? { ok: true, value: { id, kind } } : invalid;
}
