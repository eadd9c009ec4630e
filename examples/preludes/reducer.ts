// Fixtures the TSDoc examples of @onex/reducer may use without declaring them (see examples/README.md): the order
// machine of the package's README, its schemas, a store and a node over it. Each is a real value; importing this
// file starts nothing. A fragment that uses one of these is compiled, not run.
import { z } from 'zod';
import { createNodeClient, createSilentLogger } from '@onex/core';
import {
  defineReducerNode,
  defineStateMachine,
  MemoryReducerStore,
  NodeReducer,
  reducerContract,
  type AppliedEvent,
  type IntentOf,
  type ReducerEvent,
  type ReducerStore,
  type StateMachineRegistry,
  type TransitionChange,
  type TransitionRecord,
} from '@onex/reducer';

/** The context (aggregate data) of an order. */
export const OrderContext = z.object({
  total: z.number().nonnegative().default(0),
  paid: z.number().nonnegative().default(0),
  reservation: z.string().nullable().default(null),
  failures: z.int().nonnegative().default(0),
});
/** The events of an order, by type. */
export const orderEvents = {
  PRICE: z.object({ total: z.number().positive() }),
  RESERVE: z.object({ reservationId: z.string().min(1) }),
  PAY: z.object({ amount: z.number().positive() }),
  PAYMENT_FAILED: z.object({ reason: z.string() }),
  FULFIL: z.object({}),
  CANCEL: z.object({ reason: z.string().optional() }),
};
/** The intents an order emits, by type. */
export const orderIntents = {
  charge: z.object({ amount: z.number() }),
  ship: z.object({ reservation: z.string() }),
  'release-stock': z.object({ reservation: z.string() }),
  refund: z.object({ amount: z.number() }),
  notify: z.object({ message: z.string() }),
};
/** The same schemas by the shorter names examples use. */
export const Context = OrderContext;
export const events = orderEvents;
export const intents = orderIntents;

/** The order machine of the README: created → priced → reserved → paid → fulfilled, with payment failures and cancels. */
export const orderMachine = defineStateMachine({
  name: 'order',
  states: ['created', 'priced', 'reserved', 'paid', 'fulfilled', 'cancelled', 'refunded', 'payment-failed'],
  initial: 'created',
  terminal: ['fulfilled', 'cancelled', 'refunded'],
  error: ['payment-failed'],
  context: OrderContext,
  events: orderEvents,
  intents: orderIntents,
  transitions: [
    { from: 'created', on: 'PRICE', to: 'priced', update: (ctx, p) => ({ ...ctx, total: p.total }) },
    {
      from: 'priced',
      on: 'RESERVE',
      to: 'reserved',
      update: (ctx, p) => ({ ...ctx, reservation: p.reservationId }),
      emit: (ctx) => [{ type: 'charge', payload: { amount: ctx.total } }],
    },
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
    { from: 'paid', on: 'FULFIL', to: 'fulfilled', emit: (ctx) => [{ type: 'notify', payload: { message: `order of ${ctx.total} is on its way` } }] },
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
/** The order machine, by the shorter name examples use. */
export const machine = orderMachine;

/** A fresh order's snapshot. */
export const snapshot = orderMachine.initialSnapshot();
/** An event for an order, as a caller sends it. */
export const event: ReducerEvent<typeof orderMachine> = { id: 'e-1', type: 'PRICE', payload: { total: 30 } };

/** The registry a YAML machine of orders is loaded with (`loadStateMachine`). */
export const registry: StateMachineRegistry<typeof orderEvents, typeof OrderContext, typeof orderIntents> = {
  context: OrderContext,
  events: orderEvents,
  intents: orderIntents,
  guards: { paidInFull: (ctx, p: { amount: number }) => ctx.paid + p.amount >= ctx.total },
  updates: { setTotal: (ctx, p: { total: number }) => ({ ...ctx, total: p.total }) },
  emitters: { ship: (ctx) => [{ type: 'ship', payload: { reservation: ctx.reservation ?? '' } }] },
};

/** A store of aggregates (in memory; typed as the interface every store implements). */
export const store: ReducerStore = new MemoryReducerStore();
/** The `orders` node's definition: the order machine, at a version. */
export const orders = defineReducerNode({ machine: orderMachine, version: '1.0.0' });
/** An `orders` node over {@link store}, not initialised. */
export const node = new NodeReducer(orders, { store, logger: createSilentLogger() });
/** A client of a served `orders` node. */
export const client = createNodeClient('http://127.0.0.1:4002', reducerContract(orders));

/** An aggregate id. */
export const orderId = 'order-42';
/** What the node answered to an event: the order's new state and the intents to forward. */
export const applied: AppliedEvent<typeof orderMachine> = {
  aggregateId: orderId,
  eventId: 'e-2',
  state: 'reserved',
  previousState: 'priced',
  context: { total: 30, paid: 0, reservation: 'r-7', failures: 0 },
  version: 2,
  intents: [{ type: 'charge', payload: { amount: 30 }, key: `order:${orderId}:e-2:0` }],
  duplicate: false,
};

/** A transition as a reducer appends it to a store. */
export const change: TransitionChange = {
  eventId: 'e-1',
  kind: 'event',
  event: { type: 'PRICE', payload: { total: 30 } },
  from: 'created',
  to: 'priced',
  context: { total: 30, paid: 0, reservation: null, failures: 0 },
  intents: [],
  at: Date.now(),
};
/** A transition as a store records it. */
export const record: TransitionRecord = { ...change, aggregateId: 'o-1', version: 1 };

/** Where intents go once an event is applied (an application's own dispatcher). */
export function forward(list: readonly IntentOf<typeof orderMachine>[]): void {
  for (const intent of list) if (intent.type === 'notify') console.log(intent.payload.message);
}
