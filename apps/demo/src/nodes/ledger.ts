#!/usr/bin/env node
// REDUCER node `order-ledger`: the order lifecycle FSM, one aggregate per order, in SQLite.
import { ErrorCode, OnexError, serveNode } from '@onex/core';
import { defineReducerNode, NodeReducer } from '@onex/reducer';
import { orderLedgerMachine } from '../domain/order-ledger.js';
import { CONTRACT_VERSION, PeerName } from '../domain/peers.js';
import { nodeAuth } from '../runtime/demo-auth.js';
import { runNodeProcess } from '../runtime/node-process.js';
import { openReducerStore } from '../runtime/stores.js';

/** The order ledger's definition: the lifecycle machine, under the ledger's peer name. */
const ledger = defineReducerNode({ machine: orderLedgerMachine, name: PeerName.Ledger, version: CONTRACT_VERSION });

await runNodeProcess({
  name: PeerName.Ledger,
  start: async (args, logger) => {
    const node = new NodeReducer(ledger, { store: openReducerStore(args.dataDir), logger });
    const served = await serveNode(node, {
      port: args.port,
      ...nodeAuth(args.keyring),
      configure: (app) => {
        // Read side for people and the books check: an order's state and its transitions.
        app.get('/v1/orders/:id', async (c) => {
          const id = c.req.param('id');
          const snapshot = await node.get(id);
          if (snapshot === undefined) throw new OnexError(ErrorCode.NotFound, `No ledger entry for order ${id}`, { context: { orderId: id } });
          const history = await node.history(id);
          return c.json({ orderId: id, ...snapshot, history: history.map((h) => ({ version: h.version, from: h.from, to: h.to, eventId: h.eventId })) });
        });
      },
    });
    return { served };
  },
});
