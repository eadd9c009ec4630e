import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@onex/core';
import { idempotencyStoreConformance } from '@onex/testing/conformance';
import { afterEach, describe, expect, it } from 'vitest';
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

// The contract, on every bundled store but PostgreSQL (postgres-idempotency-store.test.ts runs it there).
idempotencyStoreConformance({ name: 'MemoryIdempotencyStore', create: (settings) => new MemoryIdempotencyStore(settings) });
idempotencyStoreConformance({ name: 'SqliteIdempotencyStore (file)', create: (settings) => new SqliteIdempotencyStore({ path: tempFile(), ...settings }) });
idempotencyStoreConformance({ name: 'SqliteIdempotencyStore (:memory:)', create: (settings) => new SqliteIdempotencyStore({ path: ':memory:', ...settings }) });

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
