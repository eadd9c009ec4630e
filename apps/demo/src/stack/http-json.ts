import { setTimeout as sleep } from 'node:timers/promises';

/** A non-2xx answer: its status and body. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly url: string,
  ) {
    super(`${url} answered HTTP ${status}${describe(body)}`);
    this.name = 'HttpStatusError';
  }
}

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

/** Options of {@link requestJson}. */
export interface RequestJsonOptions {
  readonly method?: 'GET' | 'POST';
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Abort the request after this long, ms. Default 10 000. */
  readonly timeoutMs?: number;
}

/** One JSON request with Node's `fetch`; throws {@link HttpStatusError} on a non-2xx answer. */
export async function requestJson<T = unknown>(url: string, options: RequestJsonOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(url, {
    method: options.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) throw new HttpStatusError(response.status, parsed, url);
  return parsed as T;
}

/** True for failures worth another try: no connection, a reset, a timeout, or a 503/504/429 answer. */
export function isTransient(error: unknown): boolean {
  if (error instanceof HttpStatusError) return error.status === 503 || error.status === 504 || error.status === 429 || error.status === 502;
  return error instanceof Error && (error.name === 'TypeError' || error.name === 'TimeoutError' || error.name === 'AbortError');
}

/**
 * Repeats `fn` while it fails transiently (the orchestrator restarting, say), up to `untilMs` from now.
 */
export async function retryTransient<T>(fn: () => Promise<T>, untilMs: number, pauseMs = 100): Promise<T> {
  const deadline = Date.now() + untilMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransient(error) || Date.now() + pauseMs > deadline) throw error;
      await sleep(pauseMs);
    }
  }
}
