import { describe, expect, it } from 'vitest';
import { Keyring } from './keyring.js';
import { AuthFailure, AuthHeader, RequestVerifier, signRequest, type VerifiableRequest } from './request-signing.js';

const OLD = 'old-secret-AAAAAAAAAAAAAAAAAAAAAAAA';
const NEW = 'new-secret-BBBBBBBBBBBBBBBBBBBBBBBB';
const T0 = Date.parse('2026-12-01T00:00:00Z');
const MINUTE = 60_000;

function request(method: string, path: string, headers: Readonly<Record<string, string>>): VerifiableRequest {
  return { method, path, header: (name) => headers[name] };
}

/** A verifier whose clock the test moves. */
function verifierAt(keyring: Keyring, options: { maxSkewMs?: number; replayCacheSize?: number } = {}): { verifier: RequestVerifier; clock: { now: number } } {
  const clock = { now: T0 };
  return { verifier: new RequestVerifier({ keyring, now: () => clock.now, ...options }), clock };
}

describe('signRequest / RequestVerifier', () => {
  const keyring = new Keyring([
    { id: 'old', secret: OLD, notAfter: T0 + 10 * MINUTE },
    { id: 'new', secret: NEW, notBefore: T0 - MINUTE, principal: 'orchestrator', scopes: ['workflows:start'] },
  ]);

  it('accepts a signed request and gives its key and body digest', () => {
    const { verifier } = verifierAt(keyring);
    const body = '{"a":1}';
    const headers = signRequest(keyring.get('new')!, { method: 'post', path: '/v1/process', body, now: T0 });
    const result = verifier.verify(request('POST', '/v1/process', headers));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.key.principal).toBe('orchestrator');
    expect(verifier.bodyMatches(result.value, Buffer.from(body))).toBe(true);
    expect(verifier.bodyMatches(result.value, Buffer.from('{"a":2}'))).toBe(false);
  });

  it('rotation: old and new keys both pass during the overlap; after the old key expires only the new one does', () => {
    const { verifier, clock } = verifierAt(keyring);
    const signWith = (id: string) => signRequest(keyring.get(id)!, { method: 'GET', path: '/metrics', now: clock.now });
    clock.now = T0 + 5 * MINUTE;
    expect(verifier.verify(request('GET', '/metrics', signWith('old'))).ok).toBe(true);
    expect(verifier.verify(request('GET', '/metrics', signWith('new'))).ok).toBe(true);
    clock.now = T0 + 10 * MINUTE;
    expect(verifier.verify(request('GET', '/metrics', signWith('old')))).toEqual({ ok: false, reason: AuthFailure.InactiveKey });
    expect(verifier.verify(request('GET', '/metrics', signWith('new'))).ok).toBe(true);
  });

  it('refuses a replay inside the window, and the same request re-signed passes', () => {
    const { verifier, clock } = verifierAt(keyring);
    const headers = signRequest(keyring.get('new')!, { method: 'GET', path: '/contract', now: clock.now });
    expect(verifier.verify(request('GET', '/contract', headers)).ok).toBe(true);
    clock.now += 4 * MINUTE;
    expect(verifier.verify(request('GET', '/contract', headers))).toEqual({ ok: false, reason: AuthFailure.Replayed });
    clock.now += 2 * MINUTE; // now out of the window: stale rather than replayed
    expect(verifier.verify(request('GET', '/contract', headers))).toEqual({ ok: false, reason: AuthFailure.Stale });
    expect(verifier.verify(request('GET', '/contract', signRequest(keyring.get('new')!, { method: 'GET', path: '/contract', now: clock.now }))).ok).toBe(true);
  });

  it('refuses stale and future timestamps beyond the skew', () => {
    const { verifier } = verifierAt(keyring);
    const at = (now: number) => request('GET', '/x', signRequest(keyring.get('new')!, { method: 'GET', path: '/x', now }));
    expect(verifier.verify(at(T0 - 5 * MINUTE - 1)).ok).toBe(false);
    expect(verifier.verify(at(T0 + 5 * MINUTE + 1)).ok).toBe(false);
    expect(verifier.verify(at(T0 - 5 * MINUTE + 1)).ok).toBe(true);
  });

  it('refuses a tampered method, path, query, digest, key id or signature, and a wrong secret', () => {
    const { verifier } = verifierAt(keyring);
    const key = keyring.get('new')!;
    const fresh = () => signRequest(key, { method: 'POST', path: '/v1/workflows?x=1', body: '{}', now: T0 });
    expect(verifier.verify(request('PUT', '/v1/workflows?x=1', fresh())).ok).toBe(false);
    expect(verifier.verify(request('POST', '/v1/workflows/other/cancel', fresh())).ok).toBe(false);
    expect(verifier.verify(request('POST', '/v1/workflows?x=2', fresh())).ok).toBe(false);
    const digest = fresh();
    digest[AuthHeader.ContentSha256] = 'f'.repeat(64);
    expect(verifier.verify(request('POST', '/v1/workflows?x=1', digest))).toEqual({ ok: false, reason: AuthFailure.BadSignature });
    const swapped = fresh();
    swapped[AuthHeader.KeyId] = 'old';
    expect(verifier.verify(request('POST', '/v1/workflows?x=1', swapped))).toEqual({ ok: false, reason: AuthFailure.BadSignature });
    const flipped = fresh();
    flipped[AuthHeader.Signature] = `v1=${'A'.repeat(43)}`;
    expect(verifier.verify(request('POST', '/v1/workflows?x=1', flipped))).toEqual({ ok: false, reason: AuthFailure.BadSignature });
    const stranger = new Keyring([{ id: 'new', secret: 'another-secret-CCCCCCCCCCCCCCCC' }]).get('new')!;
    expect(verifier.verify(request('POST', '/v1/workflows?x=1', signRequest(stranger, { method: 'POST', path: '/v1/workflows?x=1', body: '{}', now: T0 }))).ok).toBe(false);
  });

  it('tells missing, malformed and unknown-key apart for the operator', () => {
    const { verifier } = verifierAt(keyring);
    expect(verifier.verify(request('GET', '/', {}))).toEqual({ ok: false, reason: AuthFailure.Missing });
    const headers = signRequest(keyring.get('new')!, { method: 'GET', path: '/', now: T0 });
    expect(verifier.verify(request('GET', '/', { ...headers, [AuthHeader.Timestamp]: 'soon' }))).toEqual({ ok: false, reason: AuthFailure.Malformed });
    expect(verifier.verify(request('GET', '/', { ...headers, [AuthHeader.KeyId]: 'nobody' }))).toEqual({ ok: false, reason: AuthFailure.UnknownKey });
    const repeated: VerifiableRequest = { method: 'GET', path: '/', header: (name) => (name === AuthHeader.Nonce ? [headers[name], headers[name]] : headers[name]) };
    expect(verifier.verify(repeated)).toEqual({ ok: false, reason: AuthFailure.Malformed });
  });

  it('keeps the replay cache bounded, and an evicted nonce still cannot be replayed', () => {
    const { verifier, clock } = verifierAt(keyring, { replayCacheSize: 8 });
    const key = keyring.get('new')!;
    const first = signRequest(key, { method: 'GET', path: '/', now: clock.now });
    expect(verifier.verify(request('GET', '/', first)).ok).toBe(true);
    for (let i = 0; i < 50; i += 1) {
      clock.now += 1;
      expect(verifier.verify(request('GET', '/', signRequest(key, { method: 'GET', path: '/', now: clock.now }))).ok).toBe(true);
      expect(verifier.rememberedNonces).toBeLessThanOrEqual(8);
    }
    // `first` was evicted long ago, but its timestamp is below the floor the eviction raised.
    expect(verifier.verify(request('GET', '/', first)).ok).toBe(false);
    // Once the window has passed, the cache empties as requests come in.
    clock.now += 6 * MINUTE;
    expect(verifier.verify(request('GET', '/', signRequest(key, { method: 'GET', path: '/', now: clock.now }))).ok).toBe(true);
    expect(verifier.rememberedNonces).toBe(1);
  });
});
