#!/usr/bin/env node
// COMPUTE node `pricing`: prices orders and runs the fraud check. Pure and cached.
import { serveNode } from '@onex/core';
import { defineComputeNode } from '@onex/compute';
import { CONTRACT_VERSION, PeerName } from '../domain/peers.js';
import { pricingComputations } from '../domain/pricing.js';
import { runNodeProcess } from '../runtime/node-process.js';

await runNodeProcess({
  name: PeerName.Pricing,
  start: async (args, logger) => {
    const node = defineComputeNode({ name: PeerName.Pricing, version: CONTRACT_VERSION, computations: pricingComputations, logger });
    return { served: await serveNode(node, { port: args.port }) };
  },
});
