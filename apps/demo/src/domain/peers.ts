import { defineContract, NodeKind, type NodeContract } from '@onex/core';
import { peer, type PeerRef } from '@onex/orchestrator';
import { reducerContract } from '@onex/reducer';
import { z } from 'zod';
import { CommitInput, CommitOutput, ReleaseInput, ReleaseOutput, ReserveInput, ReserveOutput } from './inventory.js';
import { orderLedgerMachine } from './order-ledger.js';
import { FraudCheckInput, FraudVerdict, Order, Quote } from './order.js';
import { ChargeInput, ChargeOutput, RefundInput, RefundOutput } from './payments.js';

/** The names the orchestrator knows its peers by (and the process names of the stack). */
export const PeerName = { Pricing: 'pricing', Inventory: 'inventory', Payments: 'payments', Ledger: 'order-ledger' } as const;
/** One of the {@link PeerName} values. */
export type PeerName = (typeof PeerName)[keyof typeof PeerName];

/** Contract versions, shared by the nodes and their callers. */
export const CONTRACT_VERSION = '1.0.0';

type Envelope<TKey extends string, TName extends string, TInput extends z.ZodType> = z.ZodObject<{ [K in TKey]: z.ZodLiteral<TName> } & { input: TInput }>;

/**
 * The contract of one operation of an effect node (or one computation of a compute node), as a caller sees it: the
 * `{ operation | computation, input }` envelope in, `{ result }` out. Steps are typed by it; the node itself checks
 * the very same schemas on its side.
 */
function envelopeContract<const TKey extends 'operation' | 'computation', const TName extends string, TInput extends z.ZodType, TOutput extends z.ZodType>(
  node: PeerName,
  kind: NodeKind,
  key: TKey,
  name: TName,
  schemas: { readonly input: TInput; readonly output: TOutput },
): NodeContract<Envelope<TKey, TName, TInput>, z.ZodObject<{ result: TOutput }>> {
  const input = z.object({ [key]: z.literal(name), input: schemas.input } as { [K in TKey]: z.ZodLiteral<TName> } & { input: TInput });
  return defineContract({ name: node, kind, version: CONTRACT_VERSION, input, output: z.object({ result: schemas.output }) });
}

/** `pricing` → `order.quote`. */
export const quotePeer = peer(PeerName.Pricing, envelopeContract(PeerName.Pricing, NodeKind.Compute, 'computation', 'order.quote', { input: Order, output: Quote }));
/** `pricing` → `order.fraud-check`. */
export const fraudCheckPeer = peer(
  PeerName.Pricing,
  envelopeContract(PeerName.Pricing, NodeKind.Compute, 'computation', 'order.fraud-check', { input: FraudCheckInput, output: FraudVerdict }),
);
/** `inventory` → `reserve`. */
export const reservePeer = peer(PeerName.Inventory, envelopeContract(PeerName.Inventory, NodeKind.Effect, 'operation', 'reserve', { input: ReserveInput, output: ReserveOutput }));
/** `inventory` → `release`. */
export const releasePeer = peer(PeerName.Inventory, envelopeContract(PeerName.Inventory, NodeKind.Effect, 'operation', 'release', { input: ReleaseInput, output: ReleaseOutput }));
/** `inventory` → `commit`. */
export const commitPeer = peer(PeerName.Inventory, envelopeContract(PeerName.Inventory, NodeKind.Effect, 'operation', 'commit', { input: CommitInput, output: CommitOutput }));
/** `payments` → `charge`. */
export const chargePeer = peer(PeerName.Payments, envelopeContract(PeerName.Payments, NodeKind.Effect, 'operation', 'charge', { input: ChargeInput, output: ChargeOutput }));
/** `payments` → `refund`. */
export const refundPeer = peer(PeerName.Payments, envelopeContract(PeerName.Payments, NodeKind.Effect, 'operation', 'refund', { input: RefundInput, output: RefundOutput }));

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
