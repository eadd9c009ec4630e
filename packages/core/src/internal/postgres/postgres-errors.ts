import { ErrorCode } from '../../errors/error-codes.js';
import { isConnectionError, isOnexError, OnexError } from '../../errors/onex-error.js';

/** SQLSTATE classes and codes of failures a later call may not meet: the server or the connection, not the data. */
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57']);
const UNAVAILABLE_CODES = new Set(['40001', '40P01', '55P03', '55006']);

/** What node-postgres says when the connection (not the statement) failed: these carry no SQLSTATE. */
const DROPPED_CONNECTION = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|Client was closed/i;

/**
 * The SQLSTATE of a node-postgres error (five digits or capitals), if it carries one.
 *
 * @internal for ONEX packages; not part of the public API.
 *
 * @example
 * ```ts
 * import { sqlState } from '@onex/core/internal/postgres';
 * sqlState({ code: '23505' }); // '23505'
 * sqlState(new Error('boom')); // undefined
 * ```
 */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The {@link OnexError} a failed query is reported as: `UNAVAILABLE` (retryable) for the server or the connection
 * (SQLSTATE classes 08, 53, 57, serialization failures, deadlocks, lock timeouts, a dropped client), `TIMEOUT` for a
 * cancelled statement (57014), `LIFECYCLE` after the pool was ended, `VALIDATION` for a value PostgreSQL cannot store
 * (class 22: a `\u0000` in a JSON string, a lone surrogate…), `INTERNAL` otherwise. An `OnexError` passes through.
 * The driver's error stays as `cause`; `context` names the operation and the SQLSTATE.
 *
 * @param operation what was being done (`init`, `append`, …), named in the message and `context`.
 * @param owner the class named in a `LIFECYCLE` message (`PostgresReducerStore`).
 * @internal for ONEX packages; not part of the public API.
 *
 * @example
 * ```ts
 * import { classifyPostgresError } from '@onex/core/internal/postgres';
 * classifyPostgresError({ code: '40P01' }, 'append', 'PostgresReducerStore').code; // 'UNAVAILABLE'
 * ```
 */
export function classifyPostgresError(error: unknown, operation: string, owner: string): OnexError {
  if (isOnexError(error)) return error;
  const state = sqlState(error);
  const context = { operation, ...(state === undefined ? {} : { sqlState: state }) };
  if (state === '57014') return new OnexError(ErrorCode.Timeout, `PostgreSQL ${operation} timed out`, { cause: error, context });
  const message = error instanceof Error ? error.message : '';
  const dropped = isConnectionError(error) || DROPPED_CONNECTION.test(message);
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
