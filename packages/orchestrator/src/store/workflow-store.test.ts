import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isOnexError } from '@onex/core';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryWorkflowStore } from './memory-store.js';
import { SqliteWorkflowStore } from './sqlite-store.js';
import { StepStatus, WorkflowStatus, type WorkflowRecord } from './workflow-record.js';
import type { WorkflowStore } from './workflow-store.js';

const dir = mkdtempSync(join(tmpdir(), 'onex-wf-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function record(id: string, extra: Partial<WorkflowRecord> = {}): WorkflowRecord {
  return {
    id,
    type: 't',
    version: '1.0.0',
    status: WorkflowStatus.Pending,
    input: { n: 1 },
    correlationId: 'c',
    createdAt: Date.now(),
    updatedAt: Date.now(),
    owner: 'a',
    leaseExpiresAt: Date.now() + 10_000,
    epoch: 1,
    steps: {},
    ...extra,
  };
}

async function rejects(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isOnexError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a rejection');
}

let counter = 0;
const stores: [string, () => WorkflowStore][] = [
  ['memory', () => new MemoryWorkflowStore()],
  ['sqlite', () => new SqliteWorkflowStore({ path: join(dir, `s${(counter += 1)}.db`) })],
];

describe.each(stores)('%s workflow store', (_name, make) => {
  it('creates idempotently by key and commits atomically', async () => {
    const store = make();
    await store.init();
    expect((await store.create(record('w1', { idempotencyKey: 'k' }))).created).toBe(true);
    const again = await store.create(record('w2', { idempotencyKey: 'k' }));
    expect(again).toMatchObject({ created: false, record: { id: 'w1' } });
    await store.commit('w1', 1, {
      workflow: { status: WorkflowStatus.Running, updatedAt: 5 },
      steps: [{ name: 's', status: StepStatus.Running, attempts: 1, attemptErrors: [] }],
    });
    await store.commit('w1', 1, {
      workflow: { status: WorkflowStatus.Completed, output: { ok: true } },
      steps: [{ name: 's', status: StepStatus.Completed, attempts: 1, attemptErrors: [], output: 42, completionSeq: 1 }],
    });
    const got = await store.get('w1');
    expect(got).toMatchObject({ status: 'completed', output: { ok: true }, input: { n: 1 }, idempotencyKey: 'k' });
    expect(got?.steps['s']).toMatchObject({ status: 'completed', output: 42 });
    expect(await store.get('nope')).toBeUndefined();
    await store.close();
  });

  it('fences writes with a stale epoch and hands workflows over by lease', async () => {
    const store = make();
    await store.init();
    const now = Date.now();
    await store.create(record('w1', { owner: 'a', leaseExpiresAt: now + 60_000 }));
    await store.create(record('w2', { owner: 'a', leaseExpiresAt: now - 1 }));
    await store.create(record('w3', { owner: 'a', status: WorkflowStatus.Completed }));
    // Another instance takes only the expired lease.
    const byB = await store.claim({ owner: 'b', leaseMs: 1000, now, limit: 10 });
    expect(byB.map((r) => r.id)).toEqual(['w2']);
    expect(byB[0]).toMatchObject({ owner: 'b', epoch: 2 });
    expect(await rejects(store.commit('w2', 1, { workflow: { status: WorkflowStatus.Running } }))).toBe(ErrorCode.Conflict);
    await store.commit('w2', 2, { workflow: { status: WorkflowStatus.Running } });
    // The same owner, restarted, takes its own workflows back at once.
    const byA = await store.claim({ owner: 'a', leaseMs: 1000, now, limit: 10 });
    expect(byA.map((r) => r.id)).toEqual(['w1']);
    expect(await rejects(store.commit('missing', 1, {}))).toBe(ErrorCode.NotFound);
    await store.close();
  });

  it('claims only other owners\' expired workflows when includeOwn is false', async () => {
    const store = make();
    await store.init();
    const now = Date.now();
    await store.create(record('mine', { owner: 'a', leaseExpiresAt: now - 1 }));
    await store.create(record('crashed', { owner: 'b', leaseExpiresAt: now - 1 }));
    await store.create(record('alive', { owner: 'c', leaseExpiresAt: now + 60_000 }));
    const taken = await store.claim({ owner: 'a', leaseMs: 1000, now, limit: 10, includeOwn: false });
    expect(taken.map((r) => r.id)).toEqual(['crashed']);
    expect((await store.get('mine'))?.epoch).toBe(1);
    await store.close();
  });

  it('lists by status and type, newest first', async () => {
    const store = make();
    await store.init();
    await store.create(record('old', { createdAt: 1, status: WorkflowStatus.Completed }));
    await store.create(record('new', { createdAt: 2 }));
    await store.create(record('other', { createdAt: 3, type: 'u' }));
    expect((await store.list({})).map((w) => w.id)).toEqual(['other', 'new', 'old']);
    expect((await store.list({ status: 'completed' })).map((w) => w.id)).toEqual(['old']);
    expect((await store.list({ type: 't', limit: 1 })).map((w) => w.id)).toEqual(['new']);
    expect((await store.health()).status).toBe('healthy');
    await store.close();
  });
});

describe('SqliteWorkflowStore', () => {
  it('keeps state across reopening the file', async () => {
    const path = join(dir, 'reopen.db');
    const first = new SqliteWorkflowStore({ path });
    await first.init();
    await first.create(record('w1'));
    await first.commit('w1', 1, { steps: [{ name: 'a', status: StepStatus.Completed, attempts: 2, attemptErrors: [{ code: 'TIMEOUT', message: 'x', retryable: true }], output: 'o' }] });
    await first.close();
    const second = new SqliteWorkflowStore({ path });
    await second.init();
    expect((await second.get('w1'))?.steps['a']).toMatchObject({ attempts: 2, output: 'o', attemptErrors: [{ code: 'TIMEOUT' }] });
    await second.close();
  });

  it('purges finished workflows past the retention window', async () => {
    const path = join(dir, 'retention.db');
    const seed = new SqliteWorkflowStore({ path, retentionMs: 0 });
    await seed.init();
    await seed.create(record('done', { status: WorkflowStatus.Completed, updatedAt: 1 }));
    await seed.create(record('running', { status: WorkflowStatus.Running, updatedAt: 1 }));
    await seed.close();
    const store = new SqliteWorkflowStore({ path, retentionMs: 1000 });
    await store.init();
    expect(await store.get('done')).toBeUndefined();
    expect(await store.get('running')).toBeDefined();
    await store.close();
  });
});

describe('MemoryWorkflowStore', () => {
  it('forgets the oldest finished workflows past maxFinished', async () => {
    const store = new MemoryWorkflowStore({ maxFinished: 2 });
    for (const id of ['a', 'b', 'c']) {
      await store.create(record(id, { idempotencyKey: id }));
      await store.commit(id, 1, { workflow: { status: WorkflowStatus.Completed } });
    }
    await store.create(record('live'));
    expect(await store.get('a')).toBeUndefined();
    expect(await store.get('b')).toBeDefined();
    expect(await store.get('live')).toBeDefined();
    expect((await store.create(record('a2', { idempotencyKey: 'a' }))).created).toBe(true);
  });
});
