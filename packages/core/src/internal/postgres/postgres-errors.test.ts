import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../errors/error-codes.js';
import { OnexError } from '../../errors/onex-error.js';
import { POSTGRES_TYPES } from './pool.js';
import { classifyPostgresError, sqlState } from './postgres-errors.js';
import { checkSchemaName } from './schema-migrations.js';

/** What node-postgres throws for a server error: an Error with a SQLSTATE `code`. */
function serverError(code: string, message = 'server said no'): Error {
  return Object.assign(new Error(message), { code });
}

describe('sqlState', () => {
  it('reads a five-character SQLSTATE and nothing else', () => {
    expect(sqlState(serverError('23505'))).toBe('23505');
    expect(sqlState(serverError('40P01'))).toBe('40P01');
    expect(sqlState(serverError('ECONNREFUSED'))).toBeUndefined();
    expect(sqlState(null)).toBeUndefined();
    expect(sqlState('23505')).toBeUndefined();
  });
});

describe('classifyPostgresError', () => {
  const classify = (error: unknown): OnexError => classifyPostgresError(error, 'append', 'TestStore');

  it('answers UNAVAILABLE (retryable) for the server, the connection, deadlocks and lock timeouts', () => {
    for (const code of ['08006', '53300', '57P01', '40001', '40P01', '55P03', '55006']) {
      const error = classify(serverError(code));
      expect(error.code, code).toBe(ErrorCode.Unavailable);
      expect(error.retryable).toBe(true);
      expect(error.context).toEqual({ operation: 'append', sqlState: code });
    }
    expect(classify(new Error('Connection terminated unexpectedly')).code).toBe(ErrorCode.Unavailable);
    expect(classify(new Error('Client was closed and is not queryable')).code).toBe(ErrorCode.Unavailable);
    expect(classify(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })).code).toBe(ErrorCode.Unavailable);
  });

  it('answers TIMEOUT for a cancelled statement, LIFECYCLE after the pool ended, VALIDATION for a value it cannot store', () => {
    expect(classify(serverError('57014', 'canceling statement due to statement timeout')).code).toBe(ErrorCode.Timeout);
    const ended = classify(new Error('Cannot use a pool after calling end on the pool'));
    expect(ended.code).toBe(ErrorCode.Lifecycle);
    expect(ended.message).toBe('TestStore append after its pool was ended');
    const refused = classify(serverError('22P05', 'unsupported Unicode escape sequence'));
    expect(refused.code).toBe(ErrorCode.Validation);
    expect(refused.message).toContain('unsupported Unicode escape sequence');
  });

  it('answers INTERNAL otherwise, keeping the driver error as cause; an OnexError passes through', () => {
    const original = serverError('23505', 'duplicate key');
    const error = classify(original);
    expect(error.code).toBe(ErrorCode.Internal);
    expect(error.cause).toBe(original);
    const onex = new OnexError(ErrorCode.Conflict, 'taken');
    expect(classify(onex)).toBe(onex);
  });
});

describe('checkSchemaName', () => {
  it('accepts a plain identifier and refuses anything that would need quoting', () => {
    expect(checkSchemaName('onex_2', 'TestStore')).toBe('onex_2');
    for (const bad of ['', '2onex', 'on-ex', 'a"b', 'x'.repeat(64), 'public; DROP TABLE t']) {
      expect(() => checkSchemaName(bad, 'TestStore'), bad).toThrow(/TestStore schema must be a plain identifier/);
    }
  });
});

describe('POSTGRES_TYPES', () => {
  const parse = (oid: number, text: string): unknown => (POSTGRES_TYPES.getTypeParser as (oid: number, format?: string) => (text: string) => unknown)(oid, 'text')(text);

  it('parses int8 as a number and json/jsonb as values, whatever the global parsers say', () => {
    expect(parse(20, '1733184000000')).toBe(1_733_184_000_000);
    expect(parse(114, '{"a":[1,2]}')).toEqual({ a: [1, 2] });
    expect(parse(3802, '"x"')).toBe('x');
    expect(parse(25, 'text')).toBe('text');
  });
});
