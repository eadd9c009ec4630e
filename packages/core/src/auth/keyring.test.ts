import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors/error-codes.js';
import { isOnexError } from '../errors/onex-error.js';
import { AUTH_KEYS_ENV, AuthKey, Keyring } from './keyring.js';
import { Secret } from './secret.js';

const OLD = 'old-secret-AAAAAAAAAAAAAAAAAAAAAAAA';
const NEW = 'new-secret-BBBBBBBBBBBBBBBBBBBBBBBB';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('Secret', () => {
  it('never shows its value: String, JSON, inspect, template strings', () => {
    const secret = new Secret(OLD);
    const shown = [String(secret), [secret].join(''), JSON.stringify({ secret }), inspect(secret), inspect({ nested: { secret } }, { depth: 5 }), inspect(secret.keyObject())];
    for (const text of shown) expect(text).not.toContain(OLD);
    expect(secret.byteLength).toBe(Buffer.byteLength(OLD));
  });
});

describe('AuthKey and Keyring', () => {
  it('print, serialise and inspect without the secret', () => {
    const keyring = new Keyring([
      { id: 'old', secret: OLD, principal: 'orchestrator', scopes: ['workflows:start'] },
      { id: 'new', secret: NEW },
    ]);
    const key = keyring.get('old') as AuthKey;
    for (const text of [JSON.stringify(keyring), String(keyring), inspect(keyring, { depth: 10 }), JSON.stringify(key), String(key), inspect(key, { depth: 10 })]) {
      expect(text).not.toContain(OLD);
      expect(text).not.toContain(NEW);
    }
    expect(JSON.parse(JSON.stringify(key))).toEqual({ id: 'old', principal: 'orchestrator', scopes: ['workflows:start'], secret: '[redacted]' });
  });

  it('refuses a short secret, a bad id, duplicates and an empty interval, without quoting the secret', () => {
    const short = thrown(() => new AuthKey({ id: 'k', secret: 'short-secret' }));
    expect(isOnexError(short) && short.code).toBe(ErrorCode.Validation);
    expect(String((short as Error).message)).not.toContain('short-secret');
    expect(() => new AuthKey({ id: 'bad id', secret: OLD })).toThrow(/key id/);
    expect(() => new Keyring([{ id: 'a', secret: OLD }, { id: 'a', secret: NEW }])).toThrow(/Duplicate/);
    expect(() => new AuthKey({ id: 'a', secret: OLD, notBefore: 10, notAfter: 10 })).toThrow(/notAfter/);
    expect(() => new Keyring([])).toThrow(/at least one/);
  });

  it('chooses the newest active key to sign with, or the one named', () => {
    const keyring = new Keyring([
      { id: 'old', secret: OLD, notAfter: 2_000 },
      { id: 'new', secret: NEW, notBefore: 1_000 },
    ]);
    expect(keyring.signingKey(500)?.id).toBe('old');
    expect(keyring.signingKey(1_500)?.id).toBe('new');
    expect(keyring.signingKey(1_500, 'old')?.id).toBe('old');
    expect(keyring.active(1_500).map((k) => k.id)).toEqual(['old', 'new']);
    expect(keyring.signingKey(2_000, 'old')).toBeUndefined();
    expect(keyring.active(2_000).map((k) => k.id)).toEqual(['new']);
  });
});

describe('Keyring.fromEnv', () => {
  it('is undefined when the variable is unset or blank', () => {
    expect(Keyring.fromEnv({})).toBeUndefined();
    expect(Keyring.fromEnv({ [AUTH_KEYS_ENV]: '  ' })).toBeUndefined();
  });

  it('reads an id:secret list', () => {
    const keyring = Keyring.fromEnv({ [AUTH_KEYS_ENV]: `a:${OLD}, b:${NEW}` });
    expect(keyring?.size).toBe(2);
    expect(keyring?.get('b')?.principal).toBe('b');
  });

  it('reads a JSON array with principals, scopes and ISO bounds', () => {
    const value = JSON.stringify([
      { id: 'k1', secret: OLD, principal: 'ops', scopes: ['workflows:admin'], notAfter: '2026-12-08T00:00:00Z' },
      { id: 'k2', secret: NEW, notBefore: 1_000 },
    ]);
    const keyring = Keyring.fromEnv({ [AUTH_KEYS_ENV]: value });
    expect(keyring?.get('k1')).toMatchObject({ principal: 'ops', scopes: ['workflows:admin'], notAfter: Date.parse('2026-12-08T00:00:00Z') });
    expect(keyring?.get('k2')?.notBefore).toBe(1_000);
  });

  it('fails with a message and no cause that could quote the secret', () => {
    for (const value of [`[{"id":"k1","secret":"${OLD}"`, JSON.stringify([{ id: 'k1', secret: OLD, extra: NEW }]), `k1${OLD}`, `k1:short`]) {
      const error = thrown(() => Keyring.fromEnv({ [AUTH_KEYS_ENV]: value }));
      expect(isOnexError(error) && error.code).toBe(ErrorCode.Validation);
      const all = `${(error as Error).message} ${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`;
      expect(all).not.toContain(OLD);
      expect(all).not.toContain(NEW);
      expect(all).not.toContain('short');
    }
  });
});
