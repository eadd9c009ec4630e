import { defineContract, EmptyConfig, ErrorCode, NodeKind, OnexError, type NodeContract } from '@onex/core';
import { z } from 'zod';
import type { AnyStateMachine, ContextOf, Intent, IntentOf, StateOf, TriggerOf } from '../machine/state-machine.js';
import type { ReducerNodeDefinition } from './define-reducer-node.js';

/**
 * An intent as a reducer node returns it: with a `key` that is the same every time the event is applied or
 * replayed (`<machine>:<aggregateId>:<eventId>:<index>`), to pass on as the idempotency key of the effect call.
 *
 * @example
 * ```ts
 * declare const payments: { execute(operation: 'charge', input: { amount: number }, options: { idempotencyKey: string }): Promise<unknown> }; // an effect client
 * for (const intent of applied.intents) {
 *   if (intent.type === 'charge') await payments.execute('charge', intent.payload, { idempotencyKey: intent.key });
 * }
 * ```
 */
export type KeyedIntent<TIntent extends Intent = Intent> = TIntent & { readonly key: string };

/**
 * An event for a reducer node, as a caller sends it: a unique `id` (replaying an id is a no-op), the trigger
 * `type`, and its payload.
 *
 * @example
 * ```ts
 * const event: ReducerEvent<typeof orderMachine> = { id: 'evt-17', type: 'PAY', payload: { amount: 30 } };
 * ```
 */
export type ReducerEvent<M extends AnyStateMachine> = {
  [K in TriggerOf<M>]: { readonly id: string; readonly type: K; readonly payload: z.input<M['events'][K]> };
}[TriggerOf<M>];

/** {@link ReducerEvent} with the payload as parsed. @example `const e: ParsedReducerEvent<typeof orderMachine> = { id: 'e1', type: 'PAY', payload: { amount: 1 } };` */
export type ParsedReducerEvent<M extends AnyStateMachine> = {
  [K in TriggerOf<M>]: { readonly id: string; readonly type: K; readonly payload: z.output<M['events'][K]> };
}[TriggerOf<M>];

/**
 * The input of a reducer node's contract: which aggregate, which event.
 *
 * @example
 * ```ts
 * const input: ReducerInput<typeof orderMachine> = { aggregateId: 'order-42', event: { id: 'e-1', type: 'PRICE', payload: { total: 30 } } };
 * ```
 */
export interface ReducerInput<M extends AnyStateMachine> {
  readonly aggregateId: string;
  readonly event: ReducerEvent<M>;
}

/** {@link ReducerInput} as parsed. @example `function f(input: ParsedReducerInput<typeof orderMachine>) { return input.event.payload; }` */
export interface ParsedReducerInput<M extends AnyStateMachine> {
  readonly aggregateId: string;
  readonly event: ParsedReducerEvent<M>;
}

/**
 * What a reducer node answers for an event: the aggregate's state, context and version after it, the intents it
 * produced, and whether it was a replay. For a replay (`duplicate: true`) nothing changed: the answer is the one
 * the event got when it was first applied — intents included, so a caller that crashed before forwarding them can
 * forward them again (their keys make that safe).
 *
 * @example
 * ```ts
 * const r = await node.apply('order-42', { id: 'e-2', type: 'PAY', payload: { amount: 30 } });
 * if (r.ok && !r.value.duplicate) forward(r.value.intents);
 * ```
 */
export interface AppliedEvent<M extends AnyStateMachine> {
  readonly aggregateId: string;
  readonly eventId: string;
  readonly state: StateOf<M>;
  readonly previousState: StateOf<M>;
  readonly context: ContextOf<M>;
  /** The aggregate's version after this event (the number of transitions applied to it). */
  readonly version: number;
  readonly intents: readonly KeyedIntent<IntentOf<M>>[];
  /** True when the event id had already been applied: nothing changed. */
  readonly duplicate: boolean;
}

/** The input schema type of a reducer node's contract. @example `type S = ReducerInputSchema<typeof orderMachine>;` */
export type ReducerInputSchema<M extends AnyStateMachine> = z.ZodType<ParsedReducerInput<M>, ReducerInput<M>>;
/** The output schema type of a reducer node's contract. @example `type S = ReducerOutputSchema<typeof orderMachine>;` */
export type ReducerOutputSchema<M extends AnyStateMachine> = z.ZodType<AppliedEvent<M>, AppliedEvent<M>>;
/** The contract type of a reducer node. @example `let contract: ReducerContract<typeof orderMachine>;` */
export type ReducerContract<M extends AnyStateMachine> = NodeContract<ReducerInputSchema<M>, ReducerOutputSchema<M>, EmptyConfig>;

/**
 * Options of {@link reducerContract}.
 *
 * @example
 * ```ts
 * const options: ReducerContractOptions = { name: 'order-reducer', version: '1.0.0' };
 * ```
 */
export interface ReducerContractOptions {
  /** Node name, kebab-case. Default: the machine's name. */
  readonly name?: string | undefined;
  /** Semantic version of the contract. */
  readonly version: string;
  /** One sentence for people. Default: the machine's description. */
  readonly description?: string | undefined;
}

// Ids: visible ASCII, so that intent keys and idempotency keys built from them stay valid header values; a leading
// `$` is reserved for the records the node writes itself (restores).
const ID = /^[\x21-\x23\x25-\x7E][\x21-\x7E]*$/;
/**
 * Longest aggregate or event id, in characters.
 *
 * @example
 * ```ts
 * const ok = orderId.length <= MAX_ID_LENGTH;
 * ```
 */
export const MAX_ID_LENGTH = 100;
const Id = z.string().min(1).max(MAX_ID_LENGTH).regex(ID, "visible ASCII characters, not starting with '$'");

/**
 * Throws the VALIDATION error of an aggregate or event id the contract would refuse.
 *
 * @internal
 */
export function checkId(field: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH || !ID.test(value)) {
    throw new OnexError(ErrorCode.Validation, `Invalid ${field}: 1-${MAX_ID_LENGTH} visible ASCII characters, not starting with '$'`, {
      details: [{ path: field, message: 'invalid id' }],
    });
  }
}

function isDefinition<M extends AnyStateMachine>(source: M | ReducerNodeDefinition<M>): source is ReducerNodeDefinition<M> {
  return 'machine' in source && typeof source.machine === 'object';
}

/** One object schema, or the union of several discriminated by `type` (never, for none). */
function union(options: z.ZodObject[]): z.ZodType {
  const [first, ...rest] = options;
  if (first === undefined) return z.never();
  return rest.length === 0 ? first : z.discriminatedUnion('type', [first, ...rest]);
}

/**
 * The contract of a reducer node: input `{ aggregateId, event: { id, type, payload } }` with each trigger's payload
 * schema, output {@link AppliedEvent} with the machine's state names, context and intent schemas. A client needs
 * only this (not the node) to call a reducer over HTTP. Takes the node's definition (`defineReducerNode(...)`, the
 * contract the node itself serves), or a machine and the contract's identity.
 *
 * @throws OnexError `CONTRACT` when the name or version is invalid.
 * @example
 * ```ts
 * import { createNodeClient } from '@onex/core';
 * import { defineReducerNode, reducerContract } from '@onex/reducer';
 * const orders = defineReducerNode({ machine: orderMachine, version: '1.0.0' });
 * const client = createNodeClient('http://127.0.0.1:4000', reducerContract(orders));
 * await client.call({ aggregateId: 'order-42', event: { id: 'e-1', type: 'PRICE', payload: { total: 30 } } });
 * // The same contract from the machine alone:
 * const same = reducerContract(orderMachine, { version: '1.0.0' });
 * ```
 */
export function reducerContract<M extends AnyStateMachine>(definition: ReducerNodeDefinition<M>): ReducerContract<M>;
export function reducerContract<M extends AnyStateMachine>(machine: M, options: ReducerContractOptions): ReducerContract<M>;
export function reducerContract<M extends AnyStateMachine>(source: M | ReducerNodeDefinition<M>, given?: ReducerContractOptions): ReducerContract<M> {
  const definition: ReducerNodeDefinition<M> = isDefinition(source) ? source : { machine: source, ...(given ?? { version: '' }) };
  const { machine } = definition;
  const events = Object.entries(machine.events).map(([type, payload]) => z.object({ id: Id, type: z.literal(type), payload }).strict());
  const State = z.enum(machine.states as unknown as [string, ...string[]]);
  const declared = machine.intents;
  const intents =
    declared === undefined
      ? z.object({ type: z.string(), payload: z.unknown(), key: z.string() })
      : union(Object.entries(declared).map(([type, payload]) => z.object({ type: z.literal(type), payload, key: z.string() })));
  return defineContract({
    name: definition.name ?? machine.name,
    kind: NodeKind.Reducer,
    version: definition.version,
    description: definition.description ?? machine.description ?? `Reducer of the '${machine.name}' state machine`,
    input: z.object({ aggregateId: Id, event: union(events) }).strict() as unknown as ReducerInputSchema<M>,
    output: z.object({
      aggregateId: z.string(),
      eventId: z.string(),
      state: State,
      previousState: State,
      context: machine.context,
      version: z.number().int().nonnegative(),
      intents: z.array(intents),
      duplicate: z.boolean(),
    }) as unknown as ReducerOutputSchema<M>,
    config: EmptyConfig,
  });
}
