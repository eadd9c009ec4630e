// Child process of the process-level tests (chaos.test.ts, failover.test.ts): one orchestrator incarnation on the
// shared workflow store (a SQLite file in WAL mode, or a PostgreSQL schema with its LISTEN/NOTIFY events), served
// over HTTP on loopback (`POST /v1/workflows`, `GET /metrics.json`), calling the effect peers over HTTP (a peer served by
// several replicas gets its calls spread over them). Its store is wrapped in a JournalingStore (the fencing journal).
// Prints `listening <port> <instanceId>` once served, then a `figures {…}` line every 250 ms and once more at a SIGTERM
// shutdown: the parent keeps the last one of each incarnation, so counters of an incarnation that is SIGKILLed later
// are not lost. SIGUSR2 arms its stop trap (test/chaos/stop-trap.ts): it SIGSTOPs itself with peer answers in hand.
import { openSync, writeSync } from 'node:fs';
import { createLogger, createNodeClient, type NodeClient, type NodeContract, type ServedNode } from '@onex/core';
import { z } from 'zod';
import { defineOrchestrator, Orchestrator, serveOrchestrator } from '../../src/index.js';
import { JournalingStore, StoreMutant } from './journal.js';
import { roundRobinClient } from './replica-client.js';
import { StopTrap } from './stop-trap.js';
import { PEER_CONTRACTS, PEERS, SAGAS, SagaName } from './saga.js';
import { openWorkflowStore, WorkflowStoreTarget } from './storage.js';

const OrchestratorArgs = z.object({
  store: WorkflowStoreTarget,
  journal: z.string(),
  log: z.string(),
  /** Absent: the engine's default, a new random id. */
  instanceId: z.string().optional(),
  saga: SagaName,
  /** The URLs of each peer's replicas (one or more). */
  peers: z.partialRecord(z.enum(PEERS), z.array(z.url()).min(1)),
  leaseMs: z.number().int().positive(),
  /** Absent: the engine's default. */
  maxConcurrentWorkflows: z.number().int().positive().optional(),
  mutant: StoreMutant.optional(),
});
const args = OrchestratorArgs.parse(JSON.parse(process.argv[2] ?? 'null'));
const saga = SAGAS[args.saga];

const logFd = openSync(args.log, 'a');
const logger = createLogger({ name: 'orchestrator', level: 'warn', destination: { write: (line: string) => void writeSync(logFd, line) } });
// A few connections are plenty for one instance (commits are grouped); several incarnations share one server.
const store = new JournalingStore(openWorkflowStore(args.store, { maxConnections: 4 }), args.journal, args.mutant);
const trap = new StopTrap();
process.on('SIGUSR2', () => trap.arm({ answers: 8, holdMs: 300 }));
const peers: Record<string, NodeClient<NodeContract>> = {};
for (const name of saga.peers) {
  const urls = args.peers[name];
  if (urls === undefined) throw new Error(`saga ${args.saga} calls peer ${name}, which was given no URL`);
  // The peers' calls carry the step deadline; the client's own default only bounds a call that brings none.
  peers[name] = trap.wrap(roundRobinClient(urls.map((url) => createNodeClient(url, PEER_CONTRACTS[name], { timeoutMs: 5_000 }))));
}
const orchestrator = new Orchestrator(defineOrchestrator({ workflows: [saga.workflow] }), {
  store,
  peers,
  leaseMs: args.leaseMs,
  // A peer killed for a second or two opens its breaker; the default 30 s open state would park compensations for
  // that long and stretch the drain.
  breakerDefaults: { resetTimeoutMs: 1_000 },
  shutdownTimeoutMs: 2_000,
  logger,
  ...(args.instanceId === undefined ? {} : { instanceId: args.instanceId }),
  ...(args.maxConcurrentWorkflows === undefined ? {} : { maxConcurrentWorkflows: args.maxConcurrentWorkflows }),
});

function figures(): string {
  const workflows = orchestrator.stats();
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
