#!/usr/bin/env node
// COMPUTE node `pricing`: prices orders and runs the fraud check. Pure and cached.
import { serveNode } from '@onex/core';
import { defineComputeNode, NodeCompute } from '@onex/compute';
import { CONTRACT_VERSION, PeerName } from '../domain/peers.js';
import { pricingComputations, pricingDefaults } from '../domain/pricing.js';
import { nodeAuth } from '../runtime/demo-auth.js';
import { runNodeProcess } from '../runtime/node-process.js';

/** The pricing node's definition: its identity, its computations and the defaults they share. */
const pricing = defineComputeNode({ name: PeerName.Pricing, version: CONTRACT_VERSION, computations: pricingComputations, defaults: pricingDefaults });

await runNodeProcess({
  name: PeerName.Pricing,
  start: async (args, logger) => {
    const node = new NodeCompute(pricing, { logger });
    return { served: await serveNode(node, { port: args.port, ...nodeAuth(args.keyring) }) };
  },
});
