import { ErrorCode, isOnexError, type OnexError } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { orderMachine } from '../../test/order-machine.js';
import { defineStateMachine } from './state-machine.js';

const events = { GO: z.object({}), STOP: z.object({}) };
const context = z.object({});

function definitionError(define: () => unknown): OnexError {
  try {
    define();
  } catch (error) {
    if (isOnexError(error)) return error;
    throw error;
  }
  throw new Error('expected the definition to be rejected');
}

describe('defineStateMachine', () => {
  it('builds a machine with its lookup table and helpers', () => {
    expect(orderMachine.initialSnapshot()).toEqual({ state: 'created', context: { total: 0, paid: 0, reservation: null, failures: 0 } });
    expect(orderMachine.triggersFrom('created')).toEqual(['PRICE', 'CANCEL']);
    expect(orderMachine.triggersFrom('fulfilled')).toEqual([]);
    expect(orderMachine.isTerminal('refunded')).toBe(true);
    expect(orderMachine.isError('payment-failed')).toBe(true);
    expect(orderMachine.isState('nope')).toBe(false);
    // priority first, then a named state before '*', then definition order
    expect(orderMachine.transitionsFor('reserved', 'PAY').map((t) => t.index)).toEqual([2, 3]);
    expect(orderMachine.transitionsFor('paid', 'CANCEL').map((t) => t.to)).toEqual(['refunded', 'cancelled']);
    expect(Object.isFrozen(orderMachine)).toBe(true);
  });

  it('rejects a transition to an unknown state, naming the transition', () => {
    const error = definitionError(() =>
      defineStateMachine({
        name: 'm',
        states: ['a', 'b'],
        initial: 'a',
        terminal: ['b'],
        context,
        events,
        // @ts-expect-error 'c' is not a state
        transitions: [{ from: 'a', on: 'GO', to: 'b' }, { from: 'a', on: 'STOP', to: 'c' }],
      }),
    );
    expect(error.code).toBe(ErrorCode.Contract);
    expect(error.message).toBe("Invalid state machine 'm': transitions[1].to: unknown state 'c' (states: a, b)");
    expect(error.context).toMatchObject({ machine: 'm', path: 'transitions[1].to' });
  });

  it('rejects unknown states in initial, terminal, error and from, and unknown triggers', () => {
    const error = definitionError(() =>
      defineStateMachine({
        name: 'm',
        states: ['a', 'b'],
        // @ts-expect-error unknown initial
        initial: 'x',
        // @ts-expect-error unknown terminal
        terminal: ['y'],
        // @ts-expect-error unknown error state
        error: ['z'],
        context,
        events,
        // @ts-expect-error unknown source state and trigger
        transitions: [{ from: ['a', 'w'], on: 'JUMP', to: 'b' }],
      }),
    );
    const paths = (error.details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['initial', 'terminal[0]', 'error[0]', 'transitions[0].from[1]', 'transitions[0].on']));
  });

  it('rejects a state unreachable from the initial state', () => {
    const error = definitionError(() =>
      defineStateMachine({
        name: 'm',
        states: ['a', 'b', 'island'],
        initial: 'a',
        terminal: ['b', 'island'],
        context,
        events,
        transitions: [{ from: 'a', on: 'GO', to: 'b' }],
      }),
    );
    expect(error.message).toContain("states[2]: state 'island' is unreachable from the initial state 'a'");
  });

  it('rejects a transition out of a terminal state', () => {
    const error = definitionError(() =>
      defineStateMachine({
        name: 'm',
        states: ['a', 'done'],
        initial: 'a',
        terminal: ['done'],
        context,
        events,
        transitions: [
          { from: 'a', on: 'GO', to: 'done' },
          { from: 'done', on: 'STOP', to: 'a' },
        ],
      }),
    );
    expect(error.message).toBe("Invalid state machine 'm': transitions[1].from: 'done' is terminal: no transition may leave it");
  });

  it('rejects duplicate transitions unless guards and priorities tell them apart', () => {
    const duplicate = definitionError(() =>
      defineStateMachine({
        name: 'm',
        states: ['a', 'b', 'c'],
        initial: 'a',
        terminal: ['b', 'c'],
        context,
        events,
        transitions: [
          { from: 'a', on: 'GO', to: 'b' },
          { from: ['a'], on: 'GO', to: 'c' },
        ],
      }),
    );
    expect(duplicate.message).toContain('transitions[1]: duplicates transitions[0] (on GO from \'a\' at priority 0)');

    const halfGuarded = definitionError(() =>
      defineStateMachine({
        name: 'm',
        states: ['a', 'b', 'c'],
        initial: 'a',
        terminal: ['b', 'c'],
        context,
        events,
        transitions: [
          { from: 'a', on: 'GO', to: 'b', guard: () => true },
          { from: 'a', on: 'GO', to: 'c' },
        ],
      }),
    );
    expect(halfGuarded.message).toContain('give the guarded one a higher priority');

    // Distinguished: by priority, by guards on both, or a named state against '*'.
    expect(() =>
      defineStateMachine({
        name: 'm',
        states: ['a', 'b', 'c'],
        initial: 'a',
        terminal: ['b', 'c'],
        context,
        events,
        transitions: [
          { from: 'a', on: 'GO', to: 'b', guard: () => true, priority: 1 },
          { from: 'a', on: 'GO', to: 'c' },
          { from: 'a', on: 'STOP', to: 'b', guard: () => true },
          { from: 'a', on: 'STOP', to: 'c', guard: () => false },
          { from: '*', on: 'GO', to: 'c' },
        ],
      }),
    ).not.toThrow();
  });

  it('rejects a non-terminal state nothing leaves, and an initial context the schema refuses', () => {
    const deadEnd = definitionError(() =>
      defineStateMachine({ name: 'm', states: ['a', 'stuck'], initial: 'a', context, events, transitions: [{ from: 'a', on: 'GO', to: 'stuck' }] }),
    );
    expect(deadEnd.message).toContain("states[1]: state 'stuck' has no transition out");

    const badContext = definitionError(() =>
      defineStateMachine({
        name: 'm',
        states: ['a', 'b'],
        initial: 'a',
        terminal: ['b'],
        context: z.object({ n: z.number() }),
        events,
        transitions: [{ from: 'a', on: 'GO', to: 'b' }],
      }),
    );
    expect(badContext.message).toContain('initialContext: n:');
    expect(badContext.message).toContain('give initialContext');
  });

  it('reports every issue in details and counts the rest in the message', () => {
    const error = definitionError(() =>
      defineStateMachine({
        name: 'Not Kebab',
        states: ['a', 'a'],
        initial: 'a',
        context,
        events,
        transitions: [{ from: 'a', on: 'GO', to: 'a' }],
      }),
    );
    expect(error.message).toMatch(/^Invalid state machine 'Not Kebab': name: .* \(and 1 more\)$/);
    expect(error.details).toHaveLength(2);
  });

  it('types guard, update and emit payloads by trigger', () => {
    const machine = defineStateMachine({
      name: 'typed',
      states: ['idle', 'busy'],
      initial: 'idle',
      context: z.object({ n: z.number().default(0) }),
      events: { ADD: z.object({ by: z.number() }), RESET: z.object({ to: z.string() }) },
      intents: { log: z.object({ line: z.string() }) },
      transitions: [
        { from: 'idle', on: 'ADD', to: 'busy', update: (ctx, p) => ({ n: ctx.n + p.by }) },
        { from: 'busy', on: 'RESET', to: 'idle', emit: (_ctx, p) => [{ type: 'log', payload: { line: p.to } }] },
        // @ts-expect-error ADD's payload has no `to`
        { from: 'busy', on: 'ADD', to: 'busy', guard: (_ctx, p) => p.to === 'x' },
      ],
    });
    expect(machine.states).toEqual(['idle', 'busy']);
  });
});
