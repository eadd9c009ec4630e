import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@onex/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { IdempotencyStore } from './idempotency-store.js';
import { MemoryIdempotencyStore } from './memory-idempotency-store.js';
import { SqliteIdempotencyStore } from './sqlite-idempotency-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'onex-idem-'));
  dirs.push(dir);
  return join(dir, 'idempotency.db');
}

const clock = { now: 1_000_000 };
const now = (): number => clock.now;

const kinds: [string, () => IdempotencyStore][] = [
  ['memory', () => new MemoryIdempotencyStore({ retentionMs: 10_000, leaseMs: 1_000, now })],
  ['sqlite', () => new SqliteIdempotencyStore({ path: tempFile(), retentionMs: 10_000, leaseMs: 1_000, now })],
];

describe.each(kinds)('%s idempotency store', (_name, make) => {
  it('claims a new key, answers in_progress to a second claimant, then the stored outcome', async () => {
    const store = make();
    const begun = await store.begin('k', 'fp');
    expect(begun.kind).toBe('started');
    expect(await store.begin('k', 'fp')).toEqual({ kind: 'in_progress', retryAfterMs: 1_000 });
    expect(await store.begin('k', 'other')).toEqual({ kind: 'mismatch' });
    if (begun.kind !== 'started') throw new Error('unreachable');
    expect(await store.complete('k', begun.token, { ok: true, resultJson: '{"v":1}' })).toBe(true);
    expect(await store.begin('k', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson: '{"v":1}' } });
    expect(await store.begin('k', 'other')).toEqual({ kind: 'mismatch' });
    await store.close();
  });

  it('stores a wire error', async () => {
    const store = make();
    const begun = await store.begin('e', 'fp');
    if (begun.kind !== 'started') throw new Error('expected started');
    const error = { error: { code: ErrorCode.NotFound, message: 'gone', retryable: false } };
    await store.complete('e', begun.token, { ok: false, error });
    expect(await store.begin('e', 'fp')).toEqual({ kind: 'completed', outcome: { ok: false, error } });
    await store.close();
  });

  it('release lets the key run again; a stale token cannot complete or release', async () => {
    const store = make();
    const first = await store.begin('r', 'fp');
    if (first.kind !== 'started') throw new Error('expected started');
    await store.release('r', first.token);
    const second = await store.begin('r', 'fp');
    expect(second.kind).toBe('started');
    expect(await store.complete('r', first.token, { ok: true, resultJson: '1' })).toBe(false);
    await store.release('r', first.token);
    expect((await store.begin('r', 'fp')).kind).toBe('in_progress');
    await store.close();
  });

  it('lets another holder take over a key whose lease expired, unless renewed', async () => {
    const store = make();
    const first = await store.begin('l', 'fp');
    if (first.kind !== 'started') throw new Error('expected started');
    clock.now += 800;
    await store.renew('l', first.token);
    clock.now += 800; // 1600 after the claim, 800 after the renewal: still held
    expect((await store.begin('l', 'fp')).kind).toBe('in_progress');
    clock.now += 500; // lease expired: a crashed holder's key is taken over
    const second = await store.begin('l', 'fp');
    expect(second.kind).toBe('started');
    expect(await store.complete('l', first.token, { ok: true, resultJson: '"late"' })).toBe(false);
    await store.close();
  });

  it('issue 9 #9: renew says whether the holder still holds the key', async () => {
    const store = make();
    const first = await store.begin('h', 'fp');
    if (first.kind !== 'started') throw new Error('expected started');
    expect(await store.renew('h', first.token)).toBe(true);
    clock.now += 1_500; // the lease ran out, but nobody took the key: still the holder's
    expect(await store.renew('h', first.token)).toBe(true);
    clock.now += 1_500;
    const second = await store.begin('h', 'fp'); // taken over after the lease expired
    if (second.kind !== 'started') throw new Error('expected a takeover');
    expect(await store.renew('h', first.token)).toBe(false);
    expect(await store.renew('h', second.token)).toBe(true);
    expect(await store.complete('h', second.token, { ok: true, resultJson: '1' })).toBe(true);
    expect(await store.renew('h', second.token)).toBe(false); // completed: nothing left to hold
    const third = await store.begin('gone', 'fp');
    if (third.kind !== 'started') throw new Error('expected started');
    await store.release('gone', third.token);
    expect(await store.renew('gone', third.token)).toBe(false);
    expect(await store.renew('never-claimed', 'no-token')).toBe(false);
    await store.close();
  });

  it('forgets completed keys after the retention window and purges them', async () => {
    const store = make();
    for (const key of ['p1', 'p2']) {
      const b = await store.begin(key, 'fp');
      if (b.kind === 'started') await store.complete(key, b.token, { ok: true, resultJson: '1' });
    }
    clock.now += 5_000;
    const b3 = await store.begin('p3', 'fp');
    if (b3.kind === 'started') await store.complete('p3', b3.token, { ok: true, resultJson: '3' });
    clock.now += 6_000; // p1, p2 expired; p3 not yet
    expect(await store.purgeExpired()).toBe(2);
    expect((await store.begin('p1', 'another input')).kind).toBe('started');
    expect((await store.begin('p3', 'fp')).kind).toBe('completed');
    expect((await store.health()).status).toBe('healthy');
    await store.close();
  });
});

describe('SqliteIdempotencyStore', () => {
  it('survives reopening the database file', async () => {
    const path = tempFile();
    const first = new SqliteIdempotencyStore({ path });
    const begun = await first.begin('node:op:key', 'fp');
    if (begun.kind !== 'started') throw new Error('expected started');
    await first.complete('node:op:key', begun.token, { ok: true, resultJson: '{"charged":true}' });
    first.close();
    const second = new SqliteIdempotencyStore({ path });
    expect(await second.begin('node:op:key', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson: '{"charged":true}' } });
    second.close();
  });

  it('refuses ambiguous options', () => {
    expect(() => new SqliteIdempotencyStore({})).toThrow(/exactly one/);
    expect(() => new SqliteIdempotencyStore({ path: ':memory:', table: 'bad name' })).toThrow(/table/);
  });
});

describe('MemoryIdempotencyStore', () => {
  function completeKey(store: MemoryIdempotencyStore, key: string): void {
    const begun = store.begin(key, 'fp');
    if (begun.kind !== 'started') throw new Error('expected started');
    store.complete(key, begun.token, { ok: true, resultJson: '1' });
  }

  it('is bounded: past maxEntries the oldest completed key is evicted', () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 2 });
    completeKey(store, 'a');
    completeKey(store, 'b');
    completeKey(store, 'c');
    expect(store.size).toBe(2);
    expect(store.begin('a', 'fp').kind).toBe('started');
    expect(store.health().data).toMatchObject({ evictions: 2 });
  });

  it('never evicts a key in progress; refuses a new key with a retryable OVERLOADED when every kept key is', () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 2, leaseMs: 1_000, now });
    const running = store.begin('running', 'fp');
    if (running.kind !== 'started') throw new Error('expected started');
    completeKey(store, 'done');
    completeKey(store, 'next'); // evicts 'done', the oldest key not in progress
    expect(store.begin('done', 'fp').kind).toBe('started'); // evicts 'next'; now both kept keys are running
    expect(() => store.begin('another', 'fp')).toThrow(expect.objectContaining({ code: ErrorCode.Overloaded, retryable: true, retryAfterMs: 1_000 }));
    expect(store.complete('running', running.token, { ok: true, resultJson: '"kept"' })).toBe(true);
    expect(store.begin('running', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson: '"kept"' } });
    expect(store.begin('another', 'fp').kind).toBe('started'); // evicts 'running', completed now
    expect(() => store.begin('third', 'fp')).toThrow(expect.objectContaining({ code: ErrorCode.Overloaded }));
    // A holder whose lease ran out has abandoned its key: that record may go.
    clock.now += 1_001;
    expect(store.begin('third', 'fp').kind).toBe('started'); // evicts 'done'
    expect(store.health().data).toMatchObject({ entries: 2, evictions: 4 });
  });
});
