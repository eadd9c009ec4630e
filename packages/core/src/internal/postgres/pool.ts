import pg from 'pg';

const OID_INT8 = 20;
const OID_JSON = 114;
const OID_JSONB = 3802;

/**
 * Type parsers the ONEX stores set per query, so an application pool's global parsers are neither needed nor
 * changed: int8 (versions, epoch ms) as a number, json/jsonb parsed, everything else as node-postgres parses it.
 *
 * @internal for ONEX packages; not part of the public API.
 *
 * @example
 * ```ts
 * // @example-compile-only
 * import pg from 'pg';
 * import { POSTGRES_TYPES } from '@onex/core/internal/postgres';
 * const pool = new pg.Pool({ connectionString: 'postgres://127.0.0.1/onex' });
 * await pool.query({ text: 'SELECT 1::int8 AS one', types: POSTGRES_TYPES }); // rows: [{ one: 1 }]
 * ```
 */
export const POSTGRES_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === OID_INT8) return (text: string) => Number(text);
    if (oid === OID_JSON || oid === OID_JSONB) return (text: string) => JSON.parse(text) as unknown;
    return pg.types.getTypeParser(oid, (format ?? 'text') as 'text') as (text: string) => unknown;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * A pool a store makes from a connection string (and ends on `close()`): `max` connections, a 10 s connect timeout,
 * and an `error` listener — an idle connection dropped by the server emits `error` on the pool; unhandled it would
 * end the process, while the next query, on a fresh connection, reports the outage.
 *
 * @internal for ONEX packages; not part of the public API.
 *
 * @example
 * ```ts
 * import { createOwnedPool } from '@onex/core/internal/postgres';
 * const pool = createOwnedPool('postgres://127.0.0.1/onex', 10);
 * await pool.end();
 * ```
 */
export function createOwnedPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  return pool;
}
