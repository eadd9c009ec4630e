import { ErrorCode, errorCodeForHttpStatus, isConnectionError, isErrorCode, OnexError, parseWireError, signRequest, toOnexError, type ClientAuthOptions } from '@onex/core';

/** Options of {@link requestJson}. */
export interface RequestJsonOptions {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Abort the request after this long, ms. Default 10 000. */
  readonly timeoutMs?: number;
  /** Aborts the request early (the stack stopping, say); it then fails with `CANCELLED`. */
  readonly signal?: AbortSignal;
  /** Sign the request (a node served with `auth`), over the exact body sent. */
  readonly auth?: ClientAuthOptions;
}

/**
 * One JSON request with Node's `fetch`. Every failure is an {@link OnexError}, so callers retry it with a
 * `RetryPolicy` (whose default classification reads `retryable`) and branch on its `code`:
 * an ONEX node's error answer becomes that error (`parseWireError`); any other non-2xx answer gets the code of
 * its HTTP status, with `context.status`; a refused or dropped connection is `UNAVAILABLE`, a timeout `TIMEOUT`.
 *
 * @example
 * ```ts
 * const { id } = await requestJson<{ id: string }>(`${orchestratorUrl}/v1/workflows`, { body: start });
 * ```
 */
export async function requestJson<T = unknown>(url: string, options: RequestJsonOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const method = options.method ?? (body === undefined ? 'GET' : 'POST');
  if (options.auth !== undefined) {
    const now = options.auth.now?.() ?? Date.now();
    const key = options.auth.keyring.signingKey(now, options.auth.keyId);
    if (key === undefined) throw new OnexError(ErrorCode.Unauthorized, `${method} ${url}: no active key to sign with`);
    const target = new URL(url);
    // fetch sends the parsed URL's path and query: sign exactly those.
    Object.assign(headers, signRequest(key, { method, path: `${target.pathname}${target.search}`, now, ...(body === undefined ? {} : { body }) }));
  }
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  let status: number;
  let text: string;
  try {
    const response = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    throw transportError(error, method, url);
  }
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    // not JSON: keep the text
  }
  if (status < 200 || status > 299) throw statusError(status, parsed, method, url);
  return parsed as T;
}

function transportError(error: unknown, method: string, url: string): OnexError {
  // fetch reports a refused or dropped connection as a TypeError ('fetch failed', 'terminated') whose cause carries
  // the system code (ECONNREFUSED, UND_ERR_SOCKET): classify the cause, which toOnexError maps to UNAVAILABLE. A
  // timeout (TimeoutError) or an abort (AbortError) is classified as it is.
  const cause: unknown = error instanceof TypeError && isConnectionError(error.cause) ? error.cause : error;
  const normalised = toOnexError(cause);
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  const reason = typeof code === 'string' ? code : normalised.message;
  return new OnexError(normalised.code, `${method} ${url} failed: ${reason}`, {
    cause: error,
    retryable: normalised.retryable,
    context: { method, url },
  });
}

function statusError(status: number, body: unknown, method: string, url: string): OnexError {
  // An ONEX node answers with its wire error: keep its code, message, retryability and retryAfterMs.
  if (isWireErrorBody(body)) return parseWireError(body, status);
  return new OnexError(errorCodeForHttpStatus(status), `${method} ${url} answered HTTP ${status}${describe(body)}`, {
    context: { method, url, status },
  });
}

function isWireErrorBody(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const error = (body as { error?: unknown }).error;
  return typeof error === 'object' && error !== null && isErrorCode((error as { code?: unknown }).code);
}

/** The gist of a non-ONEX error body (the payment provider's `{ error: 'card_declined' }`), for the message. */
function describe(body: unknown): string {
  if (typeof body !== 'object' || body === null) return '';
  const error = (body as { error?: unknown }).error;
  if (typeof error === 'string') return `: ${error}`;
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    return `: ${String(code)} ${String(message)}`;
  }
  return '';
}
