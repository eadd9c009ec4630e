// Child process of chaos.test.ts: one effect peer ('stock' or 'pay'), a NodeEffect served over HTTP on loopback.
// Each operation appends its application to the `ledger` table of the peer's own SQLite file, in the transaction
// that also records its idempotency completion (exactly-once, even across a SIGKILL), after a random short delay.
// A compensation leaves a tombstone: a forward call arriving after it (a late, fenced orchestrator) is refused, as
// saga participants must. Planned refusals (the `refuse` flag) and late calls are refused definitely (FORBIDDEN) and
// appended to a refusals file first: a refusal changes nothing, so at-least-once is enough for it.
// Prints `listening <port>` once served; SIGTERM shuts it down.
import { appendFileSync, closeSync, openSync, writeSync } from 'node:fs';
import Database from 'better-sqlite3';
import { createLogger, ErrorCode, OnexError, serveNode, sleep, type ServedNode } from '@onex/core';
import { defineEffectNode, defineOperation, SqliteIdempotencyStore, SqliteTransactionManager, type OperationContext, type SqliteTransaction } from '@onex/effect';
import { z } from 'zod';
import { Prng } from '../faults/prng.js';
import { LEDGER_SCHEMA, type RefusalLine } from './ledger-schema.js';
import { ChargeCall, EffectCall, EffectRef, OPERATION_EFFECTS, PEERS, type PeerName } from './saga.js';

const PeerArgs = z.object({
  name: z.enum(PEERS),
  db: z.string(),
  refusals: z.string(),
  log: z.string(),
  port: z.number().int().min(0).max(65_535),
  seed: z.number().int(),
});
const args = PeerArgs.parse(JSON.parse(process.argv[2] ?? 'null'));

const logFd = openSync(args.log, 'a');
const logger = createLogger({ name: `peer-${args.name}`, level: 'warn', destination: { write: (line: string) => void writeSync(logFd, line) } });
const db = new Database(args.db);
db.pragma('busy_timeout = 5000');
db.pragma('journal_mode = WAL');
db.exec(LEDGER_SCHEMA);
const transactions = new SqliteTransactionManager({ database: db });
const idempotencyStore = new SqliteIdempotencyStore({ transactions, leaseMs: 2_000 });
const random = new Prng(args.seed);

/** Mostly a few ms, sometimes tens: inside the transaction, so calls queue up and kills land on work in flight. */
function delayMs(): number {
  const r = random.next();
  if (r < 0.85) return random.int(0, 3);
  if (r < 0.97) return random.int(5, 20);
  return random.int(40, 120);
}

type Call = z.infer<typeof EffectCall>;

function refuse(name: string, call: Call, ctx: OperationContext<SqliteTransaction>, reason: RefusalLine['reason']): never {
  const effect = effectOf(name);
  const line: RefusalLine = { workflowId: call.workflowId, step: effect.step, op: effect.op, operation: name, key: ctx.idempotencyKey ?? '', reason };
  appendFileSync(args.refusals, `${JSON.stringify(line)}\n`);
  throw new OnexError(ErrorCode.Forbidden, `${args.name}.${name} refused (${reason})`, { retryable: false });
}

function effectOf(name: string): { readonly step: string; readonly op: 'do' | 'undo' } {
  const effects: Readonly<Record<string, { readonly step: string; readonly op: 'do' | 'undo' }>> = OPERATION_EFFECTS[args.name];
  const effect = effects[name];
  if (effect === undefined) throw new OnexError(ErrorCode.Internal, `No ledger effect for ${args.name}.${name}`);
  return effect;
}

/** One application: refused as planned, or late (its step, or the reservation it confirms, was compensated), or recorded. */
async function apply(name: string, call: Call, ctx: OperationContext<SqliteTransaction>, guardStep?: string): Promise<z.input<typeof EffectRef>> {
  await sleep(delayMs(), ctx.signal);
  const effect = effectOf(name);
  if (call.refuse) refuse(name, call, ctx, 'planned');
  const guarded = guardStep ?? effect.step;
  if (effect.op === 'do' && ctx.tx.get('SELECT 1 AS x FROM tombstones WHERE workflow_id = ? AND step = ?', call.workflowId, guarded) !== undefined) {
    refuse(name, call, ctx, 'late');
  }
  const row = ctx.tx.run(
    'INSERT INTO ledger (workflow_id, step, op, operation, key, applied_at) VALUES (?, ?, ?, ?, ?, ?)',
    call.workflowId,
    effect.step,
    effect.op,
    name,
    ctx.idempotencyKey ?? '',
    Date.now(),
  );
  if (effect.op === 'undo') ctx.tx.run('INSERT OR IGNORE INTO tombstones (workflow_id, step) VALUES (?, ?)', call.workflowId, effect.step);
  return { ref: `${args.name}.${name}#${String(row.lastInsertRowid)}` };
}

function stockNode() {
  const reserve = defineOperation({
    name: 'reserve',
    input: EffectCall,
    output: EffectRef,
    transactional: true,
    run: (call, ctx: OperationContext<SqliteTransaction>) => apply('reserve', call, ctx),
  });
  const release = defineOperation({
    name: 'release',
    input: EffectCall,
    output: EffectRef,
    transactional: true,
    run: (call, ctx: OperationContext<SqliteTransaction>) => apply('release', call, ctx),
  });
  // A released reservation cannot be confirmed.
  const confirm = defineOperation({
    name: 'confirm',
    input: EffectCall,
    output: EffectRef,
    transactional: true,
    run: (call, ctx: OperationContext<SqliteTransaction>) => apply('confirm', call, ctx, 'reserve'),
  });
  return defineEffectNode({ name: 'stock', version: '1.0.0', operations: [reserve, release, confirm], transactions, idempotencyStore, logger });
}

function payNode() {
  const charge = defineOperation({
    name: 'charge',
    input: ChargeCall,
    output: EffectRef,
    transactional: true,
    run: (call, ctx: OperationContext<SqliteTransaction>) => apply('charge', call, ctx),
  });
  const refund = defineOperation({
    name: 'refund',
    input: ChargeCall,
    output: EffectRef,
    transactional: true,
    run: (call, ctx: OperationContext<SqliteTransaction>) => apply('refund', call, ctx),
  });
  return defineEffectNode({ name: 'pay', version: '1.0.0', operations: [charge, refund], transactions, idempotencyStore, logger });
}

const nodes: Record<PeerName, () => ReturnType<typeof stockNode> | ReturnType<typeof payNode>> = { stock: stockNode, pay: payNode };
let served: ServedNode;
try {
  served = await serveNode(nodes[args.name](), { port: args.port, drainTimeoutMs: 1_000 });
} catch (error) {
  // The parent retries a restart whose port is still taken.
  process.stderr.write(`cannot serve: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(3);
}
process.stdout.write(`listening ${served.port}\n`);

process.once('SIGTERM', () => {
  void served
    .close()
    .catch(() => undefined)
    .finally(() => {
      idempotencyStore.close();
      db.close();
      closeSync(logFd);
      process.exit(0);
    });
});
