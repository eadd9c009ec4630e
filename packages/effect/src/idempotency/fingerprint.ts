import { createHash } from 'node:crypto';

/**
 * A stable fingerprint of a JSON-like value: the SHA-256 of its canonical JSON (object keys sorted, `undefined`
 * properties dropped, `toJSON` honoured). Two inputs with the same fingerprint are the same request.
 *
 * @example
 * ```ts
 * fingerprint({ b: 1, a: 2 }) === fingerprint({ a: 2, b: 1 }); // true
 * ```
 */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url');
}

/**
 * Canonical JSON of a value: like `JSON.stringify`, with object keys sorted at every level.
 *
 * @example
 * ```ts
 * canonicalJson({ b: [1, { d: 1, c: 2 }], a: undefined }); // '{"b":[1,{"c":2,"d":1}]}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  return write(value, new Set()) ?? 'null';
}

function write(value: unknown, seen: Set<object>): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
  }
  const object = value;
  const toJson = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJson === 'function') return write((toJson as () => unknown).call(object), seen);
  if (seen.has(object)) throw new TypeError('Cannot fingerprint a circular structure');
  seen.add(object);
  try {
    if (Array.isArray(object)) return `[${object.map((item: unknown) => write(item, seen) ?? 'null').join(',')}]`;
    const parts: string[] = [];
    for (const key of Object.keys(object).sort()) {
      const written = write((object as Record<string, unknown>)[key], seen);
      if (written !== undefined) parts.push(`${JSON.stringify(key)}:${written}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(object);
  }
}
