import { setTimeout as sleep } from 'node:timers/promises';
import { createSilentLogger, ErrorCode, type Result } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineReducerNode, defineStateMachine, NodeReducer, reduceErrorReason, type AppliedEvent } from '../src/index.js';
import { PostgresReducerStore } from '../src/postgres.js';

// Three replicas of one reducer node, each with its own pool, on one PostgreSQL schema (the real server of the vitest
// globalSetup: never skipped). The store's per-aggregate advisory lock queues the replicas' appends in the order they
// reach the database, so an aggregate's state and history follow the arrival order of its events across replicas.

const url = postgresUrl();
const logger = createSilentLogger();
const admin = new pg.Pool({ connectionString: url, max: 3 });
const closers: (() => Promise<void>)[] = [];
let schema: TestSchema;
const NAMES = ['reducer-r1', 'reducer-r2', 'reducer-r3'];

beforeAll(async () => {
  schema = await freshSchema(url, 'reducer_replicas');
});

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await schema.drop();
  await admin.end();
});

// A ledger whose context is the list of what was added, in the order it was applied; CLOSE ends it, and an ADD after
// it is refused: which events are accepted depends on their order too.
const ledgerMachine = defineStateMachine({
  name: 'ledger',
  states: ['open', 'closed'],
  initial: 'open',
  terminal: ['closed'],
  context: z.object({ items: z.array(z.string()).default([]), total: z.number().default(0) }),
  events: { ADD: z.object({ item: z.string(), amount: z.number() }), CLOSE: z.object({}) },
  intents: {},
  transitions: [
    { from: 'open', on: 'ADD', to: 'open', update: (ctx, p) => ({ items: [...ctx.items, p.item], total: ctx.total + p.amount }) },
    { from: 'open', on: 'CLOSE', to: 'closed' },
  ],
});

type Applied = Result<AppliedEvent<typeof ledgerMachine>>;

async function replicas(namespace: string) {
  const nodes = [];
  for (const name of NAMES) {
    const pool = new pg.Pool({ connectionString: url, max: 4, application_name: name });
    const store = new PostgresReducerStore({ pool, schema: schema.name, namespace });
    const node = new NodeReducer(defineReducerNode({ machine: ledgerMachine, version: '1.0.0' }), { store, logger });
    await node.initialize();
    closers.push(async () => {
      await node.shutdown();
      await pool.end();
    });
    nodes.push(node);
  }
  return nodes;
}

/** Waits until exactly `n` of the replicas' connections wait for a lock (a condition, not a delay). */
async function replicasWaiting(n: number): Promise<void> {
  for (;;) {
    const { rows } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ANY($1) AND wait_event_type = 'Lock'", [NAMES]);
    const waiting = rows[0]!.n;
    if (waiting === n) return;
    if (waiting > n) throw new Error(`${String(waiting)} replicas wait for a lock, expected ${String(n)}`);
    await sleep(2);
  }
}

function ok(r: Applied): AppliedEvent<typeof ledgerMachine> {
  if (!r.ok) throw r.error;
  return r.value;
}

describe('PostgreSQL reducer replicas: arrival order', () => {
  it('interleaved events of one aggregate over 3 replicas are applied in the order they arrive', async () => {
    const nodes = await replicas('arrival');
    const aggregate = 'ledger-1';
    ok(await nodes[0]!.apply(aggregate, { id: 'open', type: 'ADD', payload: { item: 'open', amount: 0 } }));
    const table = `${pg.escapeIdentifier(schema.name)}.reducer_aggregates`;
    const arrived: string[] = ['open'];
    const answers: { id: string; answer: Promise<Applied> }[] = [];
    for (let round = 0; round < 10; round += 1) {
      // Hold the aggregate, then let one replica's event at a time queue behind the lock: the queue's order is the
      // arrival order, rotated across the replicas from round to round.
      const holder = await admin.connect();
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM ${table} WHERE namespace = 'arrival' AND aggregate_id = $1 FOR UPDATE`, [aggregate]);
      const batch: Promise<Applied>[] = [];
      for (let slot = 0; slot < 3; slot += 1) {
        const node = nodes[(round + slot) % 3]!;
        const id = `r${String(round)}-${String(slot)}`;
        const event =
          round === 9 && slot === 1 ? ({ id, type: 'CLOSE', payload: {} } as const) : ({ id, type: 'ADD', payload: { item: id, amount: 1 } } as const);
        const answer = node.apply(aggregate, event);
        batch.push(answer);
        answers.push({ id, answer });
        arrived.push(id);
        await replicasWaiting(slot + 1);
      }
      await holder.query('COMMIT');
      holder.release();
      await Promise.all(batch);
    }

    // The event after CLOSE arrived last: refused by the machine, as on one process.
    const settled = await Promise.all(answers.map(async ({ id, answer }) => ({ id, r: await answer })));
    const refused = settled.filter(({ r }) => !r.ok);
    expect(refused.map(({ id }) => id)).toEqual(['r9-2']);
    const refusal = refused[0]!.r;
    expect(!refusal.ok && refusal.error.code).toBe(ErrorCode.Conflict);
    expect(!refusal.ok && reduceErrorReason(refusal.error)).toBe('ILLEGAL_TRANSITION');

    const applied = arrived.slice(0, -1); // all but the refused one, in arrival order
    for (const node of nodes) {
      const history = await node.history(aggregate, { limit: 1000 });
      expect(history.map((r) => r.eventId)).toEqual(applied);
      expect(history.map((r) => r.version)).toEqual(applied.map((_, i) => i + 1));
      expect(await node.get(aggregate)).toMatchObject({
        state: 'closed',
        version: applied.length,
        context: { items: applied.filter((id) => id !== 'r9-1'), total: applied.length - 2 },
      });
      // The row lock left no race to lose: nothing was re-reduced.
      expect(node.stats().conflicts).toBe(0);
    }
    // Each answer is the state right after its own event: the versions follow arrival order too.
    for (const { id, r } of settled) if (r.ok) expect(r.value.version).toBe(applied.indexOf(id) + 1);
  });

  it('free-running: 3 replicas x 20 concurrent events on one aggregate, no lost update, each replica in its own order', async () => {
    const nodes = await replicas('free');
    const aggregate = 'ledger-2';
    const sent = nodes.map((_, n) => Array.from({ length: 20 }, (_, i) => `n${String(n)}-${String(i)}`));
    const answers = await Promise.all(
      sent.flatMap((ids, n) => ids.map((id) => nodes[n]!.apply(aggregate, { id, type: 'ADD', payload: { item: id, amount: 1 } }))),
    );
    for (const r of answers) ok(r);
    const snapshot = await nodes[0]!.get(aggregate);
    expect(snapshot).toMatchObject({ state: 'open', version: 60, context: { total: 60 } });
    const items = (snapshot?.context as { items: string[] }).items;
    expect([...items].sort()).toEqual(sent.flat().sort());
    // An event is applied only after the ones that arrived before it at the same replica.
    for (const ids of sent) expect(items.filter((item) => ids.includes(item))).toEqual(ids);
    const history = await nodes[1]!.history(aggregate, { limit: 1000 });
    expect(history.map((r) => r.eventId)).toEqual(items);
    for (const node of nodes) expect(node.stats()).toMatchObject({ conflicts: 0, applied: 20 });
    // Replays on any replica are answered from the store.
    const replay = ok(await nodes[2]!.apply(aggregate, { id: 'n0-0', type: 'ADD', payload: { item: 'n0-0', amount: 1 } }));
    expect(replay).toMatchObject({ duplicate: true, version: items.indexOf('n0-0') + 1 });
  });
});
