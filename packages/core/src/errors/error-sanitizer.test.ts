import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from './error-codes.js';
import { ErrorSanitizer, createSanitizer, type SanitizedError } from './error-sanitizer.js';
import { SanitizerPreset } from './sanitizer-rules.js';
import { OnexError } from './onex-error.js';
import { toWireError } from './wire-error.js';

const R = '[REDACTED]';
const sanitizer = new ErrorSanitizer();
const strict = new ErrorSanitizer({ preset: SanitizerPreset.Strict });
const lenient = new ErrorSanitizer({ preset: SanitizerPreset.Lenient });
const withPii = new ErrorSanitizer({ pii: true });

describe('ErrorSanitizer.sanitizeText — default preset', () => {
  it.each([
    ['password=hunter2 user=bob', 'password=[REDACTED] user=bob'],
    ['pwd: abc123', 'pwd: [REDACTED]'],
    ['dbPassword=x1 DB_PASSWORD=x2 client_secret=x3', 'dbPassword=[REDACTED] DB_PASSWORD=[REDACTED] client_secret=[REDACTED]'],
    ['x-api-key: k-123 apiKey=k2 API_KEY=k3', 'x-api-key: [REDACTED] apiKey=[REDACTED] API_KEY=[REDACTED]'],
    ['access_token=abc&refresh_token=def&page=2', 'access_token=[REDACTED]&refresh_token=[REDACTED]&page=2'],
    ['{"password":"s3 cr\\"et","user":"x"}', '{"password":"[REDACTED]","user":"x"}'],
    ['{"token": null}', '{"token": [REDACTED]}'],
    ["{ password: 'abc', secret: 'xyz' }", "{ password: '[REDACTED]', secret: '[REDACTED]' }"],
    ['{\\"token\\":\\"abc\\"}', '{\\"token\\":\\"[REDACTED]\\"}'],
    ['"password":"cut off mid-va', '"password":"[REDACTED]'],
    ['Server=db;User Id=sa;Password=Pa55;', 'Server=db;User Id=sa;Password=[REDACTED];'],
  ])('masks key/value secrets: %s', (input, expected) => {
    expect(sanitizer.sanitizeText(input)).toBe(expected);
  });

  it.each([
    ['Authorization: Bearer abc.def-ghi', 'Authorization: Bearer [REDACTED]'],
    ['authorization: Basic dXNlcjpwYXNz', 'authorization: Basic [REDACTED]'],
    ['sent Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln', 'sent Bearer [REDACTED]'],
    ['header was Basic YWxhZGRpbjpvcGVuc2VzYW1l', 'header was Basic [REDACTED]'],
    ['Basic usage of the API', 'Basic usage of the API'],
  ])('masks auth headers: %s', (input, expected) => {
    expect(sanitizer.sanitizeText(input)).toBe(expected);
  });

  it.each([
    ['postgres://app:hunter2@db:5432/orders', 'postgres://app:[REDACTED]@db:5432/orders'],
    ['mongodb+srv://admin:p%40ss@cluster0.example.net/x', 'mongodb+srv://admin:[REDACTED]@cluster0.example.net/x'],
    ['redis://:s3cret@cache:6379', 'redis://:[REDACTED]@cache:6379'],
    ['amqp://u:p@ss:w@rd@mq/vhost', 'amqp://u:[REDACTED]@mq/vhost'],
    ['http://host:8080/path?q=1', 'http://host:8080/path?q=1'],
  ])('masks connection-string passwords: %s', (input, expected) => {
    expect(sanitizer.sanitizeText(input)).toBe(expected);
  });

  it('masks AWS access key ids and secret keys', () => {
    expect(sanitizer.sanitizeText('id AKIAIOSFODNN7EXAMPLE used')).toBe(`id ${R} used`);
    expect(sanitizer.sanitizeText('aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')).toBe(
      `aws_secret_access_key=${R}`,
    );
  });

  it('masks multi-line PEM private keys, also truncated ones', () => {
    const pem = ['-----BEGIN RSA PRIVATE KEY-----', 'MIIEow-IBAAKCAQEA', 'Proc-Type: 4,ENCRYPTED', 'abc/+=', '-----END RSA PRIVATE KEY-----'];
    expect(sanitizer.sanitizeText(`key:\n${pem.join('\n')}\ndone`)).toBe(`key:\n${R}\ndone`);
    expect(sanitizer.sanitizeText('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA')).toBe(R);
    expect(sanitizer.sanitizeText('-----BEGIN PUBLIC KEY-----\nMFkwEw')).toBe('-----BEGIN PUBLIC KEY-----\nMFkwEw');
  });

  it('masks JWTs', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    expect(sanitizer.sanitizeText(`jwt was ${jwt}.`)).toBe(`jwt was ${R}.`);
    expect(sanitizer.sanitizeText('unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. ok')).toBe(`unsigned ${R} ok`);
  });

  it('masks long hex/base64 tokens after token/key/secret words', () => {
    expect(sanitizer.sanitizeText('using token 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c')).toBe(`using token ${R}`);
    expect(sanitizer.sanitizeText('the api key is Zm9vYmFyYmF6cXV4MTIzNDU2')).toBe(`the api key is ${R}`);
    expect(sanitizer.sanitizeText('secrets "c2VjcmV0c2VjcmV0c2VjcmV0MQ=="')).toBe(`secrets "${R}"`);
    expect(sanitizer.sanitizeText('the key insight')).toBe('the key insight');
  });

  it('leaves emails alone unless personal data is asked for', () => {
    expect(sanitizer.sanitizeText('mail alice.o+x@mail.example.co.uk now')).toBe('mail alice.o+x@mail.example.co.uk now');
    expect(withPii.sanitizeText('mail alice.o+x@mail.example.co.uk now')).toBe(`mail ${R} now`);
  });

  it.each([
    ['card 4111 1111 1111 1111 declined', `card ${R} declined`],
    ['card 5555-5555-5555-4444', `card ${R}`],
    ['amex 3782 822463 10005.', `amex ${R}.`],
    ['{"pan":"4242424242424242"}', `{"pan":"${R}"}`],
    ['path metadata.4111111111111111', `path metadata.${R}`],
    ['order 4111 1111 1111 1112 (fails Luhn)', 'order 4111 1111 1111 1112 (fails Luhn)'],
    ['at 1733241600000 ms', 'at 1733241600000 ms'],
    ['pi is 3.1415926535897932384', 'pi is 3.1415926535897932384'],
  ])('masks payment card numbers that pass the Luhn check, with or without separators: %s', (input, expected) => {
    expect(sanitizer.sanitizeText(input)).toBe(expected);
    expect(lenient.sanitizeText(input)).toBe(expected);
  });

  it.each([
    ['at /home/alice/project/x.ts:1:2', 'at /home/[USER]/project/x.ts:1:2'],
    ['/Users/carol', '/Users/[USER]'],
    ['C:\\Users\\bob\\app\\main.js', 'C:\\Users\\[USER]\\app\\main.js'],
    ['"C:\\\\Users\\\\bob\\\\x"', '"C:\\\\Users\\\\[USER]\\\\x"'],
    ['file:///home/dave/x', 'file:///home/[USER]/x'],
    ['GET https://site.example/home/about', 'GET https://site.example/home/about'],
  ])('hides the user name in home paths: %s', (input, expected) => {
    expect(sanitizer.sanitizeText(input)).toBe(expected);
  });

  it.each([
    ['peer 10.0.0.1:5432 down', `peer ${R}:5432 down`],
    ['from 192.168.1.255.', `from ${R}.`],
    ['v6 2001:0db8:85a3:0000:0000:8a2e:0370:7334 here', `v6 ${R} here`],
    ['loopback ::1 and [fe80::1ff:fe23:4567:890a%eth0]:80', `loopback ${R} and [${R}]:80`],
    ['mapped ::ffff:10.1.2.3', `mapped ::ffff:${R}`],
    ['not ips: 12:34:56 256.1.1.1 std::vector Foo::bar 1.2.3', 'not ips: 12:34:56 256.1.1.1 std::vector Foo::bar 1.2.3'],
  ])('masks IP addresses: %s', (input, expected) => {
    expect(sanitizer.sanitizeText(input)).toBe(expected);
  });

  it('leaves ordinary text alone and returns short identifiers untouched', () => {
    const text = 'order 42 shipped to warehouse B in 3 days (ETA 2024-01-15)';
    expect(sanitizer.sanitizeText(text)).toBe(text);
    expect(sanitizer.sanitizeText('')).toBe('');
    expect(sanitizer.sanitizeText('GET')).toBe('GET');
  });

  it('uses the configured replacement', () => {
    const s = new ErrorSanitizer({ replacement: '***' });
    expect(s.sanitizeText('password=x token: y')).toBe('password=*** token: ***');
  });

  it('truncates long strings without showing half a secret', () => {
    const s = new ErrorSanitizer({ maxStringLength: 20 });
    const out = s.sanitizeText(`aaaa bbbb cccc AKIAIOSFODNN7EXAMPLE tail`);
    expect(out).toMatch(/^aaaa bbbb cccc …\[truncated \d+ chars\]$/);
    expect(out).not.toContain('AKIA');
  });
});

describe('presets', () => {
  it('strict also masks long random tokens and 12+ digit numbers', () => {
    const token = 'q8Zr3kP0vX2mN5bT7yW1cL4hJ6dF9sG0aE';
    expect(strict.sanitizeText(`id ${token} ok`)).toBe(`id ${R} ok`);
    expect(sanitizer.sanitizeText(`id ${token} ok`)).toBe(`id ${token} ok`);
    expect(strict.sanitizeText('card 4111 1111 1111 1112 and 123456789012')).toBe(`card ${R} and ${R}`);
    expect(sanitizer.sanitizeText('card 4111 1111 1111 1112 and 123456789012')).toBe('card 4111 1111 1111 1112 and 123456789012');
    expect(strict.sanitizeText('order 12345678901 is 11 digits')).toBe('order 12345678901 is 11 digits');
  });

  it('strict masks more object keys', () => {
    expect(strict.sanitizeValue({ pin: '1234', cvv: '123', shipping: 'fast' })).toEqual({ pin: R, cvv: R, shipping: 'fast' });
  });

  it('lenient masks credentials only, not emails, paths or IPs', () => {
    const text = 'ann@example.com at /home/ann from 10.0.0.1 password=x Bearer abc postgres://u:p@h';
    expect(lenient.sanitizeText(text)).toBe(
      `ann@example.com at /home/ann from 10.0.0.1 password=${R} Bearer ${R} postgres://u:${R}@h`,
    );
  });

  it('createSanitizer builds a fresh sanitizer for a preset', () => {
    expect(createSanitizer()).not.toBe(createSanitizer());
    expect(createSanitizer('lenient').sanitizeText('10.0.0.1')).toBe('10.0.0.1');
    expect(createSanitizer().sanitizeText('10.0.0.1')).toBe(R);
    expect(createSanitizer('strict').sanitizeText('a@b.io')).toBe(R);
  });

  it('rejects invalid limits', () => {
    expect(() => new ErrorSanitizer({ maxDepth: -1 })).toThrow(RangeError);
    expect(() => new ErrorSanitizer({ maxStringLength: 0 })).toThrow(RangeError);
    expect(() => new ErrorSanitizer({ maxEntries: 1.5 })).toThrow(RangeError);
  });
});

describe('personal data (the pii option)', () => {
  it.each([
    ['call +49 30 1234 5678 now', `call ${R} now`],
    ['call +1-202-555-0143.', `call ${R}.`],
    ['call (202) 555-0143', `call ${R}`],
    ['pay DE89 3704 0044 0532 0130 00 today', `pay ${R} today`],
    ['pay GB82WEST12345698765432', `pay ${R}`],
    ['mail ann@example.com', `mail ${R}`],
  ])('masks phone numbers, IBANs and emails: %s', (input, expected) => {
    expect(withPii.sanitizeText(input)).toBe(expected);
    expect(strict.sanitizeText(input)).toBe(expected);
    expect(sanitizer.sanitizeText(input)).toBe(input);
  });

  it.each([
    'build 2.0.0-rc.1+build.5',
    'at 2024-01-15T10:00:00+01:00',
    'isbn 978-3-16-148410-0',
    'ref DE88 3704 0044 0532 0130 00',
    'order 0301234567',
  ])('leaves what only looks like them alone: %s', (input) => {
    expect(withPii.sanitizeText(input)).toBe(input);
  });

  it('takes a list of kinds, and masks the keys of the kinds it masks', () => {
    const ibanOnly = new ErrorSanitizer({ pii: ['iban'] });
    expect(ibanOnly.sanitizeText('DE89370400440532013000 ann@example.com')).toBe(`${R} ann@example.com`);
    expect(ibanOnly.sanitizeValue({ iban: 'x', email: 'y', phone: 'z' })).toEqual({ iban: R, email: 'y', phone: 'z' });
    expect(withPii.sanitizeValue({ email: 'y', phoneNumber: 'z', note: 'n' })).toEqual({ email: R, phoneNumber: R, note: 'n' });
    expect(new ErrorSanitizer({ pii: false }).sanitizeText('ann@example.com')).toBe('ann@example.com');
  });
});

describe('custom patterns', () => {
  it('masks whole matches with the replacement by default, all occurrences even without the g flag', () => {
    const s = new ErrorSanitizer({ patterns: [{ name: 'order', pattern: /ORD-\d{4}/ }] });
    expect(s.sanitizeText('ORD-1234 and ORD-5678')).toBe(`${R} and ${R}`);
  });

  it('supports $-references, functions with groups, and flags', () => {
    const s = new ErrorSanitizer({
      patterns: [
        { name: 'iban', pattern: /\b([A-Z]{2})\d{2}[A-Z0-9]{10,30}\b/g, replacement: '$1**' },
        { name: 'ticket', pattern: /ticket-(\d+)-(\w+)/i, replacement: (_m, id, tag) => `ticket-${id}-${tag.length}` },
      ],
    });
    expect(s.sanitizeText('pay DE89370400440532013000 for TICKET-7-abc')).toBe('pay DE** for ticket-7-3');
  });

  it('runs before the preset rules and survives a throwing replacement function', () => {
    const s = new ErrorSanitizer({
      patterns: [
        { name: 'boom', pattern: /boom/, replacement: () => { throw new Error('bad'); } },
        { name: 'host', pattern: /db\.internal/, replacement: 'db.[HOST]' },
      ],
    });
    expect(s.sanitizeText('boom at db.internal from 10.1.2.3')).toBe(`${R} at db.[HOST] from ${R}`);
  });
});

describe('ErrorSanitizer.sanitizeValue', () => {
  it('masks sensitive keys in nested objects and arrays, leaving other data intact', () => {
    const input = {
      user: 'ann',
      dbPassword: 'p1',
      headers: { Authorization: 'Bearer t', 'x-api-key': 'k', 'Set-Cookie': ['a=b'], accept: 'json' },
      items: [{ client_secret: 's', id: 1 }, { note: 'password=p2', nested: [{ sessionId: 'sid' }] }],
      credentials: { user: 'u', pass: 'p' },
      privateKey: undefined,
      token: null,
      count: 3,
      ok: true,
    };
    expect(sanitizer.sanitizeValue(input)).toEqual({
      user: 'ann',
      dbPassword: R,
      headers: { Authorization: R, 'x-api-key': R, 'Set-Cookie': R, accept: 'json' },
      items: [{ client_secret: R, id: 1 }, { note: `password=${R}`, nested: [{ sessionId: R }] }],
      credentials: R,
      privateKey: undefined,
      token: null,
      count: 3,
      ok: true,
    });
    expect(input.dbPassword).toBe('p1');
  });

  it('adds custom sensitive keys (strings ignore case and separators, RegExps match as written)', () => {
    const s = new ErrorSanitizer({ sensitiveKeys: ['socialSecurity', /^X-Internal-/] });
    expect(s.sanitizeValue({ social_security_no: '1', 'X-Internal-Id': '2', 'x-internal-id': '3' })).toEqual({
      social_security_no: R,
      'X-Internal-Id': R,
      'x-internal-id': '3',
    });
  });

  it('marks cycles, but copies shared references', () => {
    const shared = { v: 1 };
    const a: Record<string, unknown> = { shared, again: shared };
    a['self'] = a;
    const list: unknown[] = [1];
    list.push(list);
    expect(sanitizer.sanitizeValue(a)).toEqual({ shared: { v: 1 }, again: { v: 1 }, self: '[Circular]' });
    expect(sanitizer.sanitizeValue(list)).toEqual([1, '[Circular]']);
  });

  it('stops at maxDepth', () => {
    const s = new ErrorSanitizer({ maxDepth: 2 });
    expect(s.sanitizeValue({ a: { b: { c: 1 } }, x: 'y' })).toEqual({ a: { b: '[MaxDepth]' }, x: 'y' });
    expect(new ErrorSanitizer({ maxDepth: 0 }).sanitizeValue({ a: 1 })).toBe('[MaxDepth]');
  });

  it('bounds the entries copied per container', () => {
    const s = new ErrorSanitizer({ maxEntries: 2 });
    expect(s.sanitizeValue([1, 2, 3, 4])).toEqual([1, 2, '[2 more items]']);
    expect(s.sanitizeValue({ a: 1, b: 2, c: 3 })).toEqual({ a: 1, b: 2, '[more]': '1 more entries' });
  });

  it('turns Map, Set, Date, binary data, bigint, symbols, functions and URLs into JSON-safe values', () => {
    const out = sanitizer.sanitizeValue({
      map: new Map<unknown, unknown>([['apiKey', 'k'], ['mail', 'a@b.io'], [1, 'one']]),
      set: new Set(['x', 'token=t']),
      date: new Date('2024-01-02T03:04:05.000Z'),
      bad: new Date(Number.NaN),
      buf: Buffer.from('password=secret'),
      bytes: new Uint8Array(3),
      big: 123n,
      sym: Symbol('s'),
      fn: function handler() {},
      url: new URL('https://ann:hunter2@example.com/x'),
      re: /password=abc/,
    });
    expect(out).toEqual({
      map: { apiKey: R, mail: 'a@b.io', '1': 'one' },
      set: ['x', `token=${R}`],
      date: '2024-01-02T03:04:05.000Z',
      bad: 'Invalid Date',
      buf: '[Binary: 15 bytes]',
      bytes: '[Binary: 3 bytes]',
      big: '123',
      sym: 'Symbol(s)',
      fn: '[Function handler]',
      url: `https://ann:${R}@example.com/x`,
      re: `/password=${R}`,
    });
    expect(JSON.stringify(out)).toBeTypeOf('string');
  });

  it('never throws, even on hostile objects', () => {
    const hostile = new Proxy({}, { ownKeys: () => { throw new Error('no keys'); } });
    const getter = Object.defineProperty({ ok: 1 }, 'bad', { enumerable: true, get: () => { throw new Error('no'); } });
    expect(sanitizer.sanitizeValue({ hostile, getter })).toEqual({ hostile: '[Unreadable]', getter: { ok: 1, bad: '[Unreadable]' } });
  });

  it('keeps a __proto__ key as data', () => {
    const input = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as unknown;
    const out = sanitizer.sanitizeValue(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'a']);
  });
});

describe('ErrorSanitizer.sanitizeError', () => {
  it('sanitizes message, stack and the cause chain', () => {
    const root = new Error('connect postgres://app:hunter2@10.0.0.5/db failed');
    const mid = new Error('query failed: password=hunter2', { cause: root });
    const top = new TypeError('wrapper', { cause: mid });
    const out = sanitizer.sanitizeError(top);
    expect(out.name).toBe('TypeError');
    expect(out.message).toBe('wrapper');
    const cause = out.cause as SanitizedError;
    expect(cause.message).toBe(`query failed: password=${R}`);
    expect((cause.cause as SanitizedError).message).toBe(`connect postgres://app:${R}@${R}/db failed`);
    expect(JSON.stringify(out)).not.toContain('hunter2');
    expect(out.stack).toContain('wrapper');
  });

  it('includes the code, context and details of an OnexError, sanitized', () => {
    const error = new OnexError(ErrorCode.Validation, 'bad token=abc', {
      context: { apiKey: 'k', email: 'ann@example.com', orderId: 7 },
      details: [{ path: 'password', message: 'password: hunter2 is too short' }],
      cause: 'token: raw-string-cause',
    });
    const out = sanitizer.sanitizeError(error);
    expect(out).toMatchObject({
      name: 'OnexError',
      code: 'VALIDATION',
      message: `bad token=${R}`,
      context: { apiKey: R, email: 'ann@example.com', orderId: 7 },
      details: [{ path: 'password', message: `password: ${R} is too short` }],
      cause: `token: ${R}`,
    });
  });

  it('includes AggregateError.errors and foreign error fields', () => {
    const sys = Object.assign(new Error('connect ECONNREFUSED 10.1.1.1:5432'), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
      address: '10.1.1.1',
      port: 5432,
    });
    const out = sanitizer.sanitizeError(new AggregateError([sys, 'secret=s'], 'all failed'));
    expect(out.errors).toEqual([
      expect.objectContaining({
        message: `connect ECONNREFUSED ${R}:5432`,
        code: 'ECONNREFUSED',
        context: { syscall: 'connect', address: R, port: 5432 },
      }),
      `secret=${R}`,
    ]);
  });

  it('cuts cause cycles and bounds the chain length', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const out = sanitizer.sanitizeError(a);
    expect(((out.cause as SanitizedError).cause as SanitizedError).message).toBe('[Circular]');

    let chain: Error = new Error('e0');
    for (let i = 1; i <= 20; i++) chain = new Error(`e${i}`, { cause: chain });
    let node: unknown = new ErrorSanitizer({ maxDepth: 3 }).sanitizeError(chain);
    const messages: string[] = [];
    while (typeof node === 'object' && node !== null) {
      messages.push((node as SanitizedError).message);
      node = (node as SanitizedError).cause;
    }
    expect(messages).toEqual(['e20', 'e19', 'e18', 'e17']);
    expect(node).toBe('[MaxDepth]');
  });

  it('describes thrown non-errors and error-like objects', () => {
    expect(sanitizer.sanitizeError('password=x')).toEqual({ name: 'NonError', message: `password=${R}` });
    expect(sanitizer.sanitizeError({ token: 't', n: 1 })).toEqual({
      name: 'NonError',
      message: 'Non-error value thrown (Object)',
      context: { token: R, n: 1 },
    });
    expect(sanitizer.sanitizeError(undefined)).toEqual({ name: 'NonError', message: 'Non-error value thrown (undefined)' });
    expect(sanitizer.sanitizeError({ name: 'RemoteError', message: 'pwd=1' })).toEqual({ name: 'RemoteError', message: `pwd=${R}` });
  });

  it('never throws on hostile errors', () => {
    const error = new Error('x');
    Object.defineProperty(error, 'message', { get: () => { throw new Error('boom'); } });
    expect(() => sanitizer.sanitizeError(error)).not.toThrow();
    expect(sanitizer.sanitizeError(new Proxy(new Error('p'), { has: () => { throw new Error('no'); } }))).toMatchObject({ name: 'Error' });
  });

  it('plugs into toWireError via forWire', () => {
    const error = new OnexError(ErrorCode.BadRequest, 'token=abc rejected', { context: { password: 'p', id: 1 } });
    const wire = toWireError(error, { sanitize: sanitizer.forWire });
    expect(wire.error.message).toBe(`token=${R} rejected`);
    expect(wire.error.context).toEqual({ password: R, id: 1 });
    const { text } = sanitizer.forWire;
    expect(text('pwd=1')).toBe(`pwd=${R}`);
  });
});

describe('performance', () => {
  // Strict: every rule of every source, personal data included.
  const big = new ErrorSanitizer({ preset: 'strict', maxStringLength: 1_000_000 });
  const SIZE = 100_000;
  const fill = (unit: string): string => unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);

  it.each([
    'a',
    '1',
    '1 ',
    'eyJ',
    'eyJa.',
    'password=',
    'password',
    'token ',
    'x://u:',
    '-----BEGIN PRIVATE KEY-----',
    'a@',
    'a.',
    '1.',
    '1.1.',
    'a:',
    '1:',
    'Basic ',
    'Bearer ',
    '/home/',
    '"password":"\\',
    '-',
    '+/',
    '+1',
    '+1 ',
    '+12345678901234567890',
    '(202) ',
    'DE00',
    'DE00 ',
    '4111 ',
    '4-',
    'sk_live_a',
    'EAA',
    'AccountKey=',
    'sig=',
    '123456789:AA',
    'Ma',
    'MTIz.',
    'https://a.',
    'https://x.webhook.office.com/',
    'ghp_',
    'xoxb-1-',
    '0123456789abcdef',
  ])('handles a 100 KB run of %j in linear time', (unit) => {
    const text = fill(unit);
    const started = performance.now();
    big.sanitizeText(text);
    big.sanitizeText(`${text}!`);
    // Linear is milliseconds; catastrophic backtracking on 100 KB is hours. The bound only tells the two apart.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('sanitizes a typical log line quickly', () => {
    const line = 'call failed for order 42: upstream http://inventory:8080/items returned 503 after 3 retries';
    const started = performance.now();
    for (let i = 0; i < 2_000; i++) sanitizer.sanitizeText(line);
    // A guard against a pathological (e.g. quadratic) pattern, not a speed figure: bench/ measures the cost.
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Property tests: planted secrets never survive. Filler text is lower-case letters and punctuation only,
// while every secret carries a digit or an upper-case letter in each fragment we look for, so a fragment
// can only show up in the output if it leaked.
// ---------------------------------------------------------------------------------------------------------

interface Planted {
  /** The text to plant. */
  readonly text: string;
  /** Substrings that must not appear in the output. */
  readonly fragments: readonly string[];
  /** True when the lenient preset must mask it too. */
  readonly credential: boolean;
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const HEX = '0123456789abcdef';
const B64URL = `${LOWER}${UPPER}${DIGITS}-_`;

const chars = (alphabet: string, minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength });

/** A random string that has an upper-case letter and a digit: it cannot occur in the filler. */
const marked = (alphabet: string, minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc
    .tuple(chars(UPPER, 1, 1), chars(DIGITS, 1, 1), chars(alphabet, minLength, maxLength))
    .chain(([u, d, rest]) => fc.shuffledSubarray([...`${u}${d}${rest}`], { minLength: rest.length + 2 }).map((a) => a.join('')));

const passwordChars = `${LOWER}${UPPER}${DIGITS}!#$%^*()_+-~.`;
const password = marked(passwordChars, 8, 20);

const keyValueSecret: fc.Arbitrary<Planted> = fc
  .tuple(
    fc.constantFrom('password', 'Password', 'dbPassword', 'DB_PASSWORD', 'pwd', 'client_secret', 'apiKey', 'x-api-key', 'access_token', 'authToken', 'secret'),
    fc.constantFrom('=', ': ', ':', ' = '),
    fc.constantFrom('plain', 'json', 'single'),
    password,
  )
  .map(([key, sep, form, value]) => ({
    text:
      form === 'json' ? `{"${key}":"${value}"}` : form === 'single' ? `${key}${sep}'${value}'` : `${key}${sep}${value}`,
    fragments: [value],
    credential: true,
  }));

const bearerSecret: fc.Arbitrary<Planted> = fc
  .tuple(fc.constantFrom('Bearer ', 'bearer ', 'Authorization: Bearer ', 'Authorization: Basic '), marked(`${B64URL}.~+/`, 12, 40))
  .map(([prefix, token]) => ({
    text: prefix.endsWith('Basic ') ? `${prefix}${token.replace(/[^A-Za-z0-9+/]/g, 'A')}` : `${prefix}${token}`,
    fragments: [prefix.endsWith('Basic ') ? token.replace(/[^A-Za-z0-9+/]/g, 'A') : token],
    credential: true,
  }));

const genericToken: fc.Arbitrary<Planted> = fc
  .tuple(fc.constantFrom('token ', 'api key ', 'secret: ', 'key is '), fc.tuple(chars(HEX, 24, 48), chars(DIGITS, 1, 1)))
  .map(([prefix, [hex, digit]]) => ({ text: `${prefix}${digit}${hex}`, fragments: [`${digit}${hex}`], credential: true }));

const jwtSecret: fc.Arbitrary<Planted> = fc
  .tuple(marked(B64URL, 10, 30), marked(B64URL, 10, 60), marked(B64URL, 10, 43))
  .map(([h, p, s]) => ({ text: `eyJ${h}.eyJ${p}.${s}`, fragments: [`eyJ${p}`, s, h], credential: true }));

const awsSecret: fc.Arbitrary<Planted> = fc.oneof(
  chars(`${UPPER}${DIGITS}`, 16, 16).map((id) => ({ text: `AKIA${id}`, fragments: [id], credential: true })),
  marked(`${LOWER}${UPPER}${DIGITS}/+`, 38, 38).map((key) => ({
    text: `aws_secret_access_key=${key}`,
    fragments: [key],
    credential: true,
  })),
);

const connectionString: fc.Arbitrary<Planted> = fc
  .tuple(
    fc.constantFrom('postgres', 'mysql', 'mongodb+srv', 'redis', 'amqps', 'https'),
    chars(LOWER, 1, 10),
    marked(`${LOWER}${UPPER}${DIGITS}!$%^*()_+-~.:@`, 8, 24),
    fc.constantFrom('db.internal', 'localhost:5432', 'cluster0.example.net'),
  )
  .map(([scheme, user, pw, host]) => ({ text: `${scheme}://${user}:${pw}@${host}/app`, fragments: [pw], credential: true }));

const pemSecret: fc.Arbitrary<Planted> = fc
  .tuple(fc.constantFrom('', 'RSA ', 'EC ', 'OPENSSH ', 'ENCRYPTED '), fc.array(marked(`${LOWER}${UPPER}${DIGITS}+/`, 20, 64), { minLength: 1, maxLength: 4 }))
  .map(([kind, lines]) => ({
    text: `-----BEGIN ${kind}PRIVATE KEY-----\n${lines.join('\n')}\n-----END ${kind}PRIVATE KEY-----`,
    fragments: lines,
    credential: true,
  }));

const emailSecret: fc.Arbitrary<Planted> = fc
  .tuple(marked(`${LOWER}${DIGITS}._`, 4, 16), chars(LOWER, 2, 10), fc.constantFrom('com', 'io', 'co.uk', 'dev'))
  .map(([local, domain, tld]) => ({
    text: `${local.replace(/^[._]+|[._]+$/g, 'x')}@${domain}.${tld}`,
    fragments: [local.replace(/^[._]+|[._]+$/g, 'x')],
    credential: false,
  }));

const ipSecret: fc.Arbitrary<Planted> = fc.oneof(
  fc.ipV4().filter((ip) => ip.split('.').some((o) => o.length > 1)).map((ip) => ({ text: ip, fragments: [ip], credential: false })),
  fc.array(chars(HEX, 4, 4), { minLength: 8, maxLength: 8 }).map((groups) => ({
    text: groups.join(':'),
    fragments: [groups.join(':')],
    credential: false,
  })),
  fc.tuple(chars(HEX, 1, 4), chars(HEX, 4, 4)).map(([a, b]) => ({ text: `fe80::${a}:${b}`, fragments: [`fe80::${a}:${b}`], credential: false })),
);

const homePathSecret: fc.Arbitrary<Planted> = fc
  .tuple(fc.constantFrom('/home/', '/Users/', 'C:\\Users\\'), marked(`${LOWER}${DIGITS}`, 4, 12))
  .map(([prefix, user]) => {
    const sep = prefix.startsWith('C:') ? '\\' : '/';
    return { text: `${prefix}${user}${sep}project${sep}index.ts`, fragments: [user], credential: false };
  });

const anySecret = fc.oneof(keyValueSecret, bearerSecret, genericToken, jwtSecret, awsSecret, connectionString, pemSecret, ipSecret, homePathSecret);
/** With personal data masked too (the pii option, or the strict preset). */
const anySecretOrPii = fc.oneof(anySecret, emailSecret);
const credentialSecret = fc.oneof(keyValueSecret, bearerSecret, genericToken, jwtSecret, awsSecret, connectionString, pemSecret);

const filler = fc.array(chars(`${LOWER}${LOWER},.;!?()'-`, 1, 12), { maxLength: 8 }).map((words) => words.join(' '));
const separator = fc.constantFrom(' ', '\n', ', ', ' | ', '\t');

/** Random filler with the secrets planted between words. */
const textWith = (secrets: fc.Arbitrary<Planted>): fc.Arbitrary<{ text: string; planted: Planted[] }> =>
  fc
    .array(fc.tuple(filler, separator, secrets, separator), { minLength: 1, maxLength: 5 })
    .chain((parts) =>
      filler.map((tail) => ({
        text: parts.map(([f, s1, p, s2]) => `${f}${s1}${p.text}${s2}`).join('') + tail,
        planted: parts.map(([, , p]) => p),
      })),
    );

function leaks(output: unknown, planted: readonly Planted[]): string[] {
  const strings: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') strings.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        strings.push(k);
        walk(x);
      }
    }
  };
  walk(output);
  return planted.flatMap((p) => p.fragments).filter((fragment) => strings.some((s) => s.includes(fragment)));
}

describe('property: planted secrets never survive', () => {
  it('in text (default preset)', () => {
    fc.assert(
      fc.property(textWith(anySecret), ({ text, planted }) => {
        expect(leaks(sanitizer.sanitizeText(text), planted)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('in text (strict preset, and default with personal data)', () => {
    fc.assert(
      fc.property(textWith(anySecretOrPii), ({ text, planted }) => {
        expect(leaks(strict.sanitizeText(text), planted)).toEqual([]);
        expect(leaks(withPii.sanitizeText(text), planted)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('in text (lenient preset, credentials)', () => {
    fc.assert(
      fc.property(textWith(credentialSecret), ({ text, planted }) => {
        expect(leaks(lenient.sanitizeText(text), planted)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('in nested objects and arrays', () => {
    const node = (value: unknown, planted: Planted[]): { value: unknown; planted: Planted[] } => ({ value, planted });
    const leaf = fc.oneof(
      textWith(anySecret).map(({ text, planted }) => node(text, planted)),
      fc
        .tuple(fc.constantFrom('password', 'apiKey', 'sessionToken', 'Authorization', 'client_secret'), password)
        .map(([key, pw]) => node({ [key]: pw }, [{ text: pw, fragments: [pw], credential: true }])),
    );
    const tree = fc.letrec<{ node: { value: unknown; planted: Planted[] } }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('node'), { maxLength: 4 }).map((children) => ({
          value: children.map((c) => c.value),
          planted: children.flatMap((c) => c.planted),
        })),
        fc.array(fc.tuple(chars(LOWER, 1, 8), tie('node')), { maxLength: 4 }).map((entries) => ({
          value: Object.fromEntries(entries.map(([k, c]) => [`f_${k}`, c.value])),
          planted: entries.flatMap(([, c]) => c.planted),
        })),
      ),
    })).node;
    fc.assert(
      fc.property(tree, ({ value, planted }) => {
        expect(leaks(sanitizer.sanitizeValue(value), planted)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('in error messages, OnexError context and cause chains', () => {
    const chain = fc.array(fc.tuple(textWith(anySecret), fc.constantFrom('error', 'onex', 'aggregate')), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(chain, (links) => {
        let cause: unknown;
        const planted: Planted[] = [];
        for (const [{ text, planted: p }, kind] of links) {
          planted.push(...p);
          const options = cause === undefined ? {} : { cause };
          cause =
            kind === 'onex'
              ? new OnexError(ErrorCode.Internal, text, { ...options, context: { note: text } })
              : kind === 'aggregate'
                ? new AggregateError([new Error(text)], 'several failed', options)
                : new Error(text, options);
        }
        expect(leaks(sanitizer.sanitizeError(cause), planted)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('property: sanitizeText is idempotent', () => {
  const noisy = fc.string({ unit: fc.constantFrom(...`aZ09 :=@./\\-_"'\n[]{}%+eyJ&;,`), maxLength: 80 });
  const mixed = fc
    .array(fc.oneof(noisy, anySecretOrPii.map((p) => p.text)), { maxLength: 6 })
    .chain((parts) => fc.array(fc.constantFrom('', ' ', ':', '=', '"', '/', '@'), { minLength: parts.length, maxLength: parts.length }).map((seps) => parts.map((p, i) => `${p}${seps[i] ?? ''}`).join('')));

  it.each([
    ['default', sanitizer],
    ['strict', strict],
    ['lenient', lenient],
    ['default with personal data', withPii],
  ] as const)('for the %s preset', (_name, s) => {
    fc.assert(
      fc.property(mixed, (text) => {
        const once = s.sanitizeText(text);
        expect(s.sanitizeText(once)).toBe(once);
      }),
      { numRuns: 500 },
    );
  });
});
