// The code side of test/fixtures/order-fsm.yaml: the same order machine as order-machine.ts, its graph in YAML.
import { z } from 'zod';
import type { StateMachineRegistry } from '../src/index.js';
import { OrderContext } from './order-machine.js';

export const orderEvents = {
  PRICE: z.object({ total: z.number().positive() }),
  RESERVE: z.object({ reservationId: z.string().min(1) }),
  PAY: z.object({ amount: z.number().positive() }),
  PAYMENT_FAILED: z.object({ reason: z.string() }),
  FULFIL: z.object({}),
  CANCEL: z.object({ reason: z.string().optional() }),
};

export const orderIntents = {
  charge: z.object({ amount: z.number() }),
  ship: z.object({ reservation: z.string() }),
  'release-stock': z.object({ reservation: z.string() }),
  refund: z.object({ amount: z.number() }),
  notify: z.object({ message: z.string() }),
};

export const orderRegistry: StateMachineRegistry<typeof orderEvents, typeof OrderContext, typeof orderIntents> = {
  context: OrderContext,
  events: orderEvents,
  intents: orderIntents,
  guards: { paidInFull: (ctx, p: { amount: number }) => ctx.paid + p.amount >= ctx.total },
  updates: {
    setTotal: (ctx, p: { total: number }) => ({ ...ctx, total: p.total }),
    setReservation: (ctx, p: { reservationId: string }) => ({ ...ctx, reservation: p.reservationId }),
    addPayment: (ctx, p: { amount: number }) => ({ ...ctx, paid: ctx.paid + p.amount }),
    countFailure: (ctx) => ({ ...ctx, failures: ctx.failures + 1 }),
  },
  emitters: {
    charge: (ctx) => [{ type: 'charge', payload: { amount: ctx.total } }],
    ship: (ctx) => [{ type: 'ship', payload: { reservation: ctx.reservation ?? '' } }],
    notifyShipped: (ctx) => [{ type: 'notify', payload: { message: `order of ${ctx.total} is on its way` } }],
    releaseStock: (ctx) => (ctx.reservation === null ? [] : [{ type: 'release-stock', payload: { reservation: ctx.reservation } }]),
    refund: (ctx) => [{ type: 'refund', payload: { amount: ctx.paid } }],
  },
};
