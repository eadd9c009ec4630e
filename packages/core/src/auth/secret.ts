import { createSecretKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret value (an HMAC key) that never shows itself: `String(secret)`, `JSON.stringify`, `util.inspect`,
 * `console.log` and pino all print `[redacted]`. The bytes live in a native `KeyObject` and are used by
 * {@link signRequest} and the request verifier without ever becoming a string again.
 *
 * @example
 * ```ts
 * import { Secret } from '@onex/core';
 * const secret = new Secret('s3cr3t-0123456789abcdef');
 * console.log(JSON.stringify({ secret }), String(secret)); // {"secret":"[redacted]"} [redacted]
 * ```
 */
export class Secret {
  readonly #key: KeyObject;

  /** Wraps `value` (a string is taken as its UTF-8 bytes). */
  constructor(value: string | Uint8Array) {
    this.#key = createSecretKey(typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value));
  }

  /** Length of the secret in bytes (not secret itself). */
  get byteLength(): number {
    return this.#key.symmetricKeySize ?? 0;
  }

  /**
   * The secret as a native key, for `crypto.createHmac('sha256', secret.keyObject())`: the only way to use it.
   * A `KeyObject` prints no key material either.
   */
  keyObject(): KeyObject {
    return this.#key;
  }

  /** Always `[redacted]`. */
  toString(): string {
    return REDACTED;
  }

  /** Always `[redacted]`: `JSON.stringify` and pino write that. */
  toJSON(): string {
    return REDACTED;
  }

  /** What `util.inspect` and `console.log` show. */
  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}
