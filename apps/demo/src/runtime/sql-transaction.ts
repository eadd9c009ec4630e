import type { SqliteTransaction } from '@onex/effect/sqlite';
import type Database from 'better-sqlite3';
import type pg from 'pg';

/**
 * The little SQL an effect node's operations need, the same on SQLite and PostgreSQL: `?` placeholders, rows as
 * plain objects. The operations are written once against it; the store file picks the adapter.
 *
 * @example
 * ```ts
 * const row = await sql.get<{ available: number }>('SELECT available FROM stock WHERE sku = ?', 'MUG-ONEX');
 * ```
 */
export interface SqlTransaction {
  get<TRow>(sql: string, ...params: unknown[]): Promise<TRow | undefined>;
  all<TRow>(sql: string, ...params: unknown[]): Promise<TRow[]>;
  run(sql: string, ...params: unknown[]): Promise<void>;
  /**
   * Serialises this transaction with every other one naming one of `keys`, until it ends. PostgreSQL replicas
   * running concurrently need it (advisory locks, taken in sorted order so two transactions never wait in a cycle);
   * SQLite runs one write transaction at a time already, so it does nothing there.
   */
  lock(keys: readonly string[]): Promise<void>;
}

/** A SQLite transaction (or connection) as a {@link SqlTransaction}. */
export function sqliteSql(tx: Pick<SqliteTransaction, 'get' | 'all' | 'run'>): SqlTransaction {
  return {
    get: async <TRow>(sql: string, ...params: unknown[]) => tx.get<TRow>(sql, ...params),
    all: async <TRow>(sql: string, ...params: unknown[]) => tx.all<TRow>(sql, ...params),
    run: async (sql: string, ...params: unknown[]) => {
      tx.run(sql, ...params);
    },
    lock: async () => {},
  };
}

/** A better-sqlite3 connection (reads outside a transaction) as the `get`/`all`/`run` of a SQLite transaction. */
export function sqliteConnection(db: Database.Database): Pick<SqliteTransaction, 'get' | 'all' | 'run'> {
  return {
    get: <TRow>(sql: string, ...params: unknown[]) => db.prepare(sql).get(...params) as TRow | undefined,
    all: <TRow>(sql: string, ...params: unknown[]) => db.prepare(sql).all(...params) as TRow[],
    run: (sql: string, ...params: unknown[]) => db.prepare(sql).run(...params),
  };
}

/** `?` placeholders as PostgreSQL's `$1, $2, …` (the demo's SQL has no `?` inside string literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${(n += 1)}`);
}

/** A node-postgres client (in a transaction, or a pool for plain reads) as a {@link SqlTransaction}. */
export function postgresSql(client: Pick<pg.ClientBase, 'query'>): SqlTransaction {
  return {
    get: async <TRow>(sql: string, ...params: unknown[]) => (await client.query(numbered(sql), params)).rows[0] as TRow | undefined,
    all: async <TRow>(sql: string, ...params: unknown[]) => (await client.query(numbered(sql), params)).rows as TRow[],
    run: async (sql: string, ...params: unknown[]) => {
      await client.query(numbered(sql), params);
    },
    lock: async (keys) => {
      for (const key of [...new Set(keys)].sort()) await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
    },
  };
}
