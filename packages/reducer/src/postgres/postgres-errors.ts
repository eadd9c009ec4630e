import pg from 'pg';
import { ErrorCode, isConnectionError, isOnexError, OnexError } from '@onex/core';

// A short local copy of what PostgresWorkflowStore (@onex/orchestrator) and @onex/effect's PostgreSQL classes do:
// sharing it across packages would need a new @onex/core export (core does not depend on pg), and a package may only
// depend on @onex/core.

/** SQLSTATE classes and codes of failures a later call may not meet: the server or the connection, not the data. */
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57']);
const UNAVAILABLE_CODES = new Set(['40001', '40P01', '55P03', '55006']);

/** The SQLSTATE of a node-postgres error, if it carries one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The OnexError a failed query is reported as: `UNAVAILABLE` (retryable) for the server or the connection, `TIMEOUT`
 * for a cancelled statement, `LIFECYCLE` after the pool was ended, `VALIDATION` for a value PostgreSQL cannot store,
 * `INTERNAL` otherwise. An OnexError passes through.
 *
 * @internal Shared by the package's PostgreSQL classes.
 */
export function classifyPostgresError(error: unknown, operation: string, owner: string): OnexError {
  if (isOnexError(error)) return error;
  const state = sqlState(error);
  const context = { operation, ...(state === undefined ? {} : { sqlState: state }) };
  if (state === '57014') return new OnexError(ErrorCode.Timeout, `PostgreSQL ${operation} timed out`, { cause: error, context });
  const message = error instanceof Error ? error.message : '';
  const dropped =
    isConnectionError(error) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|Client was closed/i.test(message);
  if (dropped || (state !== undefined && (UNAVAILABLE_CLASSES.has(state.slice(0, 2)) || UNAVAILABLE_CODES.has(state)))) {
    return new OnexError(ErrorCode.Unavailable, `PostgreSQL unavailable during ${operation}`, { cause: error, context });
  }
  if (/after calling end on the pool/i.test(message)) {
    return new OnexError(ErrorCode.Lifecycle, `${owner} ${operation} after its pool was ended`, { cause: error, context });
  }
  if (state?.startsWith('22') === true) {
    return new OnexError(ErrorCode.Validation, `PostgreSQL refused a value during ${operation}: ${message}`, { cause: error, context });
  }
  return new OnexError(ErrorCode.Internal, `PostgreSQL ${operation} failed`, { cause: error, context });
}

const OID_INT8 = 20;
const OID_JSON = 114;
const OID_JSONB = 3802;

/**
 * Type parsers set per query, so an application pool's global parsers are neither needed nor changed: int8 as a
 * number (versions), json/jsonb parsed, everything else as node-postgres parses it.
 *
 * @internal
 */
export const POSTGRES_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === OID_INT8) return (text: string) => Number(text);
    if (oid === OID_JSON || oid === OID_JSONB) return (text: string) => JSON.parse(text) as unknown;
    return pg.types.getTypeParser(oid, (format ?? 'text') as 'text') as (text: string) => unknown;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * A pool made from a connection string: `max` connections, a 10 s connect timeout, and an `error` listener (an idle
 * connection dropped by the server emits `error` on the pool; unhandled it would end the process — the next query on
 * a fresh connection reports the outage).
 *
 * @internal
 */
export function createOwnedPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  return pool;
}
