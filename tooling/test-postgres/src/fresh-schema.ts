import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A schema name of its own for one test file, and how to drop it afterwards. */
export interface TestSchema {
  /** A new, unused schema name (a plain lowercase identifier: no quoting needed). */
  readonly name: string;
  /** Drops the schema and everything in it (`DROP SCHEMA … CASCADE`); nothing when it was never created. */
  drop(): Promise<void>;
}

/**
 * Gives a test file a schema name nobody else uses on the server at `url` (`<prefix>_<random>`), so test files
 * sharing one server never see each other's tables. The schema is not created: the store under test creates it in
 * its own `init()` (which is part of what is tested). Call `drop()` in `afterAll` to leave a shared `DATABASE_URL`
 * server clean.
 *
 * @example
 * ```ts
 * const schema = await freshSchema(url, 'wf');
 * afterAll(() => schema.drop());
 * const store = new PostgresWorkflowStore({ connectionString: url, schema: schema.name });
 * ```
 */
export async function freshSchema(url: string, prefix = 'test'): Promise<TestSchema> {
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(prefix)) throw new Error(`schema prefix must be a short lowercase identifier, got ${JSON.stringify(prefix)}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (;;) {
      const name = `${prefix}_${randomBytes(6).toString('hex')}`;
      const taken = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name]);
      if (taken.rowCount === 0) return { name, drop: () => dropSchema(url, name) };
    }
  } finally {
    await client.end();
  }
}

async function dropSchema(url: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(name)} CASCADE`);
  } finally {
    await client.end();
  }
}
