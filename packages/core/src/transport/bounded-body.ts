import { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError, toOnexError } from '../errors/onex-error.js';
import type { Result } from '../node/result.js';
import { bodyMatchesSignature } from '../auth/node-auth.js';

/**
 * Largest request body `serveNode` and {@link readJsonBody} accept by default, bytes (1 MiB).
 *
 * @internal Shared by the transport; not part of the public API.
 */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

const JSON_TYPE = 'application/json';

/**
 * Why {@link readBoundedBody} stopped before the end of a body: it is over the limit (declared by
 * `content-length`, or counted while streaming), or the peer closed the connection mid-body.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 *
 * @example
 * ```ts
 * import type { IncomingMessage } from 'node:http';
 * import { BodyReadFailure, readBoundedBody } from '@onex/core/internal';
 * async function readSmall(res: IncomingMessage): Promise<Buffer | undefined> {
 *   const read = await readBoundedBody(res, 16 * 1024 * 1024);
 *   if (!read.ok && read.failure === BodyReadFailure.TooLarge) res.destroy();
 *   return read.ok ? read.body : undefined;
 * }
 * ```
 */
export const BodyReadFailure = {
  TooLarge: 'too-large',
  Closed: 'closed',
} as const;
/** One of the {@link BodyReadFailure} values. */
export type BodyReadFailure = (typeof BodyReadFailure)[keyof typeof BodyReadFailure];

/**
 * What {@link readBoundedBody} read: the whole body, or why it stopped.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 *
 * @example
 * ```ts
 * import type { IncomingMessage } from 'node:http';
 * import { readBoundedBody, type BodyRead } from '@onex/core/internal';
 * async function readText(req: IncomingMessage): Promise<string | undefined> {
 *   const read: BodyRead = await readBoundedBody(req, 64 * 1024);
 *   return read.ok ? read.body.toString('utf8') : undefined;
 * }
 * ```
 */
export type BodyRead = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly failure: BodyReadFailure };

const TOO_LARGE: BodyRead = Object.freeze({ ok: false, failure: BodyReadFailure.TooLarge });
const CLOSED: BodyRead = Object.freeze({ ok: false, failure: BodyReadFailure.Closed });
const EMPTY: BodyRead = Object.freeze({ ok: true, body: Buffer.alloc(0) });

/**
 * Reads the body of a Node HTTP message — a request on a server, or a response on a client — holding at most
 * `limitBytes` bytes. A body declared larger by `content-length` is refused without reading a byte; a streamed
 * (chunked) one is refused as soon as the count passes the limit: the stream is paused, the chunk that crossed
 * the limit dropped, and the rest left on the wire. Whoever called then decides what becomes of the connection:
 * a server answers with `connection: close` (as `serveNode` does), a client destroys its request.
 *
 * Never rejects for a body that is too large or cut short by the peer (those are {@link BodyReadFailure}s); rejects
 * with any other error the stream emits. The one bounded-body reader of ONEX: `serveNode`, `readJsonBody`, the node
 * client and `@onex/effect`'s HTTP effect all read through it.
 *
 * @internal for ONEX packages (exported from `@onex/core/internal`); not part of the public API.
 *
 * @example
 * ```ts
 * // @example-compile-only
 * import { request } from 'node:http';
 * import { readBoundedBody, BodyReadFailure } from '@onex/core/internal';
 * const req = request('http://127.0.0.1:8080/health');
 * req.on('response', async (res) => {
 *   const read = await readBoundedBody(res, 16 * 1024 * 1024);
 *   if (read.ok) console.log(JSON.parse(read.body.toString('utf8')));
 *   else if (read.failure === BodyReadFailure.TooLarge) req.destroy();
 * });
 * req.end();
 * ```
 * @see readJsonBody for a JSON request body inside a hono route.
 */
export function readBoundedBody(message: IncomingMessage, limitBytes: number): Promise<BodyRead> {
  const declared = message.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) return Promise.resolve(TOO_LARGE);
  if (message.readableEnded) return Promise.resolve(EMPTY);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      message.off('data', onData);
      message.off('end', onEnd);
      message.off('error', onError);
      message.off('close', onClose);
    };
    function onData(chunk: Buffer): void {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        message.pause();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    }
    function onEnd(): void {
      cleanup();
      resolve({ ok: true, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
    }
    function onError(error: Error): void {
      cleanup();
      // Node reports a peer that hung up mid-body as an 'aborted' ECONNRESET error: that is a cut-short body.
      if ((error as { code?: unknown }).code === 'ECONNRESET') resolve(CLOSED);
      else reject(error);
    }
    function onClose(): void {
      if (message.readableEnded) return;
      cleanup();
      resolve(CLOSED);
    }
    message.on('data', onData);
    message.on('end', onEnd);
    message.on('error', onError);
    message.on('close', onClose);
  });
}

/** The same for a Web `Request` (a hono app used through `app.request()` or on another runtime). */
async function readWebBody(request: Request, limitBytes: number): Promise<BodyRead> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limitBytes) return TOO_LARGE;
  const body = request.body;
  if (body === null) return EMPTY;
  const reader: ReadableStreamDefaultReader<Uint8Array> = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limitBytes) {
      await reader.cancel();
      return TOO_LARGE;
    }
    chunks.push(value);
  }
  return { ok: true, body: Buffer.concat(chunks, size) };
}

/**
 * Node's request and response when a hono app runs under `@hono/node-server`; `undefined` on other runtimes
 * and through `app.request()`.
 *
 * @internal Shared by the transport; not part of the public API.
 */
export function nodeBindings(c: Context): { incoming: IncomingMessage; outgoing: ServerResponse } | undefined {
  const env: unknown = c.env;
  if (typeof env !== 'object' || env === null) return undefined;
  const { incoming, outgoing } = env as { incoming?: unknown; outgoing?: unknown };
  if (!(incoming instanceof IncomingMessage) || !(outgoing instanceof ServerResponse)) return undefined;
  return { incoming, outgoing: outgoing as ServerResponse };
}

/**
 * True when part of the request body is still on the wire (it was refused, or never read): the connection
 * cannot carry another request, so the answer should say `connection: close` rather than let the server drain
 * the rest.
 *
 * @internal Shared by the transport; not part of the public API.
 */
export function hasUnreadBody(c: Context): boolean {
  const bindings = nodeBindings(c);
  return bindings !== undefined && !bindings.incoming.complete;
}

/**
 * `application/json`, optionally with parameters (`; charset=utf-8`). Case-insensitive.
 *
 * @internal Shared by the transport; not part of the public API.
 */
export function isJsonContentType(value: string | string[] | undefined | null): boolean {
  if (value === JSON_TYPE) return true;
  if (typeof value !== 'string') return false;
  const semi = value.indexOf(';');
  return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase() === JSON_TYPE;
}

/**
 * Options of {@link readJsonBody}.
 *
 * @example
 * ```ts
 * const options: ReadJsonBodyOptions = { limitBytes: 64 * 1024 };
 * ```
 */
export interface ReadJsonBodyOptions {
  /** Largest body accepted, bytes (a non-negative integer). Default 1 MiB, as `serveNode`'s `bodyLimitBytes`. */
  readonly limitBytes?: number;
}

/**
 * Reads and parses the JSON body of a request in a hono route, with the checks `serveNode` applies to
 * `POST /v1/process`: the content type must be `application/json` (415 `UNSUPPORTED_MEDIA_TYPE`), the body at
 * most `limitBytes` (413 `PAYLOAD_TOO_LARGE`, refused while streaming, never buffered past the limit), valid JSON
 * (400 `BAD_REQUEST`); a client that disconnects mid-body gives `CANCELLED`. On an app served with `auth`, the body
 * must be the one the request was signed with (401 `UNAUTHORIZED` otherwise). Failures come back as a failed
 * {@link Result}, not thrown: throw `error` from a route added with `configure`, and the app answers it as a wire
 * error (with `connection: close` when the rest of a refused body is still on the wire).
 *
 * Under `@hono/node-server` it reads Node's request directly; elsewhere (`app.request()`), the Web `Request`.
 *
 * @example
 * ```ts
 * import { readJsonBody, serveNode } from '@onex/core';
 * await serveNode(node, {
 *   bodyLimitBytes: 64 * 1024,
 *   configure: (app, { bodyLimitBytes }) => {
 *     app.post('/v1/echo', async (c) => {
 *       const body = await readJsonBody(c, { limitBytes: bodyLimitBytes });
 *       if (!body.ok) throw body.error;
 *       return c.json({ echo: body.value });
 *     });
 *   },
 * });
 * ```
 * @see readBoundedBody (in `@onex/core/internal`) for the byte-level reader underneath.
 */
export async function readJsonBody(c: Context, options: ReadJsonBodyOptions = {}): Promise<Result<unknown>> {
  const limitBytes = options.limitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const bindings = nodeBindings(c);
  const contentType = bindings === undefined ? c.req.raw.headers.get('content-type') : bindings.incoming.headers['content-type'];
  if (!isJsonContentType(contentType)) {
    return { ok: false, error: new OnexError(ErrorCode.UnsupportedMediaType, `Content-Type must be ${JSON_TYPE}`) };
  }
  let read: BodyRead;
  try {
    read = bindings === undefined ? await readWebBody(c.req.raw, limitBytes) : await readBoundedBody(bindings.incoming, limitBytes);
  } catch (error) {
    return { ok: false, error: toOnexError(error) };
  }
  if (!read.ok) {
    const error =
      read.failure === BodyReadFailure.TooLarge
        ? new OnexError(ErrorCode.PayloadTooLarge, `Request body exceeds ${limitBytes} bytes`)
        : new OnexError(ErrorCode.Cancelled, 'Client disconnected while sending the request');
    return { ok: false, error };
  }
  if (!bodyMatchesSignature(c, read.body)) return { ok: false, error: new OnexError(ErrorCode.Unauthorized, 'Request authentication failed') };
  try {
    return { ok: true, value: JSON.parse(read.body.toString('utf8')) as unknown };
  } catch {
    return { ok: false, error: new OnexError(ErrorCode.BadRequest, 'Request body is not valid JSON') };
  }
}
