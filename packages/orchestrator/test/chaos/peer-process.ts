// Child process of the process-level tests: one effect peer ('stock' or 'pay'), a NodeEffect served over HTTP on
// loopback — alone on its SQLite file (chaos.test.ts), or one of several replicas of the node on a shared PostgreSQL
// schema (failover.test.ts). Each operation appends its application to the `ledger` table, in the transaction that
// also records its idempotency completion (exactly-once, even across a SIGKILL, and across replicas), after a random
// delay. A compensation leaves a tombstone: a forward call arriving after it (a late, fenced orchestrator) is
// refused, as saga participants must. Planned refusals (the `refuse` flag) and late calls are refused definitely
// (FORBIDDEN) and appended to the replica's refusals file first: a refusal changes nothing, so at-least-once is
// enough for it. Prints `listening <port>` once served; SIGTERM shuts it down.
import { appendFileSync, closeSync, openSync, writeSync } from 'node:fs';
import { createLogger, ErrorCode, OnexError, serveNode, sleep, type Logger, type ServedNode } from '@onex/core';
import { defineEffectNode, defineOperation, NodeEffect, type OperationContext } from '@onex/effect';
import { z } from 'zod';
import { Prng } from '../faults/prng.js';
import type { RefusalLine } from './ledger-schema.js';
import { openPeerBackend, type PeerBackend } from './peer-storage.js';
import { ChargeCall, EffectCall, EffectRef, OPERATION_EFFECTS, PEERS, type OperationEffect } from './saga.js';
import { PeerStorage } from './storage.js';

const PeerArgs = z.object({
  name: z.enum(PEERS),
  /** `pay-2`: which replica this is (the ledger records it). */
  replica: z.string().min(1),
  storage: PeerStorage,
  refusals: z.string(),
  log: z.string(),
  port: z.number().int().min(0).max(65_535),
  seed: z.number().int(),
  /** Every operation waits this long (uniform) inside its transaction; absent: mostly a few ms, sometimes tens. */
  delay: z.object({ minMs: z.number().int().nonnegative(), maxMs: z.number().int().nonnegative() }).optional(),
});
const args = PeerArgs.parse(JSON.parse(process.argv[2] ?? 'null'));

const logFd = openSync(args.log, 'a');
const logger = createLogger({ name: `peer-${args.replica}`, level: 'warn', destination: { write: (line: string) => void writeSync(logFd, line) } });
const random = new Prng(args.seed);

/** Inside the transaction, so calls queue up and kills land on work in flight. */
function delayMs(): number {
  if (args.delay !== undefined) return random.int(args.delay.minMs, args.delay.maxMs);
  const r = random.next();
  if (r < 0.85) return random.int(0, 3);
  if (r < 0.97) return random.int(5, 20);
  return random.int(40, 120);
}

type Call = z.infer<typeof EffectCall>;

function effectOf(name: string): OperationEffect {
  const effects: Readonly<Record<string, OperationEffect>> = OPERATION_EFFECTS[args.name];
  const effect = effects[name];
  if (effect === undefined) throw new OnexError(ErrorCode.Internal, `No ledger effect for ${args.name}.${name}`);
  return effect;
}

function refuse(name: string, call: Call, key: string, reason: RefusalLine['reason']): never {
  const effect = effectOf(name);
  const line: RefusalLine = { workflowId: call.workflowId, step: effect.step, op: effect.op, operation: name, key, reason };
  appendFileSync(args.refusals, `${JSON.stringify(line)}\n`);
  throw new OnexError(ErrorCode.Forbidden, `${args.name}.${name} refused (${reason})`, { retryable: false });
}

/** The node's operations on `backend`: each one refused as planned, or late (its guard step was compensated), or recorded. */
function peerNode<TTx>(backend: PeerBackend<TTx>, nodeLogger: Logger) {
  const apply = async (name: string, call: Call, ctx: OperationContext<TTx>): Promise<z.input<typeof EffectRef>> => {
    await sleep(delayMs(), ctx.signal);
    const effect = effectOf(name);
    const key = ctx.idempotencyKey ?? '';
    if (call.refuse) refuse(name, call, key, 'planned');
    const ledger = backend.ledger(ctx.tx);
    const guarded = effect.op === 'do' ? (effect.guard ?? effect.step) : effect.step;
    await ledger.lock(call.workflowId, guarded);
    if (effect.op === 'do' && (await ledger.tombstoned(call.workflowId, guarded))) refuse(name, call, key, 'late');
    const seq = await ledger.record({ workflowId: call.workflowId, step: effect.step, op: effect.op, operation: name, key, replica: args.replica });
    if (effect.op === 'undo') await ledger.tombstone(call.workflowId, effect.step);
    return { ref: `${args.replica}.${name}#${seq}` };
  };
  const operation = (name: string, input: typeof EffectCall | typeof ChargeCall) =>
    defineOperation({ name, input, output: EffectRef, transactional: true, run: (call, ctx: OperationContext<TTx>) => apply(name, call, ctx) });
  const { transactions, idempotencyStore } = backend;
  const options = { transactions, idempotencyStore, logger: nodeLogger } as const;
  switch (args.name) {
    case 'stock':
      return new NodeEffect(
        defineEffectNode({ name: 'stock', version: '1.0.0', operations: [operation('reserve', EffectCall), operation('release', EffectCall), operation('confirm', EffectCall)] }),
        options,
      );
    case 'pay':
      return new NodeEffect(
        defineEffectNode({ name: 'pay', version: '1.0.0', operations: [operation('charge', ChargeCall), operation('refund', ChargeCall), operation('capture', EffectCall)] }),
        options,
      );
  }
}

const opened = openPeerBackend(args.storage);
const close = (): Promise<void> => opened.backend.close();
const node = opened.kind === 'sqlite' ? peerNode(opened.backend, logger) : peerNode(opened.backend, logger);
let served: ServedNode;
try {
  served = await serveNode(node, { port: args.port, drainTimeoutMs: 1_000 });
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
    .then(close)
    .catch(() => undefined)
    .finally(() => {
      closeSync(logFd);
      process.exit(0);
    });
});
