// The order lifecycle used by the tests, the README and the bench: created → priced → reserved → paid → fulfilled,
// with cancelled / refunded branches and a payment-failed error state.
import { z } from 'zod';
import { defineStateMachine } from '../src/index.js';

export const OrderContext = z.object({
  total: z.number().nonnegative().default(0),
  paid: z.number().nonnegative().default(0),
  reservation: z.string().nullable().default(null),
  failures: z.number().int().nonnegative().default(0),
});

export const orderMachine = defineStateMachine({
  name: 'order',
  states: ['created', 'priced', 'reserved', 'paid', 'fulfilled', 'cancelled', 'refunded', 'payment-failed'],
  initial: 'created',
  terminal: ['fulfilled', 'cancelled', 'refunded'],
  error: ['payment-failed'],
  context: OrderContext,
  events: {
    PRICE: z.object({ total: z.number().positive() }),
    RESERVE: z.object({ reservationId: z.string().min(1) }),
    PAY: z.object({ amount: z.number().positive() }),
    PAYMENT_FAILED: z.object({ reason: z.string() }),
    FULFIL: z.object({}),
    CANCEL: z.object({ reason: z.string().optional() }),
  },
  intents: {
    charge: z.object({ amount: z.number() }),
    ship: z.object({ reservation: z.string() }),
    'release-stock': z.object({ reservation: z.string() }),
    refund: z.object({ amount: z.number() }),
    notify: z.object({ message: z.string() }),
  },
  transitions: [
    { from: 'created', on: 'PRICE', to: 'priced', update: (ctx, p) => ({ ...ctx, total: p.total }) },
    {
      from: 'priced',
      on: 'RESERVE',
      to: 'reserved',
      update: (ctx, p) => ({ ...ctx, reservation: p.reservationId }),
      emit: (ctx) => [{ type: 'charge', payload: { amount: ctx.total } }],
    },
    // A payment that completes the total wins over a partial one (priority); a partial one stays in 'reserved'.
    {
      from: ['reserved', 'payment-failed'],
      on: 'PAY',
      to: 'paid',
      priority: 1,
      guard: (ctx, p) => ctx.paid + p.amount >= ctx.total,
      update: (ctx, p) => ({ ...ctx, paid: ctx.paid + p.amount }),
      emit: (ctx) => [{ type: 'ship', payload: { reservation: ctx.reservation ?? '' } }],
    },
    { from: ['reserved', 'payment-failed'], on: 'PAY', to: 'reserved', update: (ctx, p) => ({ ...ctx, paid: ctx.paid + p.amount }) },
    { from: 'reserved', on: 'PAYMENT_FAILED', to: 'payment-failed', update: (ctx) => ({ ...ctx, failures: ctx.failures + 1 }) },
    {
      from: 'paid',
      on: 'FULFIL',
      to: 'fulfilled',
      emit: (ctx) => [{ type: 'notify', payload: { message: `order of ${ctx.total} is on its way` } }],
    },
    // Any live state may be cancelled; a paid order is refunded instead (a named state beats '*').
    {
      from: '*',
      on: 'CANCEL',
      to: 'cancelled',
      emit: (ctx) => (ctx.reservation === null ? [] : [{ type: 'release-stock', payload: { reservation: ctx.reservation } }]),
    },
    {
      from: 'paid',
      on: 'CANCEL',
      to: 'refunded',
      emit: (ctx) => [
        { type: 'refund', payload: { amount: ctx.paid } },
        { type: 'release-stock', payload: { reservation: ctx.reservation ?? '' } },
      ],
    },
  ],
});

export type OrderMachine = typeof orderMachine;
