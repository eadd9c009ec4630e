import { defineStateMachine } from '@onex/reducer';
import { z } from 'zod';

/** The ledger's view of one order. */
export const LedgerContext = z.object({
  customerId: z.string().default(''),
  totalCents: z.int().nonnegative().default(0),
  reservationId: z.string().nullable().default(null),
  chargeId: z.string().nullable().default(null),
  paidCents: z.int().nonnegative().default(0),
  shipmentId: z.string().nullable().default(null),
  cancelReason: z.string().nullable().default(null),
});

/**
 * The order lifecycle: `created → priced → reserved → paid → fulfilled`, with the `cancelled` and `refunded`
 * branches. `CANCEL` is the saga's last word: from any live state it cancels, except from `paid`, where the money
 * was taken and has been given back, so the order ends `refunded`.
 */
export const orderLedgerMachine = defineStateMachine({
  name: 'order-ledger',
  description: 'Lifecycle of an order, fed by the order-fulfilment workflow',
  states: ['created', 'priced', 'reserved', 'paid', 'fulfilled', 'cancelled', 'refunded'],
  initial: 'created',
  terminal: ['fulfilled', 'cancelled', 'refunded'],
  context: LedgerContext,
  events: {
    OPEN: z.object({ customerId: z.string() }),
    PRICE: z.object({ totalCents: z.int().positive() }),
    RESERVE: z.object({ reservationId: z.string().min(1) }),
    PAY: z.object({ chargeId: z.string().min(1), amountCents: z.int().positive() }),
    FULFIL: z.object({ shipmentId: z.string().min(1) }),
    CANCEL: z.object({ reason: z.string() }),
  },
  transitions: [
    { from: 'created', on: 'OPEN', to: 'created', update: (ctx, p) => ({ ...ctx, customerId: p.customerId }) },
    { from: 'created', on: 'PRICE', to: 'priced', update: (ctx, p) => ({ ...ctx, totalCents: p.totalCents }) },
    { from: 'priced', on: 'RESERVE', to: 'reserved', update: (ctx, p) => ({ ...ctx, reservationId: p.reservationId }) },
    { from: 'reserved', on: 'PAY', to: 'paid', update: (ctx, p) => ({ ...ctx, chargeId: p.chargeId, paidCents: p.amountCents }) },
    { from: 'paid', on: 'FULFIL', to: 'fulfilled', update: (ctx, p) => ({ ...ctx, shipmentId: p.shipmentId }) },
    { from: '*', on: 'CANCEL', to: 'cancelled', update: (ctx, p) => ({ ...ctx, cancelReason: p.reason }) },
    { from: 'paid', on: 'CANCEL', to: 'refunded', update: (ctx, p) => ({ ...ctx, cancelReason: p.reason }) },
  ],
});

/** A state of the order ledger. */
export type LedgerState = (typeof orderLedgerMachine.states)[number];

/** The parts of a finished workflow that decide where its order's ledger must be. */
export interface FinishedWorkflowView {
  readonly status: string;
  readonly steps: Readonly<Record<string, { readonly status: string } | undefined>>;
}

/**
 * Where the ledger of an order must end, given how its workflow ended: `fulfilled` when it completed; after a saga,
 * `refunded` when the payment had been recorded (the ledger saw `paid`), else `cancelled`; `undefined` when the
 * workflow failed before the ledger was opened (nothing to check) or needs a person (`compensation_failed`).
 */
export function expectedLedgerState(workflow: FinishedWorkflowView): LedgerState | 'absent' | undefined {
  switch (workflow.status) {
    case 'completed':
      return 'fulfilled';
    case 'compensated':
    case 'cancelled':
    case 'timed_out':
      return workflow.steps['ledger-paid']?.status === 'completed' ? 'refunded' : 'cancelled';
    case 'failed':
      return 'absent';
    default:
      return undefined;
  }
}
