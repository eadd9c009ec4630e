import { hash } from 'node:crypto';

/** Nesting deeper than this is not canonicalised (the value is treated as uncacheable, never overflowing the stack). */
const MAX_DEPTH = 64;

/**
 * The canonical text of a value: an injective encoding in which object key order does not matter. Two values get
 * the same text exactly when a pure function cannot tell them apart by their data: strings, finite numbers (`-0`
 * kept apart from `0`), `NaN`/`±Infinity`, booleans, `null`, `undefined`, bigints, `Date`s (by their time), arrays
 * and plain objects (keys sorted, an `undefined`-valued key kept apart from a missing one), nested to any mix.
 *
 * Anything else — functions, symbols, `Map`/`Set`, class instances, cycles, nesting deeper than 64 — has no
 * canonical form: the result is `undefined`, and the caller must not cache by it.
 *
 * @example
 * ```ts
 * canonicalize({ b: [1, 'x'], a: null }) === canonicalize({ a: null, b: [1, 'x'] }); // true
 * canonicalize({ f: () => 1 }); // undefined
 * ```
 */
export function canonicalize(value: unknown): string | undefined {
  const parts: string[] = [];
  return write(value, parts, new Set(), 0) ? parts.join('') : undefined;
}

/**
 * A fixed-length key for a value: the SHA-256 (base64url) of its {@link canonicalize | canonical text}, or
 * `undefined` when the value has none. SHA-256 rather than a fast non-cryptographic hash: a crafted collision
 * would make a cache answer one input with another's result, and with `crypto.hash` it costs about as much as
 * FNV in JavaScript for small inputs (≈0.6 µs for 100 bytes) and far less for large ones.
 *
 * @example
 * ```ts
 * stableKey({ x: 1, y: 2 }) === stableKey({ y: 2, x: 1 }); // true, a 43-character string
 * ```
 */
export function stableKey(value: unknown): string | undefined {
  const text = canonicalize(value);
  return text === undefined ? undefined : hash('sha256', text, 'base64url');
}

function write(value: unknown, out: string[], ancestors: Set<object>, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return true;
    case 'number':
      // `String` writes NaN/Infinity/-Infinity unquoted; only -0 needs help (it prints as "0").
      out.push(Object.is(value, -0) ? '-0' : String(value));
      return true;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return true;
    case 'undefined':
      out.push('u');
      return true;
    case 'bigint':
      out.push(`${value}n`);
      return true;
    case 'function':
    case 'symbol':
      return false;
    case 'object':
      return value === null ? (out.push('null'), true) : writeObject(value, out, ancestors, depth);
  }
}

function writeObject(value: object, out: string[], ancestors: Set<object>, depth: number): boolean {
  if (depth >= MAX_DEPTH || ancestors.has(value)) return false;
  if (value instanceof Date) {
    out.push(`D${value.getTime()}`);
    return true;
  }
  ancestors.add(value);
  let ok: boolean;
  if (Array.isArray(value)) {
    ok = writeArray(value, out, ancestors, depth + 1);
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    ok = (proto === Object.prototype || proto === null) && writePlain(value as Record<string, unknown>, out, ancestors, depth + 1);
  }
  ancestors.delete(value);
  return ok;
}

function writeArray(value: readonly unknown[], out: string[], ancestors: Set<object>, depth: number): boolean {
  out.push('[');
  for (let i = 0; i < value.length; i += 1) {
    if (i > 0) out.push(',');
    if (!write(value[i], out, ancestors, depth)) return false;
  }
  out.push(']');
  return true;
}

function writePlain(value: Record<string, unknown>, out: string[], ancestors: Set<object>, depth: number): boolean {
  // Default sort compares UTF-16 code units: the same order on every engine and locale.
  const keys = Object.keys(value).sort();
  out.push('{');
  for (let i = 0; i < keys.length; i += 1) {
    const key = keys[i] as string;
    if (i > 0) out.push(',');
    out.push(JSON.stringify(key), ':');
    if (!write(value[key], out, ancestors, depth)) return false;
  }
  out.push('}');
  return true;
}
