import { ErrorCode, OnexError } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { orderMachine, type OrderMachine } from '../../test/order-machine.js';
import { reduce } from './reduce.js';
import { reduceErrorReason, ReduceErrorReason } from './reduce-error.js';
import { defineStateMachine, type EventOf, type SnapshotOf } from './state-machine.js';

function run(events: EventOf<OrderMachine>[], from: SnapshotOf<OrderMachine> = orderMachine.initialSnapshot()): SnapshotOf<OrderMachine> {
  let snapshot = from;
  for (const event of events) {
    const r = reduce(orderMachine, snapshot, event);
    if (!r.ok) throw r.error;
    snapshot = { state: r.value.state, context: r.value.context };
  }
  return snapshot;
}

const reserved = (): SnapshotOf<OrderMachine> =>
  run([
    { type: 'PRICE', payload: { total: 30 } },
    { type: 'RESERVE', payload: { reservationId: 'r-1' } },
  ]);

describe('reduce', () => {
  it('moves through the lifecycle, updating the context and returning intents', () => {
    const start = orderMachine.initialSnapshot();
    const priced = reduce(orderMachine, start, { type: 'PRICE', payload: { total: 30 } });
    expect(priced).toMatchObject({ ok: true, value: { state: 'priced', from: 'created', on: 'PRICE', transition: 0, intents: [] } });

    const r = reduce(orderMachine, { state: 'priced', context: { ...start.context, total: 30 } }, { type: 'RESERVE', payload: { reservationId: 'r-1' } });
    expect(r.ok && r.value.intents).toEqual([{ type: 'charge', payload: { amount: 30 } }]);
    expect(r.ok && r.value.context).toEqual({ total: 30, paid: 0, reservation: 'r-1', failures: 0 });
  });

  it('is pure: the snapshot it was given is not touched', () => {
    const snapshot = reserved();
    const before = structuredClone(snapshot);
    const r = reduce(orderMachine, snapshot, { type: 'PAY', payload: { amount: 10 } });
    expect(r.ok).toBe(true);
    expect(snapshot).toEqual(before);
  });

  it('rejects an illegal transition with a typed CONFLICT and no new state', () => {
    const start = orderMachine.initialSnapshot();
    const r = reduce(orderMachine, start, { type: 'PAY', payload: { amount: 5 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(ErrorCode.Conflict);
    expect(r.error.httpStatus).toBe(409);
    expect(r.error.context).toMatchObject({ reason: 'ILLEGAL_TRANSITION', machine: 'order', state: 'created', trigger: 'PAY' });
    expect(reduceErrorReason(r.error)).toBe(ReduceErrorReason.IllegalTransition);
    expect(r.error.message).toBe("Event 'PAY' is not allowed in state 'created': no transition leaves 'created' on PAY");
  });

  it('says when the state is terminal', () => {
    const done = run([{ type: 'CANCEL', payload: {} }]);
    expect(done.state).toBe('cancelled');
    const r = reduce(orderMachine, done, { type: 'PRICE', payload: { total: 1 } });
    expect(!r.ok && r.error.message).toContain("'cancelled' is terminal");
  });

  it('picks the highest-priority transition whose guard passes', () => {
    // Partial payment: the priority-1 guard fails, the unguarded fallback keeps the order reserved.
    const partial = reduce(orderMachine, reserved(), { type: 'PAY', payload: { amount: 10 } });
    expect(partial).toMatchObject({ ok: true, value: { state: 'reserved', transition: 3, intents: [] } });
    // Full payment: the guarded transition wins and emits its intent.
    const after = partial.ok ? { state: partial.value.state, context: partial.value.context } : reserved();
    const full = reduce(orderMachine, after, { type: 'PAY', payload: { amount: 20 } });
    expect(full).toMatchObject({ ok: true, value: { state: 'paid', transition: 2, context: { paid: 30 } } });
    expect(full.ok && full.value.intents).toEqual([{ type: 'ship', payload: { reservation: 'r-1' } }]);
  });

  it("prefers a transition naming the state over a '*' one", () => {
    const paid = run([{ type: 'PAY', payload: { amount: 30 } }], reserved());
    const cancelled = reduce(orderMachine, paid, { type: 'CANCEL', payload: {} });
    expect(cancelled.ok && cancelled.value.state).toBe('refunded');
    expect(cancelled.ok && cancelled.value.intents.map((i) => i.type)).toEqual(['refund', 'release-stock']);
    const early = reduce(orderMachine, orderMachine.initialSnapshot(), { type: 'CANCEL', payload: {} });
    expect(early.ok && early.value).toMatchObject({ state: 'cancelled', intents: [] });
  });

  it('leaves error states through their transitions', () => {
    const failed = run([{ type: 'PAYMENT_FAILED', payload: { reason: 'card declined' } }], reserved());
    expect(failed).toMatchObject({ state: 'payment-failed', context: { failures: 1 } });
    expect(run([{ type: 'PAY', payload: { amount: 30 } }], failed).state).toBe('paid');
  });

  it('rejects with GUARD_REJECTED when every guard says no', () => {
    const machine = defineStateMachine({
      name: 'gate',
      states: ['shut', 'open'],
      initial: 'shut',
      terminal: ['open'],
      context: z.object({}),
      events: { OPEN: z.object({ code: z.string() }) },
      transitions: [{ from: 'shut', on: 'OPEN', to: 'open', guard: (_ctx, p) => p.code === '1234' }],
    });
    const r = reduce(machine, machine.initialSnapshot(), { type: 'OPEN', payload: { code: '0000' } });
    expect(!r.ok && r.error.context).toMatchObject({ reason: 'GUARD_REJECTED', state: 'shut', trigger: 'OPEN', transitions: [0] });
    expect(!r.ok && r.error.code).toBe(ErrorCode.Conflict);
  });

  it('rejects an unknown event type or a malformed payload with VALIDATION', () => {
    const start = orderMachine.initialSnapshot();
    const unknown = reduce(orderMachine, start, { type: 'SHIP', payload: {} } as never);
    expect(!unknown.ok && unknown.error).toMatchObject({ code: ErrorCode.Validation, context: { reason: 'UNKNOWN_EVENT' } });
    const bad = reduce(orderMachine, start, { type: 'PRICE', payload: { total: -1 } });
    expect(!bad.ok && bad.error).toMatchObject({ code: ErrorCode.Validation, httpStatus: 422, context: { reason: 'INVALID_PAYLOAD' } });
    expect(!bad.ok && bad.error.details).toEqual([expect.objectContaining({ path: 'payload.total' })]);
    const constructor = reduce(orderMachine, start, { type: 'constructor', payload: {} } as never);
    expect(!constructor.ok && constructor.error.context['reason']).toBe('UNKNOWN_EVENT');
  });

  it('rejects a snapshot whose state is not a state of the machine', () => {
    const r = reduce(orderMachine, { state: 'lost' as 'created', context: orderMachine.initialContext }, { type: 'CANCEL', payload: {} });
    expect(!r.ok && r.error.context['reason']).toBe('UNKNOWN_STATE');
  });

  it('checks what update and emit return against the machine schemas (CONTRACT)', () => {
    const machine = defineStateMachine({
      name: 'broken',
      states: ['a', 'b', 'c'],
      initial: 'a',
      terminal: ['b', 'c'],
      context: z.object({ n: z.number().default(0) }),
      events: { BAD_UPDATE: z.object({}), BAD_INTENT: z.object({}) },
      intents: { log: z.object({ line: z.string() }) },
      transitions: [
        { from: 'a', on: 'BAD_UPDATE', to: 'b', update: () => ({ n: 'x' as unknown as number }) },
        { from: 'a', on: 'BAD_INTENT', to: 'c', emit: (_ctx) => [{ type: 'log', payload: { line: 1 as unknown as string } }] },
      ],
    });
    const badUpdate = reduce(machine, machine.initialSnapshot(), { type: 'BAD_UPDATE', payload: {} });
    expect(!badUpdate.ok && badUpdate.error).toMatchObject({ code: ErrorCode.Contract, context: { reason: 'INVALID_CONTEXT', transition: 0 } });
    const badIntent = reduce(machine, machine.initialSnapshot(), { type: 'BAD_INTENT', payload: {} });
    expect(!badIntent.ok && badIntent.error).toMatchObject({ code: ErrorCode.Contract, context: { reason: 'INVALID_INTENT', intent: 'log' } });
  });

  it('never throws: a throwing guard becomes an error result', () => {
    const machine = defineStateMachine({
      name: 'throwing',
      states: ['a', 'b'],
      initial: 'a',
      terminal: ['b'],
      context: z.object({}),
      events: { GO: z.object({}), NO: z.object({}) },
      transitions: [
        {
          from: 'a',
          on: 'GO',
          to: 'b',
          guard: () => {
            throw new Error('boom');
          },
        },
        {
          from: 'a',
          on: 'NO',
          to: 'b',
          guard: () => {
            throw new OnexError(ErrorCode.Forbidden, 'not you');
          },
        },
      ],
    });
    const r = reduce(machine, machine.initialSnapshot(), { type: 'GO', payload: {} });
    expect(!r.ok && r.error.code).toBe(ErrorCode.Internal);
    const own = reduce(machine, machine.initialSnapshot(), { type: 'NO', payload: {} });
    expect(!own.ok && own.error.code).toBe(ErrorCode.Forbidden);
  });
});
