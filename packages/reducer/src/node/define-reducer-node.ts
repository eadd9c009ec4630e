import { ErrorCode, OnexError } from '@onex/core';
import type { AnyStateMachine } from '../machine/state-machine.js';
import { reducerContract } from './reducer-contract.js';

/**
 * A reducer node's definition: a pure value — the state machine events go through, and the contract's identity —
 * that `new NodeReducer(definition, options)` serves, `reducerContract(definition)` describes to callers, and a
 * test can construct as often as it likes. Runtime things (the store, logger, clock, interceptors, the
 * `onTransition` callback) are the node's options.
 *
 * @example
 * ```ts
 * const orders: ReducerNodeDefinition<typeof orderMachine> = { machine: orderMachine, version: '1.0.0' };
 * ```
 */
export interface ReducerNodeDefinition<M extends AnyStateMachine = AnyStateMachine> {
  /** The state machine events go through. */
  readonly machine: M;
  /** Semantic version of the node's contract. */
  readonly version: string;
  /** Node name, kebab-case. Default: the machine's name. */
  readonly name?: string | undefined;
  /** One sentence for people. Default: the machine's description. */
  readonly description?: string | undefined;
}

/**
 * Any reducer node definition, whatever its machine.
 *
 * @example
 * ```ts
 * function nameOf(definition: AnyReducerNodeDefinition): string {
 *   return definition.name ?? definition.machine.name;
 * }
 * ```
 */
export type AnyReducerNodeDefinition = ReducerNodeDefinition<AnyStateMachine>;

/**
 * The state machine of a reducer node definition.
 *
 * @example
 * ```ts
 * type M = MachineOf<typeof orders>; // typeof orderMachine
 * ```
 */
export type MachineOf<TDefinition extends AnyReducerNodeDefinition> = TDefinition['machine'];

function isStateMachine(value: unknown): value is AnyStateMachine {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Partial<Record<keyof AnyStateMachine, unknown>>;
  return typeof m.name === 'string' && Array.isArray(m.states) && typeof m.initialSnapshot === 'function' && typeof m.transitionsFor === 'function';
}

/**
 * Checks a reducer node definition: its machine is one `defineStateMachine` (or `loadStateMachine`) made, and its
 * name and version make a valid contract.
 *
 * @internal Shared by {@link defineReducerNode} and `NodeReducer`.
 */
export function checkReducerNodeDefinition(definition: AnyReducerNodeDefinition): void {
  if (!isStateMachine(definition.machine)) {
    throw new OnexError(ErrorCode.Contract, 'Reducer node: machine must be made by defineStateMachine() or loadStateMachine()');
  }
  // Builds (and drops) the contract: it checks the name and the version.
  reducerContract(definition);
}

/**
 * Defines a reducer node: checks the definition (its machine, name and version) and answers it as a frozen value.
 * Serve it with `new NodeReducer(definition, { store })`, describe it to callers with
 * `reducerContract(definition)`, or extend `NodeReducer<typeof definition>` for behaviour of your own.
 *
 * @throws OnexError `CONTRACT` when the definition is invalid.
 * @example
 * ```ts
 * import { serveNode } from '@onex/core';
 * import { defineReducerNode, NodeReducer } from '@onex/reducer';
 * import { SqliteReducerStore } from '@onex/reducer/sqlite';
 * const orders = defineReducerNode({ machine: orderMachine, version: '1.0.0' });
 * const node = new NodeReducer(orders, { store: new SqliteReducerStore({ path: './data/orders.db' }) });
 * const served = await serveNode(node, { port: 4000 });
 * ```
 */
export function defineReducerNode<M extends AnyStateMachine>(definition: ReducerNodeDefinition<M>): ReducerNodeDefinition<M> {
  checkReducerNodeDefinition(definition);
  const { machine, version, name, description } = definition;
  return Object.freeze({
    machine,
    version,
    ...(name === undefined ? {} : { name }),
    ...(description === undefined ? {} : { description }),
  });
}
