import { z } from 'zod';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { Secret } from './secret.js';

/** Key ids go into signed strings and headers: a strict charset keeps both unambiguous. */
const KEY_ID = /^[A-Za-z0-9._~-]{1,64}$/;
/** The shortest secret accepted, bytes: HMAC-SHA256 keys shorter than this are guessable. */
export const MIN_SECRET_BYTES = 16;

/**
 * One signing key as configured: its id, its secret, when it is valid and who it stands for.
 *
 * @example
 * ```ts
 * const key: AuthKeyOptions = { id: 'orch-2026-12', secret: 'k7VvJ0p5bQ6m1sX9tY2wZ8aB3cD4eF5g', principal: 'orchestrator', scopes: ['workflows:start'] };
 * ```
 */
export interface AuthKeyOptions {
  /** Key id sent in `x-onex-key-id`: 1–64 characters from `[A-Za-z0-9._~-]`. Not secret. */
  readonly id: string;
  /** The shared secret, at least 16 bytes (use 32 random bytes, e.g. `randomBytes(32).toString('base64url')`). */
  readonly secret: string | Uint8Array | Secret;
  /** Who a request signed with this key comes from (the caller id handlers see). Default: the key id. */
  readonly principal?: string;
  /** What a caller with this key may do, checked by `requireScope`. Default: none. */
  readonly scopes?: readonly string[];
  /** The key is refused before this instant (epoch ms or a Date). Default: always valid from the start. */
  readonly notBefore?: number | Date;
  /** The key is refused from this instant on (epoch ms or a Date). Default: never expires. */
  readonly notAfter?: number | Date;
}

/**
 * A validated key of a {@link Keyring}. Its secret is a {@link Secret}: the key prints, logs and serialises without it.
 *
 * @example
 * ```ts
 * import { AuthKey } from '@onex/core';
 * const key = new AuthKey({ id: 'k1', secret: 'k7VvJ0p5bQ6m1sX9tY2wZ8aB3cD4eF5g', scopes: ['workflows:admin'] });
 * console.log(JSON.stringify(key)); // {"id":"k1","principal":"k1","scopes":["workflows:admin"],"secret":"[redacted]"}
 * ```
 */
export class AuthKey {
  /** The key id. */
  readonly id: string;
  /** The principal a verified request is attributed to. */
  readonly principal: string;
  /** The scopes granted to callers signing with this key. */
  readonly scopes: readonly string[];
  /** Epoch ms from which the key is valid, if bounded. */
  readonly notBefore: number | undefined;
  /** Epoch ms from which the key is no longer valid, if bounded. */
  readonly notAfter: number | undefined;
  /** The shared secret. */
  readonly secret: Secret;

  /** @throws OnexError `VALIDATION` for an invalid id, a short secret or an empty validity interval (the message never shows the secret). */
  constructor(options: AuthKeyOptions) {
    if (typeof options.id !== 'string' || !KEY_ID.test(options.id)) {
      throw new OnexError(ErrorCode.Validation, 'Invalid auth key id: use 1-64 characters from [A-Za-z0-9._~-]');
    }
    this.id = options.id;
    this.secret = options.secret instanceof Secret ? options.secret : new Secret(options.secret);
    if (this.secret.byteLength < MIN_SECRET_BYTES) {
      throw new OnexError(ErrorCode.Validation, `Auth key '${this.id}': the secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    this.principal = options.principal ?? options.id;
    if (this.principal.length === 0 || this.principal.length > 256) {
      throw new OnexError(ErrorCode.Validation, `Auth key '${this.id}': principal must be 1-256 characters`);
    }
    this.scopes = Object.freeze([...(options.scopes ?? [])]);
    this.notBefore = toEpoch(options.notBefore, this.id, 'notBefore');
    this.notAfter = toEpoch(options.notAfter, this.id, 'notAfter');
    if (this.notBefore !== undefined && this.notAfter !== undefined && this.notAfter <= this.notBefore) {
      throw new OnexError(ErrorCode.Validation, `Auth key '${this.id}': notAfter must be later than notBefore`);
    }
    Object.freeze(this);
  }

  /** True when the key may sign or verify at `now` (epoch ms): `notBefore <= now < notAfter`. */
  isActiveAt(now: number): boolean {
    return (this.notBefore === undefined || now >= this.notBefore) && (this.notAfter === undefined || now < this.notAfter);
  }

  /** The key without its secret. */
  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      principal: this.principal,
      scopes: this.scopes,
      ...(this.notBefore === undefined ? {} : { notBefore: new Date(this.notBefore).toISOString() }),
      ...(this.notAfter === undefined ? {} : { notAfter: new Date(this.notAfter).toISOString() }),
      secret: this.secret.toJSON(),
    };
  }

  /** `AuthKey(<id>)`. */
  toString(): string {
    return `AuthKey(${this.id})`;
  }
}

function toEpoch(value: number | Date | undefined, id: string, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : value;
  if (!Number.isFinite(ms)) throw new OnexError(ErrorCode.Validation, `Auth key '${id}': ${field} is not a valid instant`);
  return ms;
}

/** The environment variable {@link Keyring.fromEnv} reads. */
export const AUTH_KEYS_ENV = 'ONEX_AUTH_KEYS';
/** The environment variable naming the key a client signs with (see {@link Keyring.signingKey}). */
export const AUTH_KEY_ID_ENV = 'ONEX_AUTH_KEY_ID';

const EnvKey = z
  .object({
    id: z.string(),
    secret: z.string(),
    principal: z.string().optional(),
    scopes: z.array(z.string()).optional(),
    notBefore: z.union([z.number(), z.iso.datetime({ offset: true })]).optional(),
    notAfter: z.union([z.number(), z.iso.datetime({ offset: true })]).optional(),
  })
  .strict();
const EnvKeys = z.array(EnvKey).min(1);

/**
 * The keys a node accepts and a client signs with. Several keys may be active at once: that is how a key is rotated
 * without downtime (add the new key everywhere, move the signers to it, then let the old one expire with `notAfter`
 * or remove it).
 *
 * @example
 * ```ts
 * import { Keyring } from '@onex/core';
 * const now = Date.parse('2026-12-01T00:00:00Z');
 * const keyring = new Keyring([
 *   { id: 'k-2026-11', secret: 'old-secret-0123456789abcdef', notAfter: new Date('2026-12-08T00:00:00Z') },
 *   { id: 'k-2026-12', secret: 'new-secret-0123456789abcdef', notBefore: new Date('2026-11-30T00:00:00Z') },
 * ]);
 * console.log(keyring.active(now).map((k) => k.id)); // both, during the overlap
 * console.log(keyring.signingKey(now)?.id); // 'k-2026-12': the newest active key
 * ```
 */
export class Keyring {
  readonly #keys: ReadonlyMap<string, AuthKey>;

  /** @throws OnexError `VALIDATION` for an empty list, an invalid key or two keys with the same id. */
  constructor(keys: readonly (AuthKey | AuthKeyOptions)[]) {
    if (keys.length === 0) throw new OnexError(ErrorCode.Validation, 'A keyring needs at least one key');
    const map = new Map<string, AuthKey>();
    for (const options of keys) {
      const key = options instanceof AuthKey ? options : new AuthKey(options);
      if (map.has(key.id)) throw new OnexError(ErrorCode.Validation, `Duplicate auth key id '${key.id}'`);
      map.set(key.id, key);
    }
    this.#keys = map;
  }

  /**
   * The keyring of `ONEX_AUTH_KEYS`, or `undefined` when the variable is unset or empty. Two formats:
   * - a JSON array of {@link AuthKeyOptions} (`notBefore`/`notAfter` as epoch ms or ISO 8601 date-times):
   *   `[{"id":"k2","secret":"…","principal":"orchestrator","scopes":["workflows:start"],"notBefore":"2026-12-01T00:00:00Z"}]`;
   * - a comma-separated `id:secret` list (each key's principal is its id, no scopes, no validity bounds):
   *   `k1:secret-one,k2:secret-two`.
   *
   * @throws OnexError `VALIDATION` when the value cannot be read; the message names the problem, never the value.
   */
  static fromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Keyring | undefined {
    const raw = env[AUTH_KEYS_ENV];
    if (raw === undefined || raw.trim() === '') return undefined;
    return Keyring.parse(raw);
  }

  /**
   * Parses the value of `ONEX_AUTH_KEYS` (see {@link Keyring.fromEnv} for both formats).
   *
   * @throws OnexError `VALIDATION`; the message never contains the value.
   */
  static parse(text: string): Keyring {
    const trimmed = text.trim();
    if (trimmed.startsWith('[')) {
      let json: unknown;
      try {
        json = JSON.parse(trimmed);
      } catch {
        // No cause: JSON.parse's message quotes the input, which holds secrets.
        throw new OnexError(ErrorCode.Validation, `${AUTH_KEYS_ENV} is not valid JSON`);
      }
      const parsed = EnvKeys.safeParse(json);
      if (!parsed.success) {
        const where = parsed.error.issues.map((issue) => issue.path.join('.') || '(root)').join(', ');
        throw new OnexError(ErrorCode.Validation, `${AUTH_KEYS_ENV}: expected an array of {id, secret, principal?, scopes?, notBefore?, notAfter?} (invalid at ${where})`);
      }
      return new Keyring(
        parsed.data.map((key) => ({
          id: key.id,
          secret: key.secret,
          ...(key.principal === undefined ? {} : { principal: key.principal }),
          ...(key.scopes === undefined ? {} : { scopes: key.scopes }),
          ...(key.notBefore === undefined ? {} : { notBefore: typeof key.notBefore === 'number' ? key.notBefore : Date.parse(key.notBefore) }),
          ...(key.notAfter === undefined ? {} : { notAfter: typeof key.notAfter === 'number' ? key.notAfter : Date.parse(key.notAfter) }),
        })),
      );
    }
    const keys = trimmed.split(',').map((entry, index) => {
      const colon = entry.indexOf(':');
      if (colon <= 0 || colon === entry.length - 1) throw new OnexError(ErrorCode.Validation, `${AUTH_KEYS_ENV}: entry ${index + 1} is not 'id:secret'`);
      return { id: entry.slice(0, colon).trim(), secret: entry.slice(colon + 1).trim() };
    });
    return new Keyring(keys);
  }

  /** Number of keys. */
  get size(): number {
    return this.#keys.size;
  }

  /** The key with this id, active or not. */
  get(id: string): AuthKey | undefined {
    return this.#keys.get(id);
  }

  /** Every key valid at `now` (epoch ms). */
  active(now: number = Date.now()): AuthKey[] {
    return [...this.#keys.values()].filter((key) => key.isActiveAt(now));
  }

  /**
   * The key a client signs with at `now`: the key `id` when given (and active), else the active key that became
   * valid last (the newest, so signers move to a new key on their own once its `notBefore` passes).
   */
  signingKey(now: number = Date.now(), id?: string): AuthKey | undefined {
    if (id !== undefined) {
      const key = this.#keys.get(id);
      return key?.isActiveAt(now) === true ? key : undefined;
    }
    let best: AuthKey | undefined;
    for (const key of this.#keys.values()) {
      if (!key.isActiveAt(now)) continue;
      if (best === undefined || (key.notBefore ?? -Infinity) >= (best.notBefore ?? -Infinity)) best = key;
    }
    return best;
  }

  /** The key ids and bounds, never the secrets. */
  toJSON(): Record<string, unknown>[] {
    return [...this.#keys.values()].map((key) => key.toJSON());
  }

  /** `Keyring(<ids>)`. */
  toString(): string {
    return `Keyring(${[...this.#keys.keys()].join(', ')})`;
  }
}
