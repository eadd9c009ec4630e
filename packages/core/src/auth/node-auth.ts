import type { Context, MiddlewareHandler } from 'hono';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import type { CallerIdentity } from '../node/call-context.js';
import type { AuthKey, Keyring } from './keyring.js';
import { AuthFailure, RequestVerifier, type VerifiableRequest, type VerifiedRequest } from './request-signing.js';

/**
 * The `auth` option of `serveNode` / `createNodeApp`: every request must be signed (see {@link signRequest}) with a
 * key of `keyring`, except `GET`s of `publicPaths`. A request that is unsigned, wrongly signed, signed with an
 * unknown or expired key, stale or replayed is answered 401 `UNAUTHORIZED`, without saying which check failed.
 *
 * @example
 * ```ts
 * import { Keyring, type NodeAuthOptions } from '@onex/core';
 * const auth: NodeAuthOptions = { keyring: new Keyring([{ id: 'k1', secret: 'k7VvJ0p5bQ6m1sX9tY2wZ8aB3cD4eF5g' }]), publicPaths: ['/health', '/metrics'] };
 * ```
 */
export interface NodeAuthOptions {
  /** The keys accepted. */
  readonly keyring: Keyring;
  /**
   * Paths answered to `GET` without a signature: exact paths, or prefixes ending in `/` (`'/ui/'`: every page under
   * it). Default `['/health']` (for load balancers and orchestration).
   */
  readonly publicPaths?: readonly string[];
  /** Replay window, ms. Default 5 minutes. */
  readonly maxSkewMs?: number;
  /** Bound on the nonces remembered within the window. Default 100 000. */
  readonly replayCacheSize?: number;
  /** The verifier's clock, epoch ms. Default `Date.now` (tests inject one). */
  readonly now?: () => number;
}

/** What the auth middleware learnt of one request. */
interface RequestAuth {
  readonly verifier: RequestVerifier;
  /** Undefined on a public path. */
  readonly verified: VerifiedRequest | undefined;
  readonly caller: CallerIdentity | undefined;
}

/** Per request, keyed by the request object: routes added with `configure` read it without typed hono variables. */
const requestAuth = new WeakMap<Request, RequestAuth>();
const identities = new WeakMap<AuthKey, CallerIdentity>();

function identityOf(key: AuthKey): CallerIdentity {
  let identity = identities.get(key);
  if (identity === undefined) {
    identity = Object.freeze({ id: key.principal, scopes: key.scopes, keyId: key.id, verified: true });
    identities.set(key, identity);
  }
  return identity;
}

/**
 * The request verifier of an app, with its public paths.
 *
 * @internal Built by `createNodeApp`; not part of the public API.
 */
export class NodeAuthenticator {
  readonly verifier: RequestVerifier;
  readonly #public: ReadonlySet<string>;
  readonly #publicPrefixes: readonly string[];

  constructor(options: NodeAuthOptions) {
    this.verifier = new RequestVerifier({
      keyring: options.keyring,
      ...(options.maxSkewMs === undefined ? {} : { maxSkewMs: options.maxSkewMs }),
      ...(options.replayCacheSize === undefined ? {} : { replayCacheSize: options.replayCacheSize }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    const publicPaths = options.publicPaths ?? ['/health'];
    this.#public = new Set(publicPaths.filter((p) => !p.endsWith('/')));
    this.#publicPrefixes = publicPaths.filter((p) => p.endsWith('/'));
  }

  /** Verifies the request of `c` and records the outcome for {@link requireScope} and `readJsonBody`. */
  authenticate(c: Context, request: VerifiableRequest, pathname: string): { readonly ok: true; readonly caller: CallerIdentity | undefined } | { readonly ok: false; readonly reason: AuthFailure } {
    if (request.method === 'GET' && (this.#public.has(pathname) || this.#publicPrefixes.some((prefix) => pathname.startsWith(prefix)))) {
      requestAuth.set(c.req.raw, { verifier: this.verifier, verified: undefined, caller: undefined });
      return { ok: true, caller: undefined };
    }
    const result = this.verifier.verify(request);
    if (!result.ok) return result;
    const caller = identityOf(result.value.key);
    requestAuth.set(c.req.raw, { verifier: this.verifier, verified: result.value, caller });
    return { ok: true, caller };
  }
}

/**
 * The verified caller of a request to an app served with `auth`: the principal of the key that signed it and its
 * scopes (`verified: true`). `undefined` when the app has no `auth` or the path is public. Routes added with
 * `configure` use it to attribute what they do; `process` handlers get the same identity as `ctx.caller`.
 *
 * @example
 * ```ts
 * import { verifiedCaller } from '@onex/core';
 * import type { Hono } from 'hono';
 * const configure = (app: Hono): void => {
 *   app.get('/v1/whoami', (c) => c.json({ caller: verifiedCaller(c)?.id ?? null }));
 * };
 * ```
 */
export function verifiedCaller(c: Context): CallerIdentity | undefined {
  return requestAuth.get(c.req.raw)?.caller;
}

/**
 * False when the request of `c` was signed and `body` is not the body it was signed with. `readJsonBody` checks
 * it; a route that reads a body otherwise must call it.
 *
 * @internal Shared by the transport; not part of the public API.
 */
export function bodyMatchesSignature(c: Context, body: Uint8Array): boolean {
  const auth = requestAuth.get(c.req.raw);
  if (auth?.verified === undefined) return true;
  return auth.verifier.bodyMatches(auth.verified, body);
}

/** The error of a request whose authentication failed: one message whatever failed. */
export function unauthorized(reason: AuthFailure, correlationId?: string): OnexError {
  return new OnexError(ErrorCode.Unauthorized, reason === AuthFailure.Missing ? 'Authentication required' : 'Request authentication failed', {
    ...(correlationId === undefined ? {} : { correlationId }),
  });
}

/**
 * Hono middleware for routes added through `configure`: lets the request through when the caller's key grants
 * `scope`, and answers 403 `FORBIDDEN` otherwise. On an app served without `auth` it lets every request through
 * (there is no caller to check), so a route can declare its scope whether or not a deployment turns auth on.
 *
 * @example
 * ```ts
 * import { requireScope } from '@onex/core';
 * import type { Hono } from 'hono';
 * const configure = (app: Hono): void => {
 *   app.post('/v1/admin/flush', requireScope('admin'), (c) => c.json({ flushed: true }));
 * };
 * ```
 */
export function requireScope(scope: string): MiddlewareHandler {
  return async (c, next) => {
    const auth = requestAuth.get(c.req.raw);
    if (auth !== undefined && auth.caller?.scopes?.includes(scope) !== true) {
      throw new OnexError(ErrorCode.Forbidden, `Missing scope '${scope}'`);
    }
    await next();
  };
}
