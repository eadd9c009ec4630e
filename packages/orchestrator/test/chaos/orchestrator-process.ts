// Child process of chaos.test.ts: one orchestrator incarnation on the shared SQLite workflow file (WAL), served over
// HTTP on loopback (`POST /v1/workflows`, `GET /metrics`), calling the two effect peers over HTTP. Its store is
// wrapped in a JournalingStore (the fencing journal). Prints `listening <port> <instanceId>` once served, then a
// `figures {…}` line every 250 ms and once more at a SIGTERM shutdown: the parent keeps the last one of each
// incarnation, so counters of an incarnation that is SIGKILLed later are not lost.
import { openSync, writeSync } from 'node:fs';
import { createLogger, createNodeClient, type ServedNode } from '@onex/core';
import { z } from 'zod';
import { Orchestrator, serveOrchestrator, SqliteWorkflowStore, type OrchestratorFigures } from '../../src/index.js';
import { JournalingStore, StoreMutant } from './journal.js';
import { orderWorkflow, payContract, stockContract } from './saga.js';

const OrchestratorArgs = z.object({
  workflowsDb: z.string(),
  journal: z.string(),
  log: z.string(),
  /** Absent: the engine's default, a new random id. */
  instanceId: z.string().optional(),
  stockUrl: z.url(),
  payUrl: z.url(),
  leaseMs: z.number().int().positive(),
  mutant: StoreMutant.optional(),
});
const args = OrchestratorArgs.parse(JSON.parse(process.argv[2] ?? 'null'));

const logFd = openSync(args.log, 'a');
const logger = createLogger({ name: 'orchestrator', level: 'warn', destination: { write: (line: string) => void writeSync(logFd, line) } });
const store = new JournalingStore(new SqliteWorkflowStore({ path: args.workflowsDb, purgeIntervalMs: 0 }), args.journal, args.mutant);
// The peers' calls carry the step deadline; the client's own default only bounds a call that brings none.
const orchestrator = new Orchestrator({
  store,
  peers: { stock: createNodeClient(args.stockUrl, stockContract, { timeoutMs: 5_000 }), pay: createNodeClient(args.payUrl, payContract, { timeoutMs: 5_000 }) },
  workflows: [orderWorkflow],
  leaseMs: args.leaseMs,
  // A peer killed for a second or two opens its breaker; the default 30 s open state would park compensations for
  // that long and stretch the drain.
  breakerDefaults: { resetTimeoutMs: 1_000 },
  shutdownTimeoutMs: 2_000,
  logger,
  ...(args.instanceId === undefined ? {} : { instanceId: args.instanceId }),
});

function figures(): string {
  const workflows = (orchestrator.metrics().extra as { workflows: OrchestratorFigures }).workflows;
  const { running, started, finished, recovered, leaseLosses, fencedWrites, compensationsRun, compensationsFailed, compensationsParked } = workflows;
  return `figures ${JSON.stringify({ running, started, finished, recovered, leaseLosses, fencedWrites, compensationsRun, compensationsFailed, compensationsParked })}\n`;
}

const served: ServedNode = await serveOrchestrator(orchestrator, { port: 0, drainTimeoutMs: 1_000 });
process.stdout.write(`listening ${served.port} ${orchestrator.instanceId}\n`);
const ticker = setInterval(() => process.stdout.write(figures()), 250);

process.once('SIGTERM', () => {
  clearInterval(ticker);
  void served
    .close()
    .catch((error: unknown) => logger.error({ err: error }, 'shutdown failed'))
    .finally(() => {
      process.stdout.write(figures());
      process.exit(0);
    });
});
