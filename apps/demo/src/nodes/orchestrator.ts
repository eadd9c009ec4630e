#!/usr/bin/env node
// ORCHESTRATOR `order-fulfilment`: durable workflows over the other nodes, in SQLite or PostgreSQL. Its instance id
// is stable (`--set instance-id=…`, unique per replica), so a restart after a crash claims and resumes its unfinished
// workflows at once; on PostgreSQL the other replicas take them over once its lease expires.
import { Agent } from 'node:http';
import { join } from 'node:path';
import { createNodeClient, verifiedCaller, type NodeClient, type NodeContract } from '@onex/core';
import { defineOrchestrator, isScheduleStore, Orchestrator, serveOrchestrator } from '@onex/orchestrator';
import { fulfilmentWorkflow } from '../domain/fulfilment-workflow.js';
import { reconcileWorkflow } from '../domain/reconcile-workflow.js';
import { PeerName, peerClientContract } from '../domain/peers.js';
import { BreakerLog } from '../runtime/breaker-log.js';
import { nodeAuth, peerAuth } from '../runtime/demo-auth.js';
import { ORCHESTRATOR_INSTANCE_ID, requirePeer, runNodeProcess } from '../runtime/node-process.js';
import { OwnershipJournal } from '../runtime/ownership-journal.js';
import { replicaClient } from '../runtime/replica-client.js';
import { openWorkflowStore } from '../runtime/stores.js';

/** The default lease on held workflows, ms (`--set lease-ms=…`). */
const LEASE_MS = 10_000;

/**
 * What the node runs: the fulfilment workflow, and the books check its schedule starts. Where and how (store, peers,
 * lease) is for each process to say.
 */
const definition = defineOrchestrator({ name: 'orchestrator', workflows: [fulfilmentWorkflow, reconcileWorkflow] });

await runNodeProcess({
  name: 'orchestrator',
  start: async (args, logger) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 128 });
    const peers: Record<string, NodeClient<NodeContract>> = {};
    for (const name of Object.values(PeerName)) {
      // `--peer name=url[,url…]`: one client per replica, the calls spread over them.
      const urls = requirePeer(args, name).split(',');
      peers[name] = replicaClient(urls.map((url) => createNodeClient(url, peerClientContract(name), { agent, caller: { id: 'order-fulfilment', kind: 'node' }, ...peerAuth(args.keyring) })));
    }
    const instanceId = args.settings['instance-id'] ?? ORCHESTRATOR_INSTANCE_ID;
    const leaseMs = Number(args.settings['lease-ms'] ?? LEASE_MS);
    if (!Number.isInteger(leaseMs) || leaseMs <= 0) throw new Error(`invalid --set lease-ms=${args.settings['lease-ms'] ?? ''}`);
    // One breaker per peer: opens when half the calls of the last 3 s failed (at least 8), probes again after 1 s.
    const breakers = new BreakerLog({ timeoutMs: false, volumeThreshold: 8, errorThresholdPercentage: 50, resetTimeoutMs: 1_000, rollingWindowMs: 3_000 });
    const workflowStore = openWorkflowStore(args.dataDir);
    const orchestrator = new Orchestrator(definition, {
      // Every creation and claim noted with its epoch, for the launcher's list of takeovers.
      store: new OwnershipJournal(workflowStore, { dir: join(args.dataDir, 'ownership'), instanceId }),
      // The journal wraps the workflow store only: schedules go to the store underneath (found by fuzzing: without
      // one, /v1/schedules answered 500 CONTRACT).
      ...(isScheduleStore(workflowStore) ? { scheduleStore: workflowStore } : {}),
      peers,
      instanceId,
      breakers: breakers.registry,
      maxConcurrentWorkflows: 128,
      leaseMs,
      logger,
    });
    const served = await serveOrchestrator(orchestrator, {
      port: args.port,
      // The dashboard's pages are open to a browser (GETs on this loopback demo); its actions are POSTs, which need
      // a signed request with authentication on (a browser cannot sign: read-only then), and an admin scope.
      ...nodeAuth(args.keyring, ['/health', '/ui', '/ui/']),
      dashboard: {
        authorize: (c, request) => request.action === 'view' || args.keyring === undefined || (verifiedCaller(c)?.scopes?.includes('workflows:admin') ?? false),
      },
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
