/**
 * `@onex/reducer`: reducer nodes — state from events, through a finite-state machine contract, persisted per
 * aggregate with deduplication, history and restore.
 *
 * @packageDocumentation
 */

// State machines
export {
  defineStateMachine,
  type AnyStateMachine,
  type ContextOf,
  type EmittedIntent,
  type EventOf,
  type EventSchemas,
  type Intent,
  type IntentOf,
  type IntentSchemas,
  type IntentUnion,
  type MachineSnapshot,
  type MachineTransition,
  type ParsedEventOf,
  type SnapshotOf,
  type StateMachine,
  type StateMachineDefinition,
  type StateOf,
  type TransitionSpec,
  type TransitionSpecOf,
  type TriggerOf,
} from './machine/state-machine.js';
export type { DefinitionIssue } from './machine/check-definition.js';
export { loadStateMachine, loadStateMachineFile, type LoadStateMachineOptions, type StateMachineRegistry } from './machine/load-state-machine.js';
export { reduce, type Reduction, type ReductionOf } from './machine/reduce.js';
export { ReduceErrorReason, reduceErrorReason } from './machine/reduce-error.js';

// Stores
export {
  TransitionKind,
  type AggregateSession,
  type AggregateSnapshot,
  type AppendResult,
  type HistoryOptions,
  type ReducerStore,
  type TransitionChange,
  type TransitionRecord,
} from './store/reducer-store.js';
export { MemoryReducerStore, type MemoryReducerStoreOptions } from './store/memory-store.js';
// SqliteReducerStore: `@onex/reducer/sqlite`, so this entry never loads better-sqlite3.

// Nodes
export {
  MAX_ID_LENGTH,
  reducerContract,
  type AppliedEvent,
  type KeyedIntent,
  type ParsedReducerEvent,
  type ParsedReducerInput,
  type ReducerContract,
  type ReducerContractOptions,
  type ReducerEvent,
  type ReducerInput,
  type ReducerInputSchema,
  type ReducerOutputSchema,
} from './node/reducer-contract.js';
export {
  NodeReducer,
  type ApplyOptions,
  type NodeReducerOptions,
  type ReducerStats,
  type ReducerHistoryOptions,
  type RestoreTarget,
  type TransitionRecordOf,
} from './node/node-reducer.js';
export { defineReducerNode, type AnyReducerNodeDefinition, type MachineOf, type ReducerNodeDefinition } from './node/define-reducer-node.js';
