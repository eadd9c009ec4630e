import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../errors/error-codes.js';
import { ErrorSanitizer } from '../errors/error-sanitizer.js';
import { OnexError } from '../errors/onex-error.js';
import { childLogger, createLogger, createSilentLogger, type Logger } from './logger.js';

/** An in-memory destination: pino writes one JSON line per call. */
class MemoryStream extends Writable {
  readonly chunks: string[] = [];

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    callback();
  }

  get lines(): Record<string, unknown>[] {
    return this.chunks
      .join('')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  get text(): string {
    return this.chunks.join('');
  }
}

function setup(options: Parameters<typeof createLogger>[0] = {}): { logger: Logger; out: MemoryStream } {
  const out = new MemoryStream();
  return { logger: createLogger({ ...options, destination: out }), out };
}

describe('createLogger', () => {
  it('writes JSON lines with the name and level', () => {
    const { logger, out } = setup({ name: 'pricing', level: 'debug' });
    logger.debug('hello');
    expect(out.lines).toEqual([expect.objectContaining({ name: 'pricing', level: 20, msg: 'hello' })]);
  });

  it('takes the default level from ONEX_LOG_LEVEL', () => {
    const previous = process.env['ONEX_LOG_LEVEL'];
    process.env['ONEX_LOG_LEVEL'] = 'warn';
    try {
      expect(setup().logger.level).toBe('warn');
      expect(setup({ level: 'trace' }).logger.level).toBe('trace');
    } finally {
      if (previous === undefined) delete process.env['ONEX_LOG_LEVEL'];
      else process.env['ONEX_LOG_LEVEL'] = previous;
    }
    expect(setup().logger.level).toBe(previous ?? 'info');
  });

  it('redacts secrets at the default and extra redact paths', () => {
    const { logger, out } = setup({ redactPaths: ['order.card.number'] });
    logger.info(
      {
        password: 'p1',
        apiKey: 'k1',
        user: { name: 'ann', token: 't1' },
        req: { headers: { authorization: 'Bearer abc', cookie: 'sid=1', 'x-api-key': 'k2', accept: 'json' } },
        order: { id: 7, card: { number: '4111111111111111' } },
      },
      'request',
    );
    const [line] = out.lines;
    expect(line).toMatchObject({
      password: '[REDACTED]',
      apiKey: '[REDACTED]',
      user: { name: 'ann', token: '[REDACTED]' },
      req: { headers: { authorization: '[REDACTED]', cookie: '[REDACTED]', 'x-api-key': '[REDACTED]', accept: 'json' } },
      order: { id: 7, card: { number: '[REDACTED]' } },
    });
    for (const secret of ['p1', 'k1', 't1', 'abc', 'sid=1', 'k2', '4111111111111111']) expect(out.text).not.toContain(secret);
  });

  it('logs an error with a password in its message and cause sanitized', () => {
    const { logger, out } = setup();
    const cause = new Error('auth failed for postgres://app:hunter2@db/orders');
    const error = new OnexError(ErrorCode.Unavailable, 'db down: password=hunter2', {
      cause,
      context: { dbPassword: 'hunter2', host: 'db' },
    });
    logger.error({ err: error }, 'call failed');
    logger.error(error);
    logger.warn({ error: cause }, 'retrying');
    expect(out.text).not.toContain('hunter2');
    const [first, second, third] = out.lines;
    expect(first).toMatchObject({
      msg: 'call failed',
      err: {
        name: 'OnexError',
        code: 'UNAVAILABLE',
        message: 'db down: password=[REDACTED]',
        context: { dbPassword: '[REDACTED]', host: 'db' },
        cause: { name: 'Error', message: 'auth failed for postgres://app:[REDACTED]@db/orders' },
      },
    });
    // pino copies the error's message into msg when none is given: it must be the masked one.
    expect(second).toMatchObject({ msg: 'db down: password=[REDACTED]', err: { code: 'UNAVAILABLE' } });
    expect(third).toMatchObject({ error: { message: 'auth failed for postgres://app:[REDACTED]@db/orders' } });
  });

  it('masks secrets in the message string and in its printf arguments', () => {
    const { logger, out } = setup();
    logger.info('login with token=abc123 from ann@example.com');
    logger.info({ user: 'ann' }, 'connecting to %s with password=%s', 'db', 'hunter2');
    logger.info('%d%% done for %s', 50, 'Bearer xyz789');
    const messages = out.lines.map((line) => line['msg']);
    expect(messages).toEqual([
      'login with token=[REDACTED] from ann@example.com',
      'connecting to db with password=[REDACTED]',
      '50% done for Bearer [REDACTED]',
    ]);
    expect(out.text).not.toMatch(/abc123|hunter2|xyz789/);
  });

  it('masks every part of every line: fields at any depth, error context, msg in the object, child bindings', () => {
    const { logger, out } = setup();
    // Built from parts: a payments-style live key and a source-hosting token, as a hostile caller would send them.
    const live = ['sk', 'live', 'T3stK3y0nly4Th1sT3st0000'].join('_');
    const hosted = ['ghp', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'].join('_');
    logger.info({ path: `/v1/${live}`, body: { metadata: { [live]: 1 }, note: [`key ${hosted}`] } }, 'request');
    logger.warn({ msg: `unknown key ${live}` });
    logger.error({ err: new OnexError(ErrorCode.Validation, 'bad input', { context: { received: live }, details: [{ path: live }] }) }, 'failed');
    const child = logger.child({ correlationId: live });
    child.info('from the child');
    child.child({ peer: `https://ci:${hosted}@git.example.com` }).info('from the grandchild');
    childLogger(logger, { correlationId: hosted }).info('per call');
    expect(out.lines).toHaveLength(6);
    expect(out.text).not.toContain(live);
    expect(out.text).not.toContain(hosted);
    expect(out.lines[0]).toMatchObject({ path: '/v1/[REDACTED]', body: { metadata: { '[REDACTED]': 1 }, note: ['key [REDACTED]'] }, msg: 'request' });
    expect(out.lines[1]).toMatchObject({ msg: 'unknown key [REDACTED]' });
    expect(out.lines[3]).toMatchObject({ correlationId: '[REDACTED]', msg: 'from the child' });
    expect(out.lines[4]).toMatchObject({ correlationId: '[REDACTED]', peer: 'https://ci:[REDACTED]@git.example.com' });
  });

  it('keeps what pino makes of values JSON-safe, and redact paths still apply', () => {
    const { logger, out } = setup({ redactPaths: ['order.note'] });
    logger.info({ when: new Date('2024-01-02T03:04:05.000Z'), n: 12n, order: { id: 7, note: 'private' }, ['__proto__']: { x: 1 } }, 'values');
    expect(out.lines[0]).toMatchObject({ when: '2024-01-02T03:04:05.000Z', n: '12', order: { id: 7, note: '[REDACTED]' } });
  });

  it('uses the given sanitizer', () => {
    const sanitizer = new ErrorSanitizer({ patterns: [{ name: 'order', pattern: /ORD-\d+/g }], replacement: '***' });
    const { logger, out } = setup({ sanitizer });
    logger.info('order ORD-42 failed');
    logger.error(new Error('token=t'));
    expect(out.lines.map((line) => line['msg'])).toEqual(['order *** failed', 'token=***']);
  });

  it('rejects an unknown level', () => {
    expect(() => setup({ level: 'loud' })).toThrow();
  });
});

describe('childLogger', () => {
  it('binds the correlation id, node and operation to every line', () => {
    const { logger, out } = setup();
    const child = childLogger(logger, { correlationId: 'c-123', node: 'pricing', operation: 'quote' });
    child.info('one');
    childLogger(logger, { correlationId: 'c-456' }).warn({ password: 'p' }, 'two password=p');
    expect(out.lines).toEqual([
      expect.objectContaining({ correlationId: 'c-123', node: 'pricing', operation: 'quote', msg: 'one' }),
      expect.objectContaining({ correlationId: 'c-456', password: '[REDACTED]', msg: 'two password=[REDACTED]' }),
    ]);
    expect(out.lines[1]).not.toHaveProperty('node');
  });
});

describe('createSilentLogger', () => {
  it('writes nothing', () => {
    const logger = createSilentLogger();
    expect(logger.level).toBe('silent');
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      logger.fatal('boom');
      logger.error(new Error('x'));
      childLogger(logger, { correlationId: 'c' }).info('y');
      expect(stdout).not.toHaveBeenCalled();
    } finally {
      stdout.mockRestore();
    }
  });
});
