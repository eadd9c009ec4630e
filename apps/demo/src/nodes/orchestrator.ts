#!/usr/bin/env node
// ORCHESTRATOR `order-fulfilment`: durable workflows over the other nodes, in SQLite. Its instance id is stable, so
// a restart after a crash claims and resumes the unfinished workflows at once.
import { Agent } from 'node:http';
import { createNodeClient, type NodeClient, type NodeContract } from '@onex/core';
import { Orchestrator, serveOrchestrator } from '@onex/orchestrator';
import { fulfilmentWorkflow } from '../domain/fulfilment-workflow.js';
import { PeerName, peerClientContract } from '../domain/peers.js';
import { BreakerLog } from '../runtime/breaker-log.js';
import { requirePeer, runNodeProcess } from '../runtime/node-process.js';
import { openWorkflowStore } from '../runtime/stores.js';

/** The orchestrator's instance id: the same after a restart, so its workflows resume without waiting for a lease. */
const ORCHESTRATOR_INSTANCE_ID = 'demo-orchestrator';

await runNodeProcess({
  name: 'orchestrator',
  start: async (args, logger) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 128 });
    const peers: Record<string, NodeClient<NodeContract>> = {};
    for (const name of Object.values(PeerName)) {
      peers[name] = createNodeClient(requirePeer(args, name), peerClientContract(name), { agent, caller: { id: 'order-fulfilment', kind: 'node' } });
    }
    // One breaker per peer: opens when half the calls of the last 3 s failed (at least 8), probes again after 1 s.
    const breakers = new BreakerLog({ timeoutMs: false, volumeThreshold: 8, errorThresholdPercentage: 50, resetTimeoutMs: 1_000, rollingWindowMs: 3_000 });
    const orchestrator = new Orchestrator({
      store: openWorkflowStore(args.dataDir),
      peers,
      workflows: [fulfilmentWorkflow],
      instanceId: ORCHESTRATOR_INSTANCE_ID,
      breakers: breakers.registry,
      maxConcurrentWorkflows: 128,
      leaseMs: 10_000,
      logger,
    });
    const served = await serveOrchestrator(orchestrator, {
      port: args.port,
      drainTimeoutMs: 3_000,
      configure: (app) => {
        app.get('/v1/breakers', (c) => c.json(breakers.report()));
      },
    });
    return {
      served,
      close: async () => {
        breakers.registry.shutdown();
        await Promise.all(Object.values(peers).map((client) => client.close()));
        agent.destroy();
      },
    };
  },
});
