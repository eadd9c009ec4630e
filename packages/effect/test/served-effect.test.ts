// End to end: an effect node with an HTTP effect (against a fake external API) and a transactional SQLite
// operation, served with core's serveNode and called over HTTP with createNodeClient / createEffectClient.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createNodeClient, createSilentLogger, ErrorCode, OnexError, serveNode, type ServedNode } from '@onex/core';
import {
  createEffectClient,
  createHttpEffect,
  defineEffectContract,
  defineEffectNode,
  defineOperation,
  NodeEffect,
  type OperationContext,
  type HttpEffect,
} from '../src/index.js';
import { SqliteIdempotencyStore, SqliteTransactionManager, type SqliteTransaction } from '../src/sqlite.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

let api: Server;
let apiUrl = '';
const apiHits: { key: string | undefined; body: string }[] = [];
let dir = '';
let db: Database.Database;
let served: ServedNode;
let flaky = 0;

// Shared with callers (a common package in real life): the operations give types and output schemas.
let payments: HttpEffect;

const charge = defineOperation({
  name: 'charge',
  input: z.object({ orderId: z.string(), amount: z.number().int().positive() }),
  output: z.object({ chargeId: z.string() }),
  idempotent: false,
  retry: { maxAttempts: 1 }, // the HTTP helper retries
  run: async (input, ctx) => {
    const r = await payments.request<{ id: string }>({
      method: 'POST',
      path: '/charges',
      body: input,
      signal: ctx.signal,
      idempotencyKey: ctx.idempotencyKey,
      deadlineAt: ctx.deadlineAt,
    });
    return { chargeId: r.body.id };
  },
});

const record = defineOperation({
  name: 'record',
  input: z.object({ orderId: z.string(), amount: z.number().int() }),
  output: z.object({ rows: z.number() }),
  transactional: true,
  run: async ({ orderId, amount }, ctx: OperationContext<SqliteTransaction>) => {
    ctx.tx.run('INSERT INTO ledger (order_id, amount) VALUES (?, ?)', orderId, amount);
    if (amount < 0) throw new OnexError(ErrorCode.Validation, 'negative amount');
    return { rows: ctx.tx.get<{ n: number }>('SELECT count(*) AS n FROM ledger')?.n ?? 0 };
  },
});

const operations = [charge, record] as const;
const contract = defineEffectContract({ name: 'payments', version: '1.0.0', operations });

beforeAll(async () => {
  api = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = req.headers['idempotency-key'];
      apiHits.push({ key: typeof key === 'string' ? key : undefined, body: Buffer.concat(chunks).toString('utf8') });
      if (flaky > 0) {
        flaky--;
        res.writeHead(503, { 'retry-after': '0' }).end();
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `ch_${apiHits.length}` }));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  payments = createHttpEffect({ baseUrl: apiUrl, timeoutMs: 1_000, retry: { maxAttempts: 3, initialDelayMs: 1 } });

  dir = mkdtempSync(join(tmpdir(), 'onex-served-effect-'));
  db = new Database(join(dir, 'payments.db'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE ledger (order_id TEXT NOT NULL, amount INTEGER NOT NULL)');
  const transactions = new SqliteTransactionManager({ database: db });
  const node = new NodeEffect(defineEffectNode({ name: 'payments', version: '1.0.0', operations }), {
    transactions,
    idempotencyStore: new SqliteIdempotencyStore({ transactions }),
    logger: createSilentLogger(),
  });
  served = await serveNode(node);
});

afterAll(async () => {
  await served.close();
  payments.close();
  db.close();
  await new Promise<void>((resolve) => api.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('effect node served over HTTP', () => {
  it('runs an HTTP effect once per idempotency-key header, forwarding the key and retrying the 503', async () => {
    const client = createNodeClient(served.url, contract, { timeoutMs: 5_000 });
    const typed = createEffectClient(client, operations);
    flaky = 1;
    const calls = await Promise.all(Array.from({ length: 8 }, () => typed.execute('charge', { orderId: 'o-1', amount: 5 }, { idempotencyKey: 'wf-9:charge' })));
    for (const r of calls) expect(r).toEqual({ ok: true, value: { chargeId: 'ch_2' } });
    expect(apiHits.map((h) => h.key)).toEqual(['wf-9:charge', 'wf-9:charge']);
    // Raw node client: the contract's `{ operation, input }` → `{ result }`.
    expect(await client.call({ operation: 'charge', input: { orderId: 'o-1', amount: 5 } }, { idempotencyKey: 'wf-9:charge' })).toEqual({
      ok: true,
      value: { result: { chargeId: 'ch_2' } },
    });
    expect(apiHits).toHaveLength(2);
    await client.close();
  });

  it('commits a transactional operation exactly once and rolls back a failing one', async () => {
    const client = createEffectClient(createNodeClient(served.url, contract), operations);
    const first = await Promise.all(Array.from({ length: 5 }, () => client.execute('record', { orderId: 'o-1', amount: 5 }, { idempotencyKey: 'wf-9:record' })));
    for (const r of first) expect(r).toEqual({ ok: true, value: { rows: 1 } });
    const failed = await client.execute('record', { orderId: 'o-2', amount: -1 }, { idempotencyKey: 'wf-10:record' });
    expect(failed.ok || failed.error.code).toBe(ErrorCode.Validation);
    const replayed = await client.execute('record', { orderId: 'o-2', amount: -1 }, { idempotencyKey: 'wf-10:record' });
    expect(replayed.ok || replayed.error.message).toBe('negative amount');
    expect(db.prepare('SELECT order_id, amount FROM ledger').all()).toEqual([{ order_id: 'o-1', amount: 5 }]);
    const health = await client.client.health();
    expect(health.status).toBe('healthy');
    expect(Object.keys(health.components)).toEqual(expect.arrayContaining(['idempotency', 'transactions', 'operation:charge', 'operation:record']));
    const metrics = await client.client.metrics();
    expect(metrics.extra['idempotency']).toMatchObject({ exactlyOnce: ['record'] });
  });
});
