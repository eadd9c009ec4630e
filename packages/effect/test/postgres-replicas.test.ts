import { createSilentLogger, ErrorCode, isOnexError, type Result } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEffectNode, defineOperation, NodeEffect, type OperationContext, type TransactionRunOptions } from '../src/index.js';
import { PostgresIdempotencyStore, PostgresTransactionManager } from '../src/postgres.js';

// Three replicas of one effect node, each with its own pool, on one PostgreSQL schema (the real server of the vitest
// globalSetup: never skipped). The side effect is a row written in the operation's transaction, and the idempotency
// completion commits with it: exactly-once across replicas.

const url = postgresUrl();
const logger = createSilentLogger();
let schema: TestSchema;
let charges = '';
const admin = new pg.Pool({ connectionString: url, max: 2 });
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  schema = await freshSchema(url, 'effect_replicas');
  charges = `${pg.escapeIdentifier(schema.name)}.charges`;
  // The store creates the schema on init; the application's own table lives beside it.
  const bootstrap = new PostgresIdempotencyStore({ connectionString: url, schema: schema.name });
  await bootstrap.init();
  await bootstrap.close();
  await admin.query(`CREATE TABLE ${charges} (id serial PRIMARY KEY, order_id text NOT NULL, amount integer NOT NULL, replica text NOT NULL)`);
});

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await schema.drop();
  await admin.end();
});

/** A promise that settles when the test says so. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

interface Hooks {
  /** Called as an operation starts, with its replica; resolves when the operation may write. */
  onStart: (replica: string) => Promise<void>;
}

const ChargeOutput = z.object({ chargeId: z.number().int(), replica: z.string() });

function charge(replica: string, hooks: Hooks, timeoutMs?: number) {
  return defineOperation({
    name: 'charge',
    input: z.object({ orderId: z.string(), amount: z.number().int().positive() }),
    output: ChargeOutput,
    transactional: true,
    retry: { maxAttempts: 1 },
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    run: async ({ orderId, amount }, ctx: OperationContext<pg.PoolClient>) => {
      await hooks.onStart(replica);
      const { rows } = await ctx.tx.query<{ id: number }>(`INSERT INTO ${charges} (order_id, amount, replica) VALUES ($1, $2, $3) RETURNING id`, [
        orderId,
        amount,
        replica,
      ]);
      return { chargeId: rows[0]!.id, replica };
    },
  });
}

async function replicas(hooks: Hooks) {
  const made = [];
  for (const name of ['r1', 'r2', 'r3']) {
    const pool = new pg.Pool({ connectionString: url, max: 4, application_name: `effect-${name}` });
    const transactions = new PostgresTransactionManager({ pool });
    const idempotencyStore = new PostgresIdempotencyStore({ transactions, schema: schema.name });
    const node = new NodeEffect(defineEffectNode({ name: 'payments', version: '1.0.0', operations: [charge(name, hooks)] }), { transactions, idempotencyStore, logger, purgeIntervalMs: 0 });
    await node.initialize();
    expect(node.exactlyOnceOperations).toEqual(['charge']);
    closers.push(async () => {
      await node.shutdown();
      await idempotencyStore.close();
      await transactions.close();
      await pool.end();
    });
    made.push(node);
  }
  return made;
}

async function chargesOf(orderId: string): Promise<{ id: number; replica: string }[]> {
  return (await admin.query<{ id: number; replica: string }>(`SELECT id, replica FROM ${charges} WHERE order_id = $1`, [orderId])).rows;
}

type Charged = Result<z.output<typeof ChargeOutput>>;

/** A caller refused because another replica holds the key: retryable, marked as the idempotency layer's. */
function isInProgressConflict(r: Charged): boolean {
  return !r.ok && isOnexError(r.error) && r.error.code === ErrorCode.Conflict && r.error.retryable && r.error.context?.['idempotency'] === 'in_progress';
}

describe('PostgreSQL effect replicas: exactly-once', () => {
  it('50 concurrent calls with one key over 3 replicas run the effect once; every caller gets its result, at once or on retry', async () => {
    const started: string[] = [];
    const holder = gate<string>();
    const mayWrite = gate();
    const hooks: Hooks = {
      onStart: async (replica) => {
        started.push(replica);
        holder.open(replica);
        if (started.length > 1) mayWrite.open(); // a second run is the bug under test: let both finish and fail below
        await mayWrite.promise;
      },
    };
    const nodes = await replicas(hooks);
    const input = { orderId: 'order-1', amount: 42 };
    const calls = Array.from({ length: 50 }, (_, i) => {
      const replica = `r${String((i % 3) + 1)}`;
      return { replica, answer: nodes[i % 3]!.execute('charge', input, { idempotencyKey: 'order-1:charge' }) };
    });
    // While the holder's operation waits, every call on the two other replicas is answered: the key is in progress.
    const holding = await holder.promise;
    const others = calls.filter((c) => c.replica !== holding);
    for (const r of await Promise.all(others.map((c) => c.answer))) expect(isInProgressConflict(r)).toBe(true);
    mayWrite.open();
    const answers = await Promise.all(calls.map((c) => c.answer));

    expect(started).toEqual([holding]);
    const rows = await chargesOf('order-1');
    expect(rows).toEqual([{ id: rows[0]!.id, replica: holding }]);
    const expected = { ok: true, value: { chargeId: rows[0]!.id, replica: holding } };
    answers.forEach((r, i) => {
      if (calls[i]!.replica === holding) expect(r).toEqual(expected);
      else expect(isInProgressConflict(r)).toBe(true);
    });
    // The refused callers retry: each replays the stored result, nothing runs again.
    for (const c of others) expect(await nodes[Number(c.replica.slice(1)) - 1]!.execute('charge', input, { idempotencyKey: 'order-1:charge' })).toEqual(expected);
    expect(started).toEqual([holding]);
    expect(await chargesOf('order-1')).toHaveLength(1);
    const stored = await admin.query<{ status: string; result: string }>(
      `SELECT status, result FROM ${pg.escapeIdentifier(schema.name)}.idempotency_keys WHERE key = 'payments:charge:order-1:charge'`,
    );
    expect(stored.rows.map((row) => ({ status: row.status, result: JSON.parse(row.result) as unknown }))).toEqual([{ status: 'completed', result: expected.value }]);
  });

  it('free-running races, 10 keys x 50 calls over 3 replicas: one effect per key, one result per key', async () => {
    const runs = new Map<string, number>();
    const nodes = await replicas({ onStart: async () => undefined });
    const keys = Array.from({ length: 10 }, (_, k) => `race-${String(k)}`);
    const calls = keys.flatMap((key) =>
      Array.from({ length: 50 }, (_, i) => ({ key, node: nodes[i % 3]!, answer: nodes[i % 3]!.execute('charge', { orderId: key, amount: 1 }, { idempotencyKey: key }) })),
    );
    const answers = await Promise.all(calls.map((c) => c.answer));
    for (const key of keys) {
      const rows = await chargesOf(key);
      expect(rows).toHaveLength(1);
      runs.set(key, rows[0]!.id);
    }
    for (const [i, r] of answers.entries()) {
      const call = calls[i]!;
      const expected = { ok: true, value: { chargeId: runs.get(call.key), replica: (await chargesOf(call.key))[0]!.replica } };
      if (r.ok) expect(r).toEqual(expected);
      else {
        expect(isInProgressConflict(r)).toBe(true);
        // Every run has finished by now: the retry replays.
        expect(await call.node.execute('charge', { orderId: call.key, amount: 1 }, { idempotencyKey: call.key })).toEqual(expected);
      }
    }
    for (const key of keys) expect(await chargesOf(key)).toHaveLength(1);
  });

  it('a renewal refused because the run\'s own transaction just completed the key is no lost lease', async () => {
    // The renewal waits for the row the operation's transaction completed, and is answered after its COMMIT: "no
    // longer held". The run must answer its result, not a lease-lost CONFLICT.
    const renewCalled = gate();
    const renewAnswered = gate<boolean>();
    let armed = false;
    class WatchedStore extends PostgresIdempotencyStore {
      override async renew(key: string, token: string): Promise<boolean> {
        const watched = armed;
        if (watched) renewCalled.open();
        const held = await super.renew(key, token);
        if (watched) renewAnswered.open(held);
        return held;
      }
    }
    class SlowCommitManager extends PostgresTransactionManager {
      override async run<T>(fn: (tx: pg.PoolClient, signal: AbortSignal) => Promise<T>, options?: TransactionRunOptions): Promise<T> {
        const value = await super.run(async (tx, signal) => {
          const produced = await fn(tx, signal); // the completion is written, not committed
          armed = true;
          await renewCalled.promise; // a renewal is now blocked on the completed row
          return produced;
        }, options);
        await renewAnswered.promise; // the renewal's "false" reaches the node before the run sees its COMMIT
        return value;
      }
    }
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const transactions = new SlowCommitManager({ pool });
    const idempotencyStore = new WatchedStore({ transactions, schema: schema.name, leaseMs: 60 });
    const node = new NodeEffect(
      defineEffectNode({
        name: 'payments',
        version: '1.0.0',
        // With a timeout of its own, the attempt is stopped at once by a lost lease: the case that would answer CONFLICT.
        operations: [charge('solo', { onStart: async () => undefined }, 10_000)],
      }),
      { transactions, idempotencyStore, logger, purgeIntervalMs: 0 },
    );
    await node.initialize();
    closers.push(async () => {
      await node.shutdown();
      await pool.end();
    });
    const r = await node.execute('charge', { orderId: 'order-renew', amount: 1 }, { idempotencyKey: 'order-renew' });
    expect(await renewAnswered.promise).toBe(false);
    const rows = await chargesOf('order-renew');
    expect(r).toEqual({ ok: true, value: { chargeId: rows[0]!.id, replica: 'solo' } });
    expect(rows).toHaveLength(1);
  });
});
