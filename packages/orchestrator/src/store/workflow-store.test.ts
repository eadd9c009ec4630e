import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCode, type OnexError } from '@onex/core';
import { scheduleStoreConformance, workflowStoreConformance } from '@onex/testing/conformance';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { MemoryWorkflowStore } from './memory-store.js';
import { CommitField, commitStatement, FINISHED_STATUSES_V2, runnableParam, SQLITE_SCHEMA_VERSION, SQLITE_STATEMENTS } from './sqlite-schema.js';
import { SqliteWorkflowStore } from './sqlite-store.js';
import { StepStatus, TERMINAL_WORKFLOW_STATUSES, WorkflowStatus, type WorkflowRecord } from './workflow-record.js';
import { rejection } from '@onex/testing';

const dir = mkdtempSync(join(tmpdir(), 'onex-wf-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function freshPath(name: string): string {
  files += 1;
  return join(dir, `${name}-${files}.db`);
}

workflowStoreConformance({ name: 'MemoryWorkflowStore', create: () => new MemoryWorkflowStore() });
workflowStoreConformance({ name: 'SqliteWorkflowStore (:memory:)', create: () => new SqliteWorkflowStore({ path: ':memory:' }) });
workflowStoreConformance({ name: 'SqliteWorkflowStore (file)', create: () => new SqliteWorkflowStore({ path: freshPath('conformance') }) });
workflowStoreConformance({
  name: 'SqliteWorkflowStore (file, synchronous=full, group commit)',
  create: () => new SqliteWorkflowStore({ path: freshPath('conformance-full'), synchronous: 'full' }),
});
scheduleStoreConformance({
  name: 'MemoryWorkflowStore',
  create: async () => {
    const store = new MemoryWorkflowStore();
    return { store, close: () => store.close() };
  },
});
scheduleStoreConformance({
  name: 'SqliteWorkflowStore (file)',
  create: async () => {
    const store = new SqliteWorkflowStore({ path: freshPath('schedules') });
    await store.init();
    return { store, close: () => store.close() };
  },
});

describe('SqliteWorkflowStore group commit', () => {
  it('writes the concurrent commits of many workflows in shared transactions, each fenced on its own', async () => {
    const store = new SqliteWorkflowStore({ path: freshPath('group'), synchronous: 'full', purgeIntervalMs: 0 });
    await store.init();
    const now = Date.now();
    const ids = Array.from({ length: 50 }, (_, i) => `g-${i}`);
    for (const id of ids) {
      await store.create({ id, type: 't', version: '1', status: 'running', input: {}, correlationId: 'c', createdAt: now, updatedAt: now, owner: 'o', leaseExpiresAt: now + 60_000, epoch: 1, steps: {} });
    }
    const results = await Promise.allSettled(
      ids.map((id, i) => store.commit(id, i === 7 ? 2 : 1, { workflow: { status: 'completed', output: i }, steps: [{ name: 's', status: 'completed', attempts: 1, attemptErrors: [] }] })),
    );
    // The stale-epoch commit fails alone; every other one landed, steps included.
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[7]).toMatchObject({ status: 'rejected', reason: { code: 'CONFLICT' } });
    expect((await store.get('g-7'))?.status).toBe('running');
    expect((await store.get('g-3'))).toMatchObject({ status: 'completed', output: 3, steps: { s: { status: 'completed' } } });
    const figures = (await store.health()).data?.['groupCommit'] as { transactions: number; writes: number; largest: number; reruns: number };
    // 50 creates one after another (50 transactions), then 50 concurrent commits in far fewer.
    expect(figures.writes).toBe(100);
    expect(figures.transactions).toBeLessThan(100);
    expect(figures.largest).toBeGreaterThan(1);
    // Only the group holding the stale commit ran again, write by write: the others took the fast path.
    expect(figures.reruns).toBe(1);
    await store.close();
  });

  it('writes concurrent creates in shared transactions: a duplicate id fails alone, a repeated key finds the first', async () => {
    const store = new SqliteWorkflowStore({ path: freshPath('group-create'), synchronous: 'full', purgeIntervalMs: 0 });
    await store.init();
    const ids = Array.from({ length: 40 }, (_, i) => `n-${i}`);
    const results = await Promise.allSettled([
      ...ids.map((id) => store.create(record(id))),
      store.create(record('n-5')),
      store.create(record('k-1', { idempotencyKey: 'key' })),
      store.create(record('k-2', { idempotencyKey: 'key' })),
    ]);
    expect(results.slice(0, 40).every((r) => r.status === 'fulfilled' && r.value.created)).toBe(true);
    expect(results[40]).toMatchObject({ status: 'rejected', reason: { code: 'CONFLICT' } });
    expect(results[41]).toMatchObject({ status: 'fulfilled', value: { created: true } });
    expect(results[42]).toMatchObject({ status: 'fulfilled', value: { created: false, record: { id: 'k-1' } } });
    expect(await store.get('k-2')).toBeUndefined();
    expect((await store.list({ limit: 100 })).length).toBe(41);
    const figures = (await store.health()).data?.['groupCommit'] as { transactions: number; writes: number; reruns: number };
    expect(figures.writes).toBe(43);
    expect(figures.transactions).toBeLessThan(5);
    expect(figures.reruns).toBe(1);
    await store.close();
  });

  it('fails a lone failing write without running it again, and commits the next group on the fast path', async () => {
    const store = new SqliteWorkflowStore({ path: freshPath('group-lone'), purgeIntervalMs: 0 });
    await store.init();
    const now = Date.now();
    await store.create({ id: 'l-1', type: 't', version: '1', status: 'running', input: {}, correlationId: 'c', createdAt: now, updatedAt: now, owner: 'o', leaseExpiresAt: now + 60_000, epoch: 1, steps: {} });
    await expect(store.commit('l-1', 2, { workflow: { status: 'completed' } })).rejects.toMatchObject({ code: 'CONFLICT' });
    await store.commit('l-1', 1, { steps: [{ name: 'a', status: 'completed', attempts: 1, attemptErrors: [] }] });
    await store.commit('l-1', 1, { workflow: { status: 'completed', output: 1 } });
    expect(await store.get('l-1')).toMatchObject({ status: 'completed', output: 1, steps: { a: { status: 'completed' } } });
    const figures = (await store.health()).data?.['groupCommit'] as { writes: number; reruns: number };
    // The refused write was not committed (nor counted) and not run a second time.
    expect(figures).toMatchObject({ writes: 3, reruns: 0 });
    await store.close();
  });

  it('writes the commits still gathered when it is closed', async () => {
    const path = freshPath('group-close');
    const store = new SqliteWorkflowStore({ path, groupCommit: true, purgeIntervalMs: 0 });
    await store.init();
    const now = Date.now();
    await store.create({ id: 'c-1', type: 't', version: '1', status: 'running', input: {}, correlationId: 'c', createdAt: now, updatedAt: now, owner: 'o', leaseExpiresAt: now + 60_000, epoch: 1, steps: {} });
    const pending = store.commit('c-1', 1, { workflow: { status: 'failed' } });
    await store.close();
    await pending;
    const again = new SqliteWorkflowStore({ path, purgeIntervalMs: 0 });
    await again.init();
    expect((await again.get('c-1'))?.status).toBe('failed');
    await again.close();
  });
});

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

/** The schema of the first release, verbatim: files it wrote must open with this release. */
const RELEASE_1_SCHEMA = `
CREATE TABLE IF NOT EXISTS onex_workflows (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  version TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  output TEXT,
  error TEXT,
  idempotency_key TEXT UNIQUE,
  parent_id TEXT,
  correlation_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deadline_at INTEGER,
  owner TEXT,
  lease_expires_at INTEGER,
  epoch INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS onex_workflows_status ON onex_workflows (status, created_at);
CREATE TABLE IF NOT EXISTS onex_workflow_steps (
  workflow_id TEXT NOT NULL REFERENCES onex_workflows (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (workflow_id, name)
) WITHOUT ROWID;
`;

/** A file as the first release left it: its schema, one running workflow with a step, user_version 0. */
function releaseOneFile(): string {
  const path = freshPath('release-1');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(RELEASE_1_SCHEMA);
  db.prepare(
    `INSERT INTO onex_workflows VALUES ('old', 't', '1.0.0', 'running', '{"n":1}', NULL, NULL, 'old-key', NULL, 'c', 10, 20, NULL, 'gone', 30, 3)`,
  ).run();
  db.prepare(`INSERT INTO onex_workflow_steps VALUES ('old', 's', ?)`).run(JSON.stringify({ name: 's', status: 'completed', attempts: 1, attemptErrors: [], output: 'o' }));
  db.close();
  return path;
}

function userVersion(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

describe('SqliteWorkflowStore', () => {
  it('keeps state across reopening the file', async () => {
    const path = freshPath('reopen');
    const first = new SqliteWorkflowStore({ path });
    await first.init();
    await first.create(record('w1'));
    await first.commit('w1', 1, {
      workflow: { wakeAt: 1234 },
      steps: [{ name: 'a', status: StepStatus.Completed, attempts: 2, attemptErrors: [{ code: 'TIMEOUT', message: 'x', retryable: true }], output: 'o' }],
    });
    await first.requestCancel('w1');
    await first.commit('w1', 1, { workflow: { wakeAt: 5678 } });
    await first.close();
    const second = new SqliteWorkflowStore({ path });
    await second.init();
    const got = await second.get('w1');
    expect(got?.steps['a']).toMatchObject({ attempts: 2, output: 'o', attemptErrors: [{ code: 'TIMEOUT' }] });
    expect(got).toMatchObject({ wakeAt: 5678, cancelRequested: true });
    await second.close();
  });

  it('creates a new file at the current schema version', async () => {
    const path = freshPath('new');
    const store = new SqliteWorkflowStore({ path });
    await store.init();
    await store.close();
    expect(userVersion(path)).toBe(SQLITE_SCHEMA_VERSION);
    expect(SQLITE_SCHEMA_VERSION).toBe(6);
  });

  it('migrates a file of the previous release in place at init()', async () => {
    const path = releaseOneFile();
    expect(userVersion(path)).toBe(0);
    const store = new SqliteWorkflowStore({ path });
    await store.init();
    expect(userVersion(path)).toBe(SQLITE_SCHEMA_VERSION);
    const old = await store.get('old');
    expect(old).toMatchObject({ id: 'old', status: 'running', idempotencyKey: 'old-key', owner: 'gone', leaseExpiresAt: 30, epoch: 3, input: { n: 1 } });
    expect(old?.steps['s']).toMatchObject({ status: 'completed', output: 'o' });
    expect(old?.wakeAt).toBeUndefined();
    expect(old?.cancelRequested).toBeUndefined();
    expect(old?.signalSeq).toBeUndefined();
    // The new columns and tables work on the migrated rows.
    expect(await store.sendSignal('old', { signalId: 's', name: 'go', payload: 1, sentAt: 50 })).toEqual({ status: 'accepted', seq: 1, woke: false });
    expect(await store.signals('old', 0)).toEqual([{ signalId: 's', name: 'go', payload: 1, sentAt: 50, seq: 1 }]);
    const [claimed] = await store.claim({ owner: 'b', leaseMs: 1000, now: 100, limit: 10, runnable: [{ type: 't', version: '1.0.0' }] });
    expect(claimed).toMatchObject({ id: 'old', owner: 'b', epoch: 4 });
    await store.commit('old', 4, { workflow: { wakeAt: 5000 } });
    expect(await store.nextWakeAt([{ type: 't', version: '1.0.0' }])).toBe(5000);
    expect(await store.requestCancel('old')).toMatchObject({ cancelRequested: true });
    expect((await store.create(record('new', { idempotencyKey: 'old-key' }))).created).toBe(false);
    await store.close();
    // Opening it again migrates nothing (an ALTER TABLE run twice would throw).
    const again = new SqliteWorkflowStore({ path });
    await again.init();
    expect(await again.get('old')).toMatchObject({ epoch: 4, cancelRequested: true });
    await again.close();
    expect(userVersion(path)).toBe(SQLITE_SCHEMA_VERSION);
  });

  it('migrates under the write lock: waits for another connection, then migrates once', async () => {
    const path = releaseOneFile();
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    // The migration takes the write lock before it reads the version again: while another connection writes, it
    // waits (here 20 ms), then gives up with a typed error rather than migrate from a version that may be changing.
    const blocked = new SqliteWorkflowStore({ path, busyTimeoutMs: 20 });
    const refused = await rejection(blocked.init());
    expect(refused.code).toBe(ErrorCode.Unavailable);
    expect((refused.cause as { code?: unknown }).code).toBe('SQLITE_BUSY');
    await blocked.close();
    other.exec('ROLLBACK');
    other.close();
    expect(userVersion(path)).toBe(0);
    const first = new SqliteWorkflowStore({ path });
    const second = new SqliteWorkflowStore({ path });
    await first.init();
    await second.init();
    await first.create(record('from-first'));
    expect(await second.get('from-first')).toBeDefined();
    expect(userVersion(path)).toBe(SQLITE_SCHEMA_VERSION);
    await first.close();
    await second.close();
  });

  it('refuses a file written by a newer schema version', async () => {
    const path = freshPath('newer');
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    db.close();
    const store = new SqliteWorkflowStore({ path });
    expect((await rejection(store.init())).code).toBe(ErrorCode.Contract);
    await store.close();
    expect(userVersion(path)).toBe(SQLITE_SCHEMA_VERSION + 1);
  });

  it('spells the finished statuses of its indexes as TERMINAL_WORKFLOW_STATUSES does', () => {
    expect(new Set(FINISHED_STATUSES_V2)).toEqual(new Set(TERMINAL_WORKFLOW_STATUSES));
  });
});

describe('SqliteWorkflowStore purge and indexes (issue 9 #13)', () => {
  async function seedFinished(path: string, count: number): Promise<void> {
    const seed = new SqliteWorkflowStore({ path, retentionMs: 0 });
    await seed.init();
    for (let i = 0; i < count; i += 1) {
      await seed.create(
        record(`done-${i}`, {
          status: WorkflowStatus.Completed,
          updatedAt: 1,
          steps: { s: { name: 's', status: StepStatus.Completed, attempts: 1, attemptErrors: [] } },
        }),
      );
    }
    await seed.create(record('recent-done', { status: WorkflowStatus.Failed }));
    await seed.create(record('old-running', { status: WorkflowStatus.Running, updatedAt: 1, steps: { s: { name: 's', status: StepStatus.Running, attempts: 1, attemptErrors: [] } } }));
    await seed.create(record('old-pending', { updatedAt: 1 }));
    await seed.close();
  }

  it('issue 9 #13: purge deletes only finished workflows past retention, steps included, in batches that yield to the event loop', async () => {
    const path = freshPath('purge');
    await seedFinished(path, 1200);
    const store = new SqliteWorkflowStore({ path, retentionMs: 60_000, purgeIntervalMs: 0 });
    await store.init();
    const reader = new Database(path, { readonly: true });
    const oldFinished = reader.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM onex_workflows WHERE status = 'completed'`);
    const seen: number[] = [];
    let purging = true;
    const probe = (): void => {
      if (!purging) return;
      seen.push(oldFinished.get()!.n);
      setImmediate(probe);
    };
    setImmediate(probe);
    const deleted = await store.purge();
    purging = false;
    expect(deleted).toBe(1200);
    // Other callbacks ran while the purge was part-way: it did not hold the event loop for the whole table.
    expect(seen.some((n) => n > 0 && n < 1200)).toBe(true);
    expect(oldFinished.get()!.n).toBe(0);
    const steps = reader.prepare<[], { workflow_id: string }>('SELECT workflow_id FROM onex_workflow_steps').all();
    expect(steps.map((s) => s.workflow_id)).toEqual(['old-running']);
    expect((await store.list({})).map((w) => w.id).sort()).toEqual(['old-pending', 'old-running', 'recent-done']);
    expect(await store.purge()).toBe(0);
    expect((await store.health()).data).toMatchObject({ purge: { runs: 2, deleted: 1200, failures: 0 } });
    reader.close();
    await store.close();
  });

  it('issue 9 #13: retention 0 keeps finished workflows forever', async () => {
    const path = freshPath('keep');
    await seedFinished(path, 3);
    const store = new SqliteWorkflowStore({ path, retentionMs: 0 });
    await store.init();
    expect(await store.purge()).toBe(0);
    expect(await store.get('done-0')).toBeDefined();
    await store.close();
  });

  it('issue 9 #13: close() stops a purge between two batches without an error', async () => {
    const path = freshPath('purge-close');
    await seedFinished(path, 1200);
    const store = new SqliteWorkflowStore({ path, retentionMs: 60_000, purgeIntervalMs: 0 });
    await store.init();
    const purge = store.purge();
    await store.close();
    const deleted = await purge;
    expect(deleted).toBeGreaterThan(0);
    expect(deleted).toBeLessThan(1200);
  });

  it('issue 9 #13: init() neither purges nor waits for another connection\'s write lock', async () => {
    const path = freshPath('init-locked');
    await seedFinished(path, 1);
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    // The previous release purged inside init(): here it waited busy_timeout (5 s) for the lock, then threw.
    const store = new SqliteWorkflowStore({ path, retentionMs: 60_000 });
    await store.init();
    expect(await store.get('done-0')).toBeDefined();
    other.exec('ROLLBACK');
    other.close();
    await store.purge();
    expect(await store.get('done-0')).toBeUndefined();
    expect((await store.health()).data).toMatchObject({ purge: { deleted: 1 } });
    await store.close();
  });

  it('issue 9 #13: a background purge that meets SQLITE_BUSY is reported to onPurgeError and counted, never thrown', async () => {
    const path = freshPath('purge-busy');
    await seedFinished(path, 1);
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const errors: OnexError[] = [];
    const store = new SqliteWorkflowStore({
      path,
      retentionMs: 60_000,
      purgeIntervalMs: 10,
      onPurgeError: (error) => {
        errors.push(error);
        // A failing logger must not stop the schedule either.
        throw new Error('logger down');
      },
    });
    await store.init();
    await vi.waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(2), { timeout: 15_000, interval: 20 });
    expect(errors[0]?.code).toBe(ErrorCode.Unavailable);
    expect((errors[0]?.cause as { code?: unknown } | undefined)?.code).toBe('SQLITE_BUSY');
    expect((await store.health())).toMatchObject({ status: 'healthy', data: { purge: { failures: errors.length, deleted: 0 } } });
    expect(await store.get('done-0')).toBeDefined();
    other.exec('ROLLBACK');
    other.close();
    // The next run, once the lock is free, does the work.
    await vi.waitFor(async () => expect(await store.get('done-0')).toBeUndefined(), { timeout: 15_000, interval: 20 });
    await store.close();
  });

  it('issue 9 #13: claim, renew, release, requestCancel, commit, nextWakeAt and purge go by index, never by a scan of onex_workflows', async () => {
    const path = freshPath('plans');
    const store = new SqliteWorkflowStore({ path, retentionMs: 0 });
    await store.init();
    // A realistic mix, then ANALYZE: the plans must hold with statistics too, not only with the planner's defaults.
    for (let i = 0; i < 300; i += 1) {
      const finished = i % 4 !== 0;
      await store.create(
        record(`w${i}`, {
          status: finished ? WorkflowStatus.Completed : WorkflowStatus.Running,
          owner: `o${i % 3}`,
          ...(i % 10 === 0 ? { wakeAt: Date.now() + i } : {}),
        }),
      );
    }
    await store.close();
    const db = new Database(path);
    const runnable = runnableParam([{ type: 't', version: '1.0.0' }]);
    const claimParams = { owner: 'o1', leaseExpiresAt: 2, now: 1, limit: 100, runnable };
    const held = { id: 'w1', epoch: 1, owner: 'o1' };
    const cases: [string, string, readonly unknown[], RegExp[]][] = [
      ['claim', SQLITE_STATEMENTS.claim, [claimParams], [/USING INDEX onex_workflows_claimable/]],
      ['claimWithOwn', SQLITE_STATEMENTS.claimWithOwn, [claimParams], [/USING INDEX onex_workflows_claimable/, /USING INDEX onex_workflows_unfinished_owner \(owner=\?\)/]],
      ['renew', SQLITE_STATEMENTS.renew, [{ ...held, leaseExpiresAt: 5 }], [/USING INDEX sqlite_autoindex_onex_workflows_1 \(id=\?\)/]],
      ['release', SQLITE_STATEMENTS.release, [held], [/USING INDEX sqlite_autoindex_onex_workflows_1 \(id=\?\)/]],
      ['requestCancel', SQLITE_STATEMENTS.requestCancel, ['w1'], [/USING INDEX sqlite_autoindex_onex_workflows_1 \(id=\?\)/]],
      [
        'commit',
        SQLITE_STATEMENTS.commit,
        [{ id: 'w1', epoch: 1, status: 'running', output: null, error: null, updatedAt: 1, deadlineAt: null, wakeAt: null, seenSignalSeq: null }],
        [/USING INDEX sqlite_autoindex_onex_workflows_1 \(id=\?\)/],
      ],
      ['commit (updatedAt only)', commitStatement(CommitField.UpdatedAt), [{ id: 'w1', epoch: 1, updatedAt: 1 }], [/USING INDEX sqlite_autoindex_onex_workflows_1 \(id=\?\)/]],
      ['signalState', SQLITE_STATEMENTS.signalState, ['w1'], [/USING INDEX sqlite_autoindex_onex_workflows_1 \(id=\?\)/]],
      ['bumpSignal', SQLITE_STATEMENTS.bumpSignal, [{ id: 'w1', seq: 1, wake: 0, sentAt: 1 }], [/USING INDEX sqlite_autoindex_onex_workflows_1 \(id=\?\)/]],
      ['signalsAfter', SQLITE_STATEMENTS.signalsAfter, ['w1', 0], [/onex_workflow_signals USING INDEX onex_workflow_signals_seq \(workflow_id=\? AND seq>\?\)/]],
      ['nextWakeAt', SQLITE_STATEMENTS.nextWakeAt, [{ runnable }], [/USING INDEX onex_workflows_wake/]],
      ['purgeBatch', SQLITE_STATEMENTS.purgeBatch, [{ cutoff: 5, limit: 500 }], [/USING (COVERING )?INDEX onex_workflows_finished \(status=\? AND updated_at<\?\)/, /onex_workflow_steps USING PRIMARY KEY/]],
      ['stepsOfMany', SQLITE_STATEMENTS.stepsOfMany, ['["w1"]'], [/onex_workflow_steps USING PRIMARY KEY \(workflow_id=\?\)/]],
    ];
    for (const analyzed of [false, true]) {
      if (analyzed) db.exec('ANALYZE');
      for (const [name, sql, params, expected] of cases) {
        const plan = db
          .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
          .all(...params)
          .map((row) => row.detail);
        const scans = plan.filter((detail) => /^SCAN onex_workflows\b/.test(detail));
        expect({ name, analyzed, scans }).toEqual({ name, analyzed, scans: [] });
        for (const pattern of expected) expect({ name, analyzed, plan: plan.some((d) => pattern.test(d)) }).toEqual({ name, analyzed, plan: true });
      }
    }
    db.close();
  });
});

describe('MemoryWorkflowStore', () => {
  it('forgets the oldest finished workflows past maxFinished', async () => {
    const store = new MemoryWorkflowStore({ maxFinished: 2 });
    for (const id of ['a', 'b']) {
      await store.create(record(id, { idempotencyKey: id }));
      await store.commit(id, 1, { workflow: { status: WorkflowStatus.Completed } });
    }
    await store.create(record('c', { idempotencyKey: 'c', status: WorkflowStatus.Cancelled }));
    await store.create(record('live'));
    expect(await store.get('a')).toBeUndefined();
    expect(await store.get('b')).toBeDefined();
    expect(await store.get('c')).toBeDefined();
    expect(await store.get('live')).toBeDefined();
    expect((await store.health()).data).toMatchObject({ workflows: 3, unfinished: 1 });
    expect((await store.create(record('a2', { idempotencyKey: 'a' }))).created).toBe(true);
    // An evicted workflow is gone for every operation, not only get.
    expect((await rejection(store.commit('a', 1, {}))).code).toBe(ErrorCode.NotFound);
    expect(await store.requestCancel('a')).toBeUndefined();
  });
});
