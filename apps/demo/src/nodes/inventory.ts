#!/usr/bin/env node
// EFFECT node `inventory`: reserves, releases and ships stock in its own database (SQLite, or a PostgreSQL schema its
// replicas share) — real transactions, idempotent by the orchestrator's key (the idempotency record commits inside the
// same transaction).
import { readJsonBody, requireScope, serveNode } from '@onex/core';
import { NodeEffect } from '@onex/effect';
import { PeerName } from '../domain/peers.js';
import { nodeAuth } from '../runtime/demo-auth.js';
import { runNodeProcess } from '../runtime/node-process.js';
import { openEffectStores, SchemaOf } from '../runtime/stores.js';
import { inventoryDefinition, prepareInventoryDatabase, readReservations, readStock, type WarehouseConfig } from './inventory-operations.js';
import { WarehouseConfigPatch } from '../domain/inventory.js';

await runNodeProcess({
  name: PeerName.Inventory,
  start: async (args, logger) => {
    const stores = openEffectStores(args.dataDir, SchemaOf.Inventory);
    await stores.init();
    await stores.transaction((sql) => prepareInventoryDatabase(sql));
    const warehouse: WarehouseConfig = { damageRate: Number(args.settings['damage-rate'] ?? '0') };
    const node = new NodeEffect(inventoryDefinition(warehouse, (tx) => stores.sql(tx)), {
      transactions: stores.transactions,
      idempotencyStore: stores.idempotency,
      logger,
    });
    const served = await serveNode(node, {
      port: args.port,
      ...nodeAuth(args.keyring),
      configure: (app, { bodyLimitBytes }) => {
        // Reads go through the manager (a SQLite connection runs one thing at a time).
        app.get('/v1/stock', async (c) => c.json({ items: await stores.transaction((sql) => readStock(sql)) }));
        app.get('/admin/config', (c) => c.json(warehouse));
        // readJsonBody checks the body against the request's signature; the scope keeps it to the operator.
        app.post('/admin/config', requireScope('inventory:admin'), async (c) => {
          const body = await readJsonBody(c, { limitBytes: bodyLimitBytes });
          if (!body.ok) throw body.error;
          Object.assign(warehouse, WarehouseConfigPatch.parse(body.value));
          return c.json(warehouse);
        });
        app.get('/v1/reservations', async (c) => c.json({ reservations: await stores.transaction((sql) => readReservations(sql)) }));
      },
    });
    return { served, close: () => stores.close() };
  },
});
