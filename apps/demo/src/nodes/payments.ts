#!/usr/bin/env node
// EFFECT node `payments`: charges and refunds at the (simulated) payment provider over HTTP, with retries on
// 5xx/429, a breaker on the provider, and the order id as the provider's idempotency key.
import { serveNode } from '@onex/core';
import { createHttpEffect, NodeEffect } from '@onex/effect';
import { PeerName } from '../domain/peers.js';
import { BreakerLog } from '../runtime/breaker-log.js';
import { nodeAuth } from '../runtime/demo-auth.js';
import { requirePeer, runNodeProcess } from '../runtime/node-process.js';
import { openEffectStores, SchemaOf } from '../runtime/stores.js';
import { paymentsDefinition } from './payments-operations.js';

await runNodeProcess({
  name: PeerName.Payments,
  start: async (args, logger) => {
    const stores = openEffectStores(args.dataDir, SchemaOf.Payments);
    await stores.init();
    const breakers = new BreakerLog({ timeoutMs: false, volumeThreshold: 8, errorThresholdPercentage: 50, resetTimeoutMs: 1_000, rollingWindowMs: 3_000 });
    const provider = createHttpEffect({
      baseUrl: requirePeer(args, 'provider'),
      timeoutMs: 1_500,
      retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 300 },
      breakers: breakers.registry,
    });
    const node = new NodeEffect(paymentsDefinition(provider), {
      transactions: stores.transactions,
      idempotencyStore: stores.idempotency,
      breakers: breakers.registry,
      logger,
    });
    const served = await serveNode(node, {
      port: args.port,
      ...nodeAuth(args.keyring),
      configure: (app) => {
        app.get('/v1/breakers', (c) => c.json(breakers.report()));
      },
    });
    return {
      served,
      close: async () => {
        provider.close();
        breakers.registry.shutdown();
        await stores.close();
      },
    };
  },
});
