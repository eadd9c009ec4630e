import type { AnyStateMachine, ContextOf, IntentOf, StateOf } from '../machine/state-machine.js';
import type { TransitionRecord } from '../store/reducer-store.js';
import { NodeReducer, type NodeReducerOptions } from './node-reducer.js';
import type { AppliedEvent } from './reducer-contract.js';

/**
 * What {@link defineReducerNode} takes: the {@link NodeReducerOptions}, plus an optional `onTransition` callback
 * (the class's hook, as a function).
 *
 * @example
 * ```ts
 * const definition: ReducerNodeDefinition<typeof orderMachine> = { machine: orderMachine, version: '1.0.0' };
 * ```
 */
export interface ReducerNodeDefinition<M extends AnyStateMachine> extends NodeReducerOptions<M> {
  /** Runs after each recorded transition (see `NodeReducer.onTransition`). */
  readonly onTransition?: (applied: AppliedEvent<M>, record: TransitionRecord<StateOf<M>, ContextOf<M>, IntentOf<M>>) => void | Promise<void>;
}

/**
 * Makes a reducer node without writing a class: for the common case where the machine says it all.
 *
 * @example
 * ```ts
 * import { serveNode } from '@onex/core';
 * import { defineReducerNode } from '@onex/reducer';
 * import { SqliteReducerStore } from '@onex/reducer/sqlite';
 * const orders = defineReducerNode({
 *   machine: orderMachine,
 *   version: '1.0.0',
 *   store: new SqliteReducerStore({ path: './data/orders.db' }),
 * });
 * const served = await serveNode(orders, { port: 4000 });
 * ```
 */
export function defineReducerNode<M extends AnyStateMachine>(definition: ReducerNodeDefinition<M>): NodeReducer<M> {
  const { onTransition, ...options } = definition;
  class DefinedReducer extends NodeReducer<M> {
    protected override async onTransition(applied: AppliedEvent<M>, record: TransitionRecord<StateOf<M>, ContextOf<M>, IntentOf<M>>): Promise<void> {
      await onTransition?.(applied, record);
    }
  }
  return new DefinedReducer(options);
}
