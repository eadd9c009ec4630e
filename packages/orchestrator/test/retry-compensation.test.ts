// retryCompensation over each store: a compensation refused for good is tried again, under a fresh idempotency key,
// once the peer is fixed; what was compensated is not repeated. (The dashboard's action calls it; see
// dashboard.test.ts.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInProcessClient, createSilentLogger, ErrorCode } from '@onex/core';
import { freshSchema, type TestSchema } from '@onex/test-postgres';
import { postgresUrl } from '@onex/test-postgres/vitest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PostgresWorkflowStore } from '../src/postgres.js';
import { SqliteWorkflowStore } from '../src/sqlite.js';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, type WorkflowStore } from '../src/index.js';
import { ScriptedPeer, stepContract } from './scripted-peer.js';

const url = postgresUrl();
const dir = mkdtempSync(join(tmpdir(), 'onex-retry-comp-'));
const schemas: TestSchema[] = [];
const open: Orchestrator[] = [];
let files = 0;

afterEach(async () => {
  for (const o of open.splice(0)) await o.shutdown();
});
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
  rmSync(dir, { recursive: true, force: true });
});

const stores: { readonly name: string; readonly create: () => Promise<WorkflowStore> }[] = [
  { name: 'memory', create: async () => new MemoryWorkflowStore() },
  { name: 'SQLite', create: async () => new SqliteWorkflowStore({ path: join(dir, `w-${(files += 1)}.db`), purgeIntervalMs: 0 }) },
  {
    name: 'PostgreSQL',
    create: async () => {
      const schema = await freshSchema(url, 'retrycomp');
      schemas.push(schema);
      return new PostgresWorkflowStore({ connectionString: url, schema: schema.name, purgeIntervalMs: 0, maxConnections: 4 });
    },
  },
];

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number() });
const ref = (name: string) => peer(name, stepContract);

/** hold (undone by `undo`), book (undone by `refuse`, which refuses), then pay, which fails: a saga that cannot finish. */
const trip = defineWorkflow({ type: 'trip', version: '1.0.0', input: Input, output: Output })
  .step('hold', { target: ref('fast'), input: ({ input }) => input, compensate: { target: ref('undo'), input: ({ output }) => ({ value: output?.value ?? 0 }) } })
  .step('book', { target: ref('fast'), dependsOn: ['hold'], input: ({ input }) => input, compensate: { target: ref('refuse'), input: ({ output }) => ({ value: output?.value ?? 0 }), retry: { maxAttempts: 1 } } })
  .step('pay', { target: ref('fail'), dependsOn: ['book'], input: ({ input }) => input, retry: { maxAttempts: 1 } })
  .returns(({ steps }) => ({ total: steps.pay.value }));

describe.each(stores)('retryCompensation on the $name store', ({ create }) => {
  it('tries a refused compensation again under a fresh key, once, and ends compensated', async () => {
    const peers = { fast: new ScriptedPeer('fast'), undo: new ScriptedPeer('undo'), refuse: new ScriptedPeer('refuse', { alwaysFail: ErrorCode.Validation }), fail: new ScriptedPeer('fail', { alwaysFail: ErrorCode.Validation }) };
    for (const node of Object.values(peers)) await node.initialize();
    const clients = Object.fromEntries(Object.entries(peers).map(([name, node]) => [name, createInProcessClient(node)]));
    const o = new Orchestrator({ workflows: [trip] }, { store: await create(), peers: clients, logger: createSilentLogger() });
    await o.initialize();
    open.push(o);

    const id = await o.start(trip, { value: 1 });
    expect((await o.result(id)).status).toBe('compensation_failed');
    expect((await o.get(id)).steps['book']).toMatchObject({ status: 'compensation_failed', compensationAttempts: 1 });
    expect(peers.undo.calls).toBe(1);
    await expect(o.retryCompensation(`${id}-missing`)).rejects.toMatchObject({ code: 'NOT_FOUND' });

    peers.refuse.script = {};
    await o.retryCompensation(id);
    const outcome = await o.result(id);
    expect(outcome.status).toBe('compensated');
    const record = await o.get(id);
    expect(record.steps['book']).toMatchObject({ status: 'compensated', compensationRetries: 1, compensationAttempts: 2 });
    expect(record.steps['book']?.compensationFinishedAt).toBeGreaterThanOrEqual(record.steps['book']?.compensationStartedAt ?? Infinity);
    expect(record.steps['hold']).toMatchObject({ status: 'compensated' });
    // The fixed peer saw one call, under the retry's own key; `hold` was not undone twice.
    expect(peers.refuse.log.map((l) => l.key)).toEqual([`${id}:book:compensate:retry-1`]);
    expect(peers.undo.calls).toBe(1);
    expect(record.error).toMatchObject({ step: 'pay' });

    // Only a compensation_failed workflow can be retried.
    await expect(o.retryCompensation(id)).rejects.toMatchObject({ code: 'CONFLICT' });
    for (const node of Object.values(peers)) await node.shutdown();
  });
});
