#!/usr/bin/env node
// EFFECT node `inventory`: reserves, releases and ships stock in its own database (SQLite, or a PostgreSQL schema its
// replicas share) — real transactions, idempotent by the orchestrator's key (the idempotency record commits inside the
// same transaction).
import { serveNode } from '@onex/core';
import { NodeEffect } from '@onex/effect';
import { PeerName } from '../domain/peers.js';
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
      configure: (app) => {
        // Reads go through the manager (a SQLite connection runs one thing at a time).
        app.get('/v1/stock', async (c) => c.json({ items: await stores.transaction((sql) => readStock(sql)) }));
        app.get('/admin/config', (c) => c.json(warehouse));
        app.post('/admin/config', async (c) => {
          Object.assign(warehouse, WarehouseConfigPatch.parse(await c.req.json()));
          return c.json(warehouse);
        });
        app.get('/v1/reservations', async (c) => c.json({ reservations: await stores.transaction((sql) => readReservations(sql)) }));
      },
    });
    return { served, close: () => stores.close() };
  },
});
