import { describe, expect, it } from 'vitest';
import { ErrorCode, errorCodeForHttpStatus } from './error-codes.js';
import { ErrorSanitizer } from './error-sanitizer.js';
import { isConnectionError, isOnexError, OnexError, toOnexError } from './onex-error.js';
import { parseWireError, toWireError, WIRE_CAUSE_DEPTH, type WireErrorCause } from './wire-error.js';

describe('wire shape', () => {
  it('round-trips through toWireError and parseWireError', () => {
    const e = new OnexError(ErrorCode.CircuitOpen, 'peer open', {
      correlationId: 'c9',
      retryAfterMs: 1500,
      context: { peer: 'payments' },
      details: [{ path: 'x', message: 'y' }],
    });
    const wire = JSON.parse(JSON.stringify(toWireError(e))) as unknown;
    const back = parseWireError(wire, 503);
    expect(back.code).toBe(ErrorCode.CircuitOpen);
    expect(back.message).toBe('peer open');
    expect(back.correlationId).toBe('c9');
    expect(back.retryAfterMs).toBe(1500);
    expect(back.retryable).toBe(true);
    expect(back.context).toEqual({ peer: 'payments' });
    expect(back.details).toEqual([{ path: 'x', message: 'y' }]);
  });

  it('never puts a foreign cause\'s message or, by default, the stack on the wire', () => {
    const e = new OnexError(ErrorCode.Internal, 'boom', { cause: new Error('secret cause') });
    const text = JSON.stringify(toWireError(e));
    expect(text).not.toContain('secret cause');
    expect(text).not.toContain('stack');
    expect(toWireError(e).error.cause).toEqual({ name: 'Error' });
    expect(JSON.stringify(toWireError(e, { exposeStack: true }))).toContain('stack');
  });

  it('applies the sanitizer to message and context', () => {
    const e = new OnexError(ErrorCode.Internal, 'token=abc', { context: { token: 'abc' } });
    const wire = toWireError(e, { sanitize: { text: (s) => s.replace('abc', '***'), value: () => ({ token: '***' }) } });
    expect(wire.error.message).toBe('token=***');
    expect(wire.error.context).toEqual({ token: '***' });
  });

  it('parses non-ONEX bodies by HTTP status', () => {
    expect(parseWireError('<html>', 502).code).toBe(ErrorCode.Unavailable);
    expect(parseWireError({ error: 'nope' }, 429).code).toBe(ErrorCode.RateLimited);
    expect(parseWireError({ error: { code: 'WEIRD', message: 'm' } }, 404).code).toBe(ErrorCode.NotFound);
    expect(errorCodeForHttpStatus(504)).toBe(ErrorCode.Timeout);
  });
});

/** The links of a wire cause chain, outermost first. */
function links(cause: WireErrorCause | undefined): WireErrorCause[] {
  const out: WireErrorCause[] = [];
  for (let link = cause; link !== undefined; link = link.cause) out.push(link);
  return out;
}

/** The links of an error's cause chain below it, outermost first. */
function causes(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let link = (error as { cause?: unknown }).cause; link !== undefined; link = (link as { cause?: unknown }).cause) out.push(link);
  return out;
}

describe('wire cause chain', () => {
  const sanitizer = new ErrorSanitizer();

  it('sends an OnexError cause chain with codes, retryability and sanitized messages', () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' });
    const db = new OnexError(ErrorCode.Unavailable, 'PostgreSQL unavailable: postgres://app:hunter2@db/ledger', { cause: socket });
    const top = new OnexError(ErrorCode.Internal, 'payment failed', { cause: db });
    const wire = toWireError(top, { sanitize: sanitizer.forWire });
    expect(wire.error.cause).toEqual({
      name: 'OnexError',
      code: ErrorCode.Unavailable,
      retryable: true,
      message: 'PostgreSQL unavailable: postgres://app:[REDACTED]@db/ledger',
      cause: { name: 'Error', code: 'ECONNREFUSED' },
    });
    expect(JSON.stringify(wire)).not.toContain('hunter2');
  });

  it('masks a secret in a foreign cause\'s message when foreign messages are exposed', () => {
    const foreign = new Error('login failed: password=hunter2 token=abcdef0123456789abcdef');
    const top = new OnexError(ErrorCode.Internal, 'Internal error', { cause: foreign });
    const hidden = toWireError(top, { sanitize: sanitizer.forWire });
    expect(hidden.error.cause).toEqual({ name: 'Error' });
    const shown = toWireError(top, { sanitize: sanitizer.forWire, exposeForeignMessages: true });
    expect(shown.error.cause?.message).toBe('login failed: password=[REDACTED] token=[REDACTED]');
    expect(JSON.stringify(shown)).not.toContain('hunter2');
    expect(toWireError(top, { sanitize: sanitizer.forWire, exposeStack: true }).error.cause?.message).toContain('password=[REDACTED]');
  });

  it('cuts a deep chain at the depth limit and marks it truncated', () => {
    let error: Error = new Error('root');
    for (let i = 0; i < 20; i++) error = new OnexError(ErrorCode.Internal, `level ${i}`, { cause: error });
    const sent = links(toWireError(error as OnexError).error.cause);
    expect(sent).toHaveLength(WIRE_CAUSE_DEPTH);
    expect(sent.map((l) => l.message)).toEqual(['level 18', 'level 17', 'level 16', 'level 15']);
    expect(sent.at(-1)?.truncated).toBe(true);
    expect(sent.slice(0, -1).every((l) => l.truncated === undefined)).toBe(true);
    expect(links(toWireError(error as OnexError, { maxCauseDepth: 2 }).error.cause)).toHaveLength(2);
    expect(toWireError(error as OnexError, { maxCauseDepth: 0 }).error.cause).toBeUndefined();
    expect(links(toWireError(error as OnexError, { maxCauseDepth: 1_000 }).error.cause)).toHaveLength(8);
    expect(links(toWireError(error as OnexError, { maxCauseDepth: Number.NaN }).error.cause)).toHaveLength(WIRE_CAUSE_DEPTH);
  });

  it('ends a cycle where it loops back, marked truncated', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    const top = new OnexError(ErrorCode.Internal, 'top', { cause: a });
    const sent = links(toWireError(top, { exposeForeignMessages: true }).error.cause);
    expect(sent.map((l) => l.message)).toEqual(['a', 'b']);
    expect(sent[1]?.truncated).toBe(true);

    const self = new OnexError(ErrorCode.Internal, 'self') as OnexError & { cause?: unknown };
    Object.defineProperty(self, 'cause', { value: self });
    expect(toWireError(self).error.cause).toBeUndefined();
  });

  it('bounds the size of every link', () => {
    const top = new OnexError(ErrorCode.Internal, 'top', { cause: new OnexError(ErrorCode.Internal, 'x'.repeat(50_000)) });
    const message = toWireError(top).error.cause?.message ?? '';
    expect(message.length).toBeLessThanOrEqual(1_001);
    expect(message.endsWith('…')).toBe(true);
    let deep: Error = new Error('y'.repeat(100_000));
    for (let i = 0; i < 50; i++) deep = new OnexError(ErrorCode.Internal, 'z'.repeat(100_000), { cause: deep });
    // Each link: a message of at most 1 000 characters (plus the ellipsis), a name and a code of at most 100.
    expect(JSON.stringify(toWireError(deep as OnexError, { exposeForeignMessages: true }).error.cause).length).toBeLessThan(WIRE_CAUSE_DEPTH * 1_300);
  });

  it('describes a thrown non-error as NonError', () => {
    const top = new OnexError(ErrorCode.Internal, 'top', { cause: 'raw string with password=hunter2' });
    expect(toWireError(top, { sanitize: sanitizer.forWire }).error.cause).toEqual({ name: 'NonError' });
    expect(toWireError(top, { sanitize: sanitizer.forWire, exposeForeignMessages: true }).error.cause).toEqual({
      name: 'NonError',
      message: 'raw string with password=[REDACTED]',
    });
  });

  it('parses the chain back into OnexError and Error causes', () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const db = new OnexError(ErrorCode.Unavailable, 'ledger down', { cause: socket, retryable: false });
    const top = new OnexError(ErrorCode.Internal, 'payment failed', { cause: db });
    const back = parseWireError(JSON.parse(JSON.stringify(toWireError(top))) as unknown, 500);
    const [first, second] = causes(back);
    expect(isOnexError(first)).toBe(true);
    expect((first as OnexError).code).toBe(ErrorCode.Unavailable);
    expect((first as OnexError).message).toBe('ledger down');
    expect((first as OnexError).retryable).toBe(false);
    expect(second).toBeInstanceOf(Error);
    expect(isOnexError(second)).toBe(false);
    expect((second as Error & { code?: unknown }).code).toBe('ECONNREFUSED');
    // Classification stops at the OnexError: a peer's dropped database connection is not the caller's dropped connection.
    expect(toOnexError(back)).toBe(back);
    expect(isConnectionError(second)).toBe(true);
  });

  it('parses whatever a peer sends into a bounded chain', () => {
    let cause: Record<string, unknown> = { name: 'Error', message: 'bottom' };
    for (let i = 0; i < 100; i++) cause = { name: 'OnexError', code: 'INTERNAL', retryable: false, message: 'm'.repeat(5_000), cause };
    const back = parseWireError({ error: { code: 'INTERNAL', message: 'top', retryable: false, cause } }, 500);
    const chain = causes(back);
    expect(chain).toHaveLength(8);
    expect((chain[0] as Error).message.length).toBeLessThanOrEqual(1_001);
    const odd = parseWireError({ error: { code: 'INTERNAL', message: 'top', retryable: false, cause: { name: 42, code: 'TIMEOUT' } } }, 500);
    const [link] = causes(odd);
    expect(isOnexError(link)).toBe(false); // no `retryable`: a foreign error whose code happens to spell an ONEX one
    expect((link as Error).name).toBe('Error');
    expect(causes(parseWireError({ error: { code: 'INTERNAL', message: 'top', cause: 'nope' } }, 500))).toEqual([]);
  });
});
