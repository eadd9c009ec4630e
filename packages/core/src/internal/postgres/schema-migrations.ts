import pg from 'pg';
import { ErrorCode } from '../../errors/error-codes.js';
import { OnexError } from '../../errors/onex-error.js';
import { classifyPostgresError } from './postgres-errors.js';

// The one migration convention of the ONEX PostgreSQL stores: migrations are rows of `<schema>.schema_migrations`
// keyed by (component, version), applied in one transaction under the advisory lock `onex.schema_migrations:<schema>`,
// so stores of several packages share a schema and instances starting together migrate once.

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The schema name, checked: a plain identifier (letters, digits, `_`; at most 63, not starting with a digit), so it
 * can be quoted into DDL and prepared-statement names.
 *
 * @param owner the class named in the error (`PostgresReducerStore`).
 * @throws OnexError `VALIDATION` for anything else.
 * @internal for ONEX packages; not part of the public API.
 *
 * @example
 * ```ts
 * import { checkSchemaName } from '@onex/core/internal/postgres';
 * checkSchemaName('onex', 'MyStore'); // 'onex'
 * ```
 */
export function checkSchemaName(schema: string, owner: string): string {
  if (!IDENTIFIER.test(schema)) {
    throw new OnexError(ErrorCode.Validation, `${owner} schema must be a plain identifier (letters, digits, _; at most 63)`, {
      context: { schema: schema.slice(0, 100) },
    });
  }
  return schema;
}

/**
 * One component's migrations: `steps[v]` takes it from version v to v + 1.
 *
 * @internal for ONEX packages; not part of the public API.
 *
 * @example
 * ```ts
 * import type { ComponentMigrations } from '@onex/core/internal/postgres';
 * const migrations: ComponentMigrations = {
 *   component: 'my-store',
 *   owner: 'MyStore',
 *   steps: [(s) => `CREATE TABLE ${s}.my_rows (id text PRIMARY KEY)`],
 * };
 * ```
 */
export interface ComponentMigrations {
  /** Which store's rows of `schema_migrations` these are. */
  readonly component: string;
  /** `steps[v]` is the DDL from version v to v + 1; it gets the quoted schema name. */
  readonly steps: readonly ((quotedSchema: string) => string)[];
  /** The class named in errors. */
  readonly owner: string;
}

/**
 * Creates or migrates `schema` for one component. Up to date (every start but the first of a release): one read, no
 * lock, no DDL (which needs CREATE rights). Otherwise one transaction under `pg_advisory_xact_lock` on
 * `onex.schema_migrations:<schema>` (released at commit or rollback, also when the connection drops), the versions
 * read again under it, so a second instance starting at the same time finds nothing left to do.
 *
 * @throws OnexError `CONTRACT` when the schema has a newer version than this release knows; what the queries fail
 *   with otherwise (classified by {@link classifyPostgresError}).
 * @internal for ONEX packages; not part of the public API.
 *
 * @example
 * ```ts
 * // @example-compile-only
 * import pg from 'pg';
 * import { migrateSchema } from '@onex/core/internal/postgres';
 * const pool = new pg.Pool({ connectionString: 'postgres://127.0.0.1/onex' });
 * await migrateSchema(pool, 'onex', { component: 'my-store', owner: 'MyStore', steps: [(s) => `CREATE TABLE ${s}.my_rows (id text)`] });
 * ```
 */
export async function migrateSchema(pool: pg.Pool, schema: string, migrations: ComponentMigrations): Promise<void> {
  const { component, steps, owner } = migrations;
  const s = pg.escapeIdentifier(schema);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw classifyPostgresError(error, 'init', owner);
  }
  let broken = false;
  try {
    if ((await appliedVersion(client, schema, component)) === steps.length) return;
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`onex.schema_migrations:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
      component text NOT NULL,
      version integer NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (component, version))`);
    const from = (await appliedVersion(client, schema, component)) ?? 0;
    if (from > steps.length) {
      throw new OnexError(ErrorCode.Contract, `${owner}: schema ${schema} has ${component} version ${from}; this release knows up to ${steps.length}`, {
        context: { version: from, supported: steps.length },
      });
    }
    for (let version = from; version < steps.length; version += 1) {
      await client.query(steps[version]!(s));
      await client.query(`INSERT INTO ${s}.schema_migrations (component, version) VALUES ($1, $2)`, [component, version + 1]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw classifyPostgresError(error, 'init', owner);
  } finally {
    client.release(broken);
  }
}

/** The highest applied version of the component, or undefined when there is no migrations table yet. */
async function appliedVersion(client: pg.PoolClient, schema: string, component: string): Promise<number | undefined> {
  const table = `${pg.escapeIdentifier(schema)}.schema_migrations`;
  const exists = await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [table]);
  if (exists.rows[0]?.found !== true) return undefined;
  const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${table} WHERE component = $1`, [component]);
  return rows[0]?.version ?? 0;
}
