/**
 * Every error code ONEX uses, with its HTTP status and whether a caller may retry it.
 *
 * @example
 * ```ts
 * import { ErrorCode, errorCodeInfo } from '@onex/core';
 * errorCodeInfo(ErrorCode.Timeout).httpStatus; // 504
 * ```
 */
export const ErrorCode = {
  Validation: 'VALIDATION',
  BadRequest: 'BAD_REQUEST',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  RateLimited: 'RATE_LIMITED',
  Overloaded: 'OVERLOADED',
  Timeout: 'TIMEOUT',
  Cancelled: 'CANCELLED',
  CircuitOpen: 'CIRCUIT_OPEN',
  Unavailable: 'UNAVAILABLE',
  Lifecycle: 'LIFECYCLE',
  Contract: 'CONTRACT',
  Internal: 'INTERNAL',
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What a code means on the wire: its HTTP status and whether the failure is transient. */
export interface ErrorCodeInfo {
  /** HTTP status a transport answers with. */
  readonly httpStatus: number;
  /** True when the same call may succeed if tried again later. */
  readonly retryable: boolean;
}

const INFO: Readonly<Record<ErrorCode, ErrorCodeInfo>> = {
  VALIDATION: { httpStatus: 422, retryable: false },
  BAD_REQUEST: { httpStatus: 400, retryable: false },
  UNAUTHORIZED: { httpStatus: 401, retryable: false },
  FORBIDDEN: { httpStatus: 403, retryable: false },
  NOT_FOUND: { httpStatus: 404, retryable: false },
  CONFLICT: { httpStatus: 409, retryable: false },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, retryable: false },
  RATE_LIMITED: { httpStatus: 429, retryable: true },
  OVERLOADED: { httpStatus: 503, retryable: true },
  TIMEOUT: { httpStatus: 504, retryable: true },
  CANCELLED: { httpStatus: 499, retryable: false },
  CIRCUIT_OPEN: { httpStatus: 503, retryable: true },
  UNAVAILABLE: { httpStatus: 503, retryable: true },
  LIFECYCLE: { httpStatus: 503, retryable: true },
  CONTRACT: { httpStatus: 500, retryable: false },
  INTERNAL: { httpStatus: 500, retryable: false },
};

const CODES = new Set<string>(Object.values(ErrorCode));

/** The HTTP status and retryability of a code. */
export function errorCodeInfo(code: ErrorCode): ErrorCodeInfo {
  return INFO[code];
}

/** Narrows a string to an {@link ErrorCode}. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && CODES.has(value);
}

/** The code a transport should report for an HTTP status it received without an ONEX body. */
export function errorCodeForHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return ErrorCode.BadRequest;
    case 401:
      return ErrorCode.Unauthorized;
    case 403:
      return ErrorCode.Forbidden;
    case 404:
      return ErrorCode.NotFound;
    case 409:
      return ErrorCode.Conflict;
    case 413:
      return ErrorCode.PayloadTooLarge;
    case 415:
      return ErrorCode.UnsupportedMediaType;
    case 422:
      return ErrorCode.Validation;
    case 429:
      return ErrorCode.RateLimited;
    case 499:
      return ErrorCode.Cancelled;
    case 504:
    case 408:
      return ErrorCode.Timeout;
    default:
      return status >= 500 ? ErrorCode.Unavailable : ErrorCode.BadRequest;
  }
}
