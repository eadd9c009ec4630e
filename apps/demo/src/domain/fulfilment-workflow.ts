import { defineWorkflow } from '@onex/orchestrator';
import { z } from 'zod';
import { Order } from './order.js';
import { chargePeer, commitPeer, fraudCheckPeer, ledgerPeer, quotePeer, refundPeer, releasePeer, reservePeer } from './peers.js';

/** The workflow's output: what a fulfilled order produced. */
export const FulfilmentReceipt = z.object({
  orderId: z.string(),
  totalCents: z.int(),
  chargeId: z.string(),
  shipmentId: z.string(),
});

/** The workflow type, as started over HTTP (`POST /v1/workflows { type, input }`). */
export const FULFILMENT_WORKFLOW = 'order-fulfilment';

/** The signal the warehouse sends once it shipped an order (`POST /v1/workflows/:id/signals/shipped`). */
export const SHIPPED_SIGNAL = 'shipped';
/** What the warehouse says when it ships: the carrier and its tracking id. */
export const Shipped = z.object({ carrier: z.enum(['dhl', 'ups', 'postnord']), trackingId: z.string().regex(/^[A-Z0-9-]{6,32}$/) });
/** What the warehouse says when it ships. */
export type Shipped = z.infer<typeof Shipped>;
/**
 * How long a paid order waits for the warehouse's `shipped` signal before the saga refunds it and releases its
 * stock, ms. Short, so that a demo run shows both ends.
 */
export const SHIP_TIMEOUT_MS = 4_000;

/** Fast local peers: a few quick retries (every step's default). */
const LOCAL_RETRY = { maxAttempts: 4, initialDelayMs: 50, maxDelayMs: 500 };
/**
 * The charge waits out a short provider outage: retries spread over ~10 s, while the payments breaker (open) makes
 * the attempts in between fail fast instead of piling onto the provider.
 */
const CHARGE_RETRY = { maxAttempts: 10, initialDelayMs: 250, maxDelayMs: 2_000, jitter: 'full' as const };
/** Compensations must get through: they outlast any outage the scenarios inject. */
const COMPENSATION_RETRY = { maxAttempts: 30, initialDelayMs: 100, maxDelayMs: 2_000 };

/**
 * `order-fulfilment` v1.1:
 *
 * ```text
 * ledger-open → price ─┬─ reserve ──────┐
 *                      ├─ fraud-check ──┼─ ledger-reserved → charge → ledger-paid → shipped? → fulfil → ledger-fulfilled
 *                      └─ ledger-priced ┘
 * ```
 *
 * `shipped?` waits (durably, parked: no run held) for the warehouse's `shipped` signal, {@link SHIP_TIMEOUT_MS} at
 * most; a signal sent before the order got there is kept for it. No signal in time fails the wait with `TIMEOUT`,
 * and the saga refunds the charge, releases the stock and cancels the ledger entry.
 *
 * Every step calls a fast local peer (2 s per attempt, {@link LOCAL_RETRY}) but the charge, which waits out a
 * provider outage (3 s per attempt, {@link CHARGE_RETRY}): the defaults say the first once, the charge says how it
 * differs.
 *
 * Compensations, run in reverse completion order when a step fails for good: `charge` → refund, `reserve` →
 * release the stock, `ledger-open` → `CANCEL` on the ledger (which ends `refunded` if the ledger had seen the
 * payment, else `cancelled`). Every compensation is safe for work that never happened. Ledger event ids are derived
 * from the workflow id and the step, so a replay after a crash is a no-op.
 */
export const fulfilmentWorkflow = defineWorkflow({
  type: FULFILMENT_WORKFLOW,
  version: '1.1.0',
  input: Order,
  output: FulfilmentReceipt,
  timeoutMs: 60_000,
  defaults: { timeoutMs: 2_000, retry: LOCAL_RETRY, compensation: { retry: COMPENSATION_RETRY, timeoutMs: 2_000 } },
})
  .step('ledger-open', {
    target: ledgerPeer,
    input: ({ workflowId, input }) => ({ aggregateId: input.orderId, event: { id: `${workflowId}:open`, type: 'OPEN', payload: { customerId: input.customerId } } }),
    compensate: {
      target: ledgerPeer,
      input: ({ workflowId, input }) => ({ aggregateId: input.orderId, event: { id: `${workflowId}:cancel`, type: 'CANCEL', payload: { reason: 'saga' } } }),
    },
  })
  .step('price', {
    target: quotePeer,
    dependsOn: ['ledger-open'],
    input: ({ input }) => ({ computation: 'order.quote', input }),
  })
  .step('ledger-priced', {
    target: ledgerPeer,
    dependsOn: ['price'],
    input: ({ workflowId, input, steps }) => ({
      aggregateId: input.orderId,
      event: { id: `${workflowId}:priced`, type: 'PRICE', payload: { totalCents: steps.price.result.totalCents } },
    }),
  })
  .step('reserve', {
    target: reservePeer,
    dependsOn: ['price'],
    input: ({ input }) => ({ operation: 'reserve', input: { orderId: input.orderId, lines: input.lines } }),
    compensate: { target: releasePeer, input: ({ input }) => ({ operation: 'release', input: { orderId: input.orderId } }) },
  })
  .step('fraud-check', {
    target: fraudCheckPeer,
    dependsOn: ['price'],
    input: ({ input, steps }) => ({
      computation: 'order.fraud-check',
      input: { orderId: input.orderId, customerId: input.customerId, country: input.country, totalCents: steps.price.result.totalCents },
    }),
  })
  .step('ledger-reserved', {
    target: ledgerPeer,
    dependsOn: ['ledger-priced', 'reserve', 'fraud-check'],
    input: ({ workflowId, input, steps }) => ({
      aggregateId: input.orderId,
      event: { id: `${workflowId}:reserved`, type: 'RESERVE', payload: { reservationId: steps.reserve.result.reservationId } },
    }),
  })
  .step('charge', {
    target: chargePeer,
    dependsOn: ['ledger-reserved', 'price'],
    timeoutMs: 3_000,
    retry: CHARGE_RETRY,
    input: ({ input, steps }) => ({ operation: 'charge', input: { orderId: input.orderId, amountCents: steps.price.result.totalCents, currency: 'EUR' } }),
    compensate: { target: refundPeer, timeoutMs: 3_000, input: ({ input }) => ({ operation: 'refund', input: { orderId: input.orderId } }) },
  })
  .step('ledger-paid', {
    target: ledgerPeer,
    dependsOn: ['charge'],
    input: ({ workflowId, input, steps }) => ({
      aggregateId: input.orderId,
      event: { id: `${workflowId}:paid`, type: 'PAY', payload: { chargeId: steps.charge.result.chargeId, amountCents: steps.charge.result.amountCents } },
    }),
  })
  .waitFor('shipped', { signal: SHIPPED_SIGNAL, dependsOn: ['ledger-paid'], schema: Shipped, timeoutMs: SHIP_TIMEOUT_MS })
  .step('fulfil', {
    target: commitPeer,
    dependsOn: ['shipped'],
    input: ({ input }) => ({ operation: 'commit', input: { orderId: input.orderId } }),
  })
  .step('ledger-fulfilled', {
    target: ledgerPeer,
    dependsOn: ['fulfil'],
    input: ({ workflowId, input, steps }) => ({
      aggregateId: input.orderId,
      event: { id: `${workflowId}:fulfilled`, type: 'FULFIL', payload: { shipmentId: steps.fulfil.result.shipmentId } },
    }),
  })
  // Every step is there once the workflow completes: none is conditional.
  .returns(({ input, steps }) => ({
    orderId: input.orderId,
    totalCents: steps.price.result.totalCents,
    chargeId: steps.charge.result.chargeId,
    shipmentId: steps.fulfil.result.shipmentId,
  }));
