import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode, errorCodeInfo, isErrorCode } from './error-codes.js';
import { isConnectionError, isOnexError, isUnclassifiedError, OnexError, toOnexError, abortReasonToOnexError } from './onex-error.js';

describe('OnexError', () => {
  it('derives status and retryability from its code', () => {
    const e = new OnexError(ErrorCode.Timeout, 'slow');
    expect(e.httpStatus).toBe(504);
    expect(e.retryable).toBe(true);
    expect(new OnexError(ErrorCode.Validation, 'bad').retryable).toBe(false);
    expect(new OnexError(ErrorCode.Internal, 'x', { retryable: true }).retryable).toBe(true);
  });

  it('every code has a status and a retryable flag', () => {
    for (const code of Object.values(ErrorCode)) {
      const info = errorCodeInfo(code);
      expect(info.httpStatus).toBeGreaterThanOrEqual(400);
      expect(typeof info.retryable).toBe('boolean');
      expect(isErrorCode(code)).toBe(true);
    }
    expect(isErrorCode('NOPE')).toBe(false);
  });

  it('is recognised across copies of the package through its Symbol.for brand', () => {
    const foreign = Object.create(Error.prototype) as Record<symbol, unknown>;
    Object.defineProperty(foreign, Symbol.for('@onex/core/OnexError'), { value: true });
    expect(isOnexError(foreign)).toBe(true);
    expect(foreign instanceof OnexError).toBe(true);
    expect(isOnexError(new Error('plain'))).toBe(false);
    expect(isOnexError(null)).toBe(false);
  });

  it('keeps the cause and carries a correlation id', () => {
    const cause = new Error('root');
    const e = new OnexError(ErrorCode.Unavailable, 'down', { cause, correlationId: 'c1', context: { peer: 'x' } });
    expect(e.cause).toBe(cause);
    const copy = e.withCorrelationId('c2');
    expect(copy.correlationId).toBe('c2');
    expect(copy.code).toBe(ErrorCode.Unavailable);
    expect(copy.context).toEqual({ peer: 'x' });
  });
});

describe('toOnexError', () => {
  it('passes OnexError through, adding a missing correlation id', () => {
    const e = new OnexError(ErrorCode.NotFound, 'missing');
    expect(toOnexError(e)).toBe(e);
    expect(toOnexError(e, { correlationId: 'c' }).correlationId).toBe('c');
  });

  it('maps zod errors to VALIDATION with details naming the path', () => {
    const r = z.object({ a: z.object({ b: z.number() }) }).safeParse({ a: { b: 'x' } });
    expect(r.success).toBe(false);
    const e = toOnexError(r.error);
    expect(e.code).toBe(ErrorCode.Validation);
    expect(e.message).toContain('a.b');
    expect(e.details).toEqual([expect.objectContaining({ path: 'a.b' })]);
  });

  it('maps aborts, timeouts and connection errors', () => {
    expect(toOnexError(new DOMException('x', 'AbortError')).code).toBe(ErrorCode.Cancelled);
    expect(toOnexError(new DOMException('x', 'TimeoutError')).code).toBe(ErrorCode.Timeout);
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const e = toOnexError(reset);
    expect(e.code).toBe(ErrorCode.Unavailable);
    expect(e.retryable).toBe(true);
  });

  it('maps objects carrying an HTTP status', () => {
    expect(toOnexError({ status: 503 }).code).toBe(ErrorCode.Unavailable);
    expect(toOnexError({ statusCode: 429 }).retryable).toBe(true);
    expect(toOnexError(Object.assign(new Error('x'), { status: 404 })).code).toBe(ErrorCode.NotFound);
  });

  it('keeps prototype instanceof semantics for subclasses', () => {
    class RichError extends OnexError {}
    expect(new OnexError(ErrorCode.Internal, 'x') instanceof RichError).toBe(false);
    expect(new RichError(ErrorCode.Internal, 'x') instanceof RichError).toBe(true);
    expect(new RichError(ErrorCode.Internal, 'x') instanceof OnexError).toBe(true);
  });

  it('hides the message of unknown failures behind INTERNAL', () => {
    const e = toOnexError(new Error('db password=hunter2 failed'));
    expect(e.code).toBe(ErrorCode.Internal);
    expect(e.message).toBe('Internal error');
    expect(toOnexError('a string').code).toBe(ErrorCode.Internal);
  });

  it('turns an abort signal reason into TIMEOUT or CANCELLED', () => {
    const c1 = new AbortController();
    c1.abort(new DOMException('late', 'TimeoutError'));
    expect(abortReasonToOnexError(c1.signal).code).toBe(ErrorCode.Timeout);
    const c2 = new AbortController();
    c2.abort();
    expect(abortReasonToOnexError(c2.signal).code).toBe(ErrorCode.Cancelled);
  });
});

describe('issue 9 #10: transient causes stay retryable', () => {
  it("classifies Node fetch's TypeError('fetch failed') by its ECONNREFUSED cause: a retryable UNAVAILABLE", () => {
    const thrown = new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    const e = toOnexError(thrown, { correlationId: 'c' });
    expect(e.code).toBe(ErrorCode.Unavailable);
    expect(e.retryable).toBe(true);
    expect(e.cause).toBe(thrown);
    expect(e.correlationId).toBe('c');
    expect(isConnectionError(thrown)).toBe(true);
  });

  it('follows the cause chain to timeouts, aborts, HTTP statuses and typed errors', () => {
    const wrap = (cause: unknown, depth = 1): unknown => {
      let error = cause;
      for (let i = 0; i < depth; i++) error = new Error(`wrapper ${String(i)}`, { cause: error });
      return error;
    };
    expect(toOnexError(wrap(new DOMException('late', 'TimeoutError'))).code).toBe(ErrorCode.Timeout);
    expect(toOnexError(wrap(Object.assign(new Error('t'), { code: 'ETIMEDOUT' }))).code).toBe(ErrorCode.Timeout);
    expect(toOnexError(wrap(new DOMException('stop', 'AbortError'))).code).toBe(ErrorCode.Cancelled);
    const abortedByTimeout = new DOMException('aborted', 'AbortError') as DOMException & { cause?: unknown };
    Object.defineProperty(abortedByTimeout, 'cause', { value: new DOMException('late', 'TimeoutError') });
    expect(toOnexError(wrap(abortedByTimeout)).code).toBe(ErrorCode.Timeout);
    expect(toOnexError(wrap({ status: 503 }, 3))).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });
    expect(toOnexError(wrap({ statusCode: 404 }))).toMatchObject({ code: ErrorCode.NotFound, retryable: false });
    const typed = new OnexError(ErrorCode.RateLimited, 'slow down', { retryAfterMs: 250, context: { peer: 'p' } });
    expect(toOnexError(wrap(typed))).toMatchObject({ code: ErrorCode.RateLimited, message: 'slow down', retryable: true, retryAfterMs: 250, context: { peer: 'p' } });
  });

  it('marks the INTERNAL made of an unclassified value, and only that one; copies keep the mark', () => {
    const unknown = toOnexError(new Error('boom'));
    expect(unknown.code).toBe(ErrorCode.Internal);
    expect(isUnclassifiedError(unknown)).toBe(true);
    expect(isUnclassifiedError(unknown.withCorrelationId('c2'))).toBe(true);
    expect(isUnclassifiedError(toOnexError(unknown, { correlationId: 'c3' }))).toBe(true);
    expect(isUnclassifiedError(toOnexError(new Error('wrapper', { cause: unknown })))).toBe(true);
    expect(isUnclassifiedError(new OnexError(ErrorCode.Internal, 'ledger out of balance'))).toBe(false);
    expect(isUnclassifiedError(toOnexError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })))).toBe(false);
    expect(isUnclassifiedError(new Error('not an OnexError'))).toBe(false);
  });

  it('stops at a bounded depth and on cycles', () => {
    let deep: unknown = { code: 'ECONNRESET' };
    for (let i = 0; i < 20; i++) deep = new Error('layer', { cause: deep });
    expect(toOnexError(deep).code).toBe(ErrorCode.Internal);
    expect(isConnectionError(deep)).toBe(false);
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(toOnexError(a).code).toBe(ErrorCode.Internal);
    expect(isConnectionError(a)).toBe(false);
    expect(toOnexError(new Error('plain', { cause: new Error('still plain') })).code).toBe(ErrorCode.Internal);
  });
});
