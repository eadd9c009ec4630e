import Database from 'better-sqlite3';
import { ErrorCode, type OnexError } from '@onex/core';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteTransactionManager, type SqliteTransaction } from './sqlite-transaction-manager.js';

const dbs: Database.Database[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});
function setup(timeoutMs = 1_000) {
  const db = new Database(':memory:');
  dbs.push(db);
  db.exec('CREATE TABLE t (v INTEGER)');
  const manager = new SqliteTransactionManager({ database: db, timeoutMs });
  const count = () => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
  return { db, manager, count };
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('SqliteTransactionManager', () => {
  it('serializes async transactions on one connection', async () => {
    const { manager, count } = setup();
    const order: string[] = [];
    const work = (name: string) =>
      manager.run(async (tx) => {
        order.push(`${name}:begin`);
        tx.run('INSERT INTO t VALUES (1)');
        await sleep(10);
        order.push(`${name}:end`);
      });
    await Promise.all([work('a'), work('b')]);
    expect(order).toEqual(['a:begin', 'a:end', 'b:begin', 'b:end']);
    expect(count()).toBe(2);
    expect(manager.stats()).toMatchObject({ committed: 2, rolledBack: 0, queued: 0 });
  });

  it('rolls back on throw, on timeout and on abort; a dead handle refuses statements', async () => {
    const { manager, count } = setup(30);
    await expect(
      manager.run(async (tx) => {
        tx.run('INSERT INTO t VALUES (1)');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    let kept: SqliteTransaction | undefined;
    const timedOut = await manager
      .run(async (tx) => {
        kept = tx;
        tx.run('INSERT INTO t VALUES (2)');
        await sleep(100);
      })
      .catch((e: unknown) => e as OnexError);
    expect(timedOut?.code).toBe(ErrorCode.Timeout);
    expect(() => kept?.run('INSERT INTO t VALUES (3)')).toThrow(/no longer open/);
    const controller = new AbortController();
    const aborted = manager.run(async (tx) => {
      tx.run('INSERT INTO t VALUES (4)');
      await sleep(50);
    }, { signal: controller.signal, timeoutMs: 1_000 });
    setTimeout(() => controller.abort(), 5);
    await expect(aborted).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect(count()).toBe(0);
    expect(manager.stats()).toMatchObject({ committed: 0, rolledBack: 3, timedOut: 1 });
  });

  it('exclusive statements wait for the open transaction', async () => {
    const { manager, count } = setup();
    const running = manager.run(async (tx) => {
      tx.run('INSERT INTO t VALUES (1)');
      await sleep(20);
      throw new Error('rollback');
    });
    const seen = await manager.exclusive(() => count());
    expect(seen).toBe(0); // never saw the uncommitted row, and did not join the transaction
    await expect(running).rejects.toThrow('rollback');
    expect(manager.exclusive(() => 42)).toBe(42); // free connection: synchronous
  });

  it('stops waiting for the connection when the signal aborts', async () => {
    const { manager } = setup();
    const first = manager.run(() => sleep(30));
    const controller = new AbortController();
    const second = manager.run(async () => 'ran', { signal: controller.signal });
    controller.abort();
    await expect(second).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    await first;
    expect(await manager.run(async () => 'next')).toBe('next');
    expect(manager.health().status).toBe('healthy');
  });
});
