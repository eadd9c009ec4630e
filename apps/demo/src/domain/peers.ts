import { computeContract } from '@onex/compute';
import type { NodeContract } from '@onex/core';
import { defineContract, NodeKind } from '@onex/core';
import { defineEffectContract } from '@onex/effect';
import { peer, type PeerRef } from '@onex/orchestrator';
import { reducerContract } from '@onex/reducer';
import { z } from 'zod';
import { inventorySignatures } from './inventory.js';
import { orderLedgerMachine } from './order-ledger.js';
import { paymentSignatures } from './payments.js';
import { pricingComputations } from './pricing.js';

/** The names the orchestrator knows its peers by (and the process names of the stack). */
export const PeerName = { Pricing: 'pricing', Inventory: 'inventory', Payments: 'payments', Ledger: 'order-ledger' } as const;
/** One of the {@link PeerName} values. */
export type PeerName = (typeof PeerName)[keyof typeof PeerName];

/** Contract versions, shared by the nodes and their callers. */
export const CONTRACT_VERSION = '1.0.0';

/** The pricing node's contract (the compute node's own, from its computations). */
export const pricingContract = computeContract({ name: PeerName.Pricing, version: CONTRACT_VERSION, computations: pricingComputations });
/** The inventory node's contract, from its operations' signatures (names and schemas). */
export const inventoryContract = defineEffectContract({ name: PeerName.Inventory, version: CONTRACT_VERSION, operations: inventorySignatures });
/** The payments node's contract, from its operations' signatures. */
export const paymentsContract = defineEffectContract({ name: PeerName.Payments, version: CONTRACT_VERSION, operations: paymentSignatures });

/** `pricing` → `order.quote`. */
export const quotePeer = peer(PeerName.Pricing, pricingContract.computation('order.quote'));
/** `pricing` → `order.fraud-check`. */
export const fraudCheckPeer = peer(PeerName.Pricing, pricingContract.computation('order.fraud-check'));
/** `inventory` → `reserve`. */
export const reservePeer = peer(PeerName.Inventory, inventoryContract.operation('reserve'));
/** `inventory` → `release`. */
export const releasePeer = peer(PeerName.Inventory, inventoryContract.operation('release'));
/** `inventory` → `commit`. */
export const commitPeer = peer(PeerName.Inventory, inventoryContract.operation('commit'));
/** `inventory` → `stock` (the books check). */
export const stockPeer = peer(PeerName.Inventory, inventoryContract.operation('stock'));
/** `payments` → `charge`. */
export const chargePeer = peer(PeerName.Payments, paymentsContract.operation('charge'));
/** `payments` → `refund`. */
export const refundPeer = peer(PeerName.Payments, paymentsContract.operation('refund'));

/** The order ledger's contract (the reducer's own). */
export const ledgerContract = reducerContract(orderLedgerMachine, { name: PeerName.Ledger, version: CONTRACT_VERSION });
/** `order-ledger`. */
export const ledgerPeer: PeerRef<typeof ledgerContract> = peer(PeerName.Ledger, ledgerContract);

/**
 * The contract the orchestrator's HTTP client of a multi-operation peer is built with: any envelope in, any JSON
 * out. Each operation's own schemas are checked by the node (and type the workflow's steps).
 */
export function peerClientContract(name: PeerName): NodeContract {
  if (name === PeerName.Ledger) return ledgerContract;
  const kind = name === PeerName.Pricing ? NodeKind.Compute : NodeKind.Effect;
  return defineContract({ name, kind, version: CONTRACT_VERSION, input: z.unknown(), output: z.unknown() });
}
