import type { ContractInput, ContractOutput, Result } from '@onex/core';
import { describe, expectTypeOf, it } from 'vitest';
import {
  defineReducerNode,
  NodeReducer,
  reducerContract,
  type AppliedEvent,
  type MachineOf,
  type NodeReducerOptions,
  type ReducerContract,
  type ReducerInput,
  type ReducerNodeDefinition,
  type TransitionRecordOf,
} from '../src/index.js';
import { orderMachine, type OrderMachine } from './order-machine.js';

const orders = defineReducerNode({ machine: orderMachine, version: '1.0.0' });

describe('NodeReducer(definition, options)', () => {
  it('keeps the machine of the definition', () => {
    expectTypeOf(orders).toEqualTypeOf<ReducerNodeDefinition<OrderMachine>>();
    expectTypeOf<MachineOf<typeof orders>>().toEqualTypeOf<OrderMachine>();
  });

  it('types apply(), history() and the contract by the machine, for new and for subclasses', () => {
    const node = new NodeReducer(orders, {});
    expectTypeOf(node.machine).toEqualTypeOf<OrderMachine>();
    expectTypeOf(node.apply('o-1', { id: 'e1', type: 'PAY', payload: { amount: 1 } })).toEqualTypeOf<Promise<Result<AppliedEvent<OrderMachine>>>>();
    expectTypeOf(node.history('o-1')).toEqualTypeOf<Promise<readonly TransitionRecordOf<OrderMachine>[]>>();
    expectTypeOf(node.contract).toEqualTypeOf<ReducerContract<OrderMachine>>();

    class Orders extends NodeReducer<typeof orders> {
      constructor(options: NodeReducerOptions<OrderMachine> = {}) {
        super(orders, options);
      }
    }
    expectTypeOf(new Orders().machine).toEqualTypeOf<OrderMachine>();
    expectTypeOf<Parameters<Orders['apply']>[1]['type']>().toEqualTypeOf<'PRICE' | 'RESERVE' | 'PAY' | 'PAYMENT_FAILED' | 'FULFIL' | 'CANCEL'>();
    // @ts-expect-error: not a trigger of the machine
    void new Orders().apply('o-1', { id: 'e1', type: 'SHIP', payload: {} });
    // @ts-expect-error: the payload of PAY is checked
    void node.apply('o-1', { id: 'e1', type: 'PAY', payload: { amount: 'one' } });
  });

  it('gives the same contract from the definition and from the machine', () => {
    expectTypeOf(reducerContract(orders)).toEqualTypeOf<ReducerContract<OrderMachine>>();
    expectTypeOf(reducerContract(orderMachine, { version: '1.0.0' })).toEqualTypeOf<ReducerContract<OrderMachine>>();
    expectTypeOf<ContractInput<ReducerContract<OrderMachine>>>().toExtend<ReducerInput<OrderMachine>>();
    expectTypeOf<ContractOutput<ReducerContract<OrderMachine>>>().toEqualTypeOf<AppliedEvent<OrderMachine>>();
    // @ts-expect-error: a machine alone needs the contract's version
    reducerContract(orderMachine);
  });

  it('takes the store and callbacks as options, typed by the machine', () => {
    new NodeReducer(orders, {
      onTransition: (applied) => {
        expectTypeOf(applied.state).toEqualTypeOf<OrderMachine['states'][number]>();
      },
    });
    new NodeReducer(orders, {
      interceptors: [
        async (input, _ctx, next) => {
          expectTypeOf(input.event.type).toEqualTypeOf<'PRICE' | 'RESERVE' | 'PAY' | 'PAYMENT_FAILED' | 'FULFIL' | 'CANCEL'>();
          const applied = await next(input);
          expectTypeOf(applied.state).toEqualTypeOf<OrderMachine['states'][number]>();
          return applied;
        },
      ],
    });
    // @ts-expect-error: the store is an option, not part of the definition
    defineReducerNode({ machine: orderMachine, version: '1.0.0', store: undefined });
  });
});
