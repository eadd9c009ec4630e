import { ErrorCode, OnexError, type Schema } from '@onex/core';
import { deepFreeze } from '@onex/core/internal';
import type { z } from 'zod';
import { checkDefinition, type DefinitionIssue } from './check-definition.js';

/**
 * What should happen next because of a transition ("persist", "notify", "charge"): returned to the caller of
 * a reducer, which forwards it to an effect node. A reducer never performs its intents itself.
 *
 * @example
 * ```ts
 * const charge: Intent<'charge', { amount: number }> = { type: 'charge', payload: { amount: 42 } };
 * ```
 */
export interface Intent<TType extends string = string, TPayload = unknown> {
  readonly type: TType;
  readonly payload: TPayload;
}

/**
 * The event types a machine accepts (its triggers), each with the zod schema of its payload.
 *
 * @example
 * ```ts
 * const events = { PRICE: z.object({ total: z.number() }), CANCEL: z.object({}) } satisfies EventSchemas;
 * ```
 */
export type EventSchemas = Readonly<Record<string, Schema>>;

/**
 * The intent types a machine may emit, each with the zod schema of its payload (optional: a machine that declares
 * none emits untyped `Intent`s).
 *
 * @example
 * ```ts
 * const intents = { charge: z.object({ amount: z.number() }) } satisfies IntentSchemas;
 * ```
 */
export type IntentSchemas = Readonly<Record<string, Schema>>;

/**
 * The union of typed intents a machine with these intent schemas emits.
 *
 * @example
 * ```ts
 * type OrderIntent = IntentUnion<{ charge: z.ZodObject<{ amount: z.ZodNumber }> }>; // Intent<'charge', { amount: number }>
 * ```
 */
export type IntentUnion<TIntents extends IntentSchemas> = {
  [K in keyof TIntents & string]: Intent<K, z.output<TIntents[K]>>;
}[keyof TIntents & string];

/**
 * What an `emit` function returns for a machine with these intent schemas: one of its typed intents. (The extra
 * `keyof` member keeps `type: 'notify'` a literal in an `emit` with no parameters, which TypeScript types before it
 * knows the intent schemas.)
 *
 * @example
 * ```ts
 * const notify: EmittedIntent<{ notify: z.ZodObject<{ message: z.ZodString }> }> = { type: 'notify', payload: { message: 'hi' } };
 * ```
 */
export type EmittedIntent<TIntents extends IntentSchemas> = { readonly type: keyof TIntents & string; readonly payload: unknown } & IntentUnion<TIntents>;

/**
 * One transition as written in a definition: the typed form, where `guard`, `update` and `emit` receive the
 * payload type of the `on` trigger.
 *
 * `from` is a state, a list of states, or `'*'`: every non-terminal state. `guard` sees the context before the
 * transition, `update` returns the context after it (pure: return a new object, never mutate), `emit` sees the
 * updated context (and the previous one) and returns the intents of the transition.
 *
 * @example
 * ```ts
 * type Order = typeof orderMachine;
 * const pay: TransitionSpec<StateOf<Order>, 'PAY', ContextOf<Order>, { amount: number }, IntentOf<Order>> = {
 *   from: 'reserved', on: 'PAY', to: 'paid', guard: (ctx, p) => ctx.paid + p.amount >= ctx.total,
 *   update: (ctx, p) => ({ ...ctx, paid: ctx.paid + p.amount }),
 *   emit: (ctx) => [{ type: 'ship', payload: { reservation: ctx.reservation ?? '' } }],
 * };
 * ```
 */
export interface TransitionSpec<TState extends string, TTrigger extends string, TContext, TPayload, TIntent extends Intent> {
  /** Source state(s); `'*'` matches every non-terminal state. */
  readonly from: TState | '*' | readonly TState[];
  /** Target state. */
  readonly to: TState;
  /** The event type that fires the transition. */
  readonly on: TTrigger;
  /** Only fires when this returns true. */
  readonly guard?: (context: TContext, payload: TPayload) => boolean;
  /** Higher fires first when several transitions match. Default 0. */
  readonly priority?: number;
  /** The context after the transition. Pure. Default: the context unchanged. */
  readonly update?: (context: TContext, payload: TPayload) => TContext;
  /**
   * The intents of the transition. Pure. Default: none. Give it at least one parameter (`(ctx) => [...]`):
   * TypeScript types a parameterless function before it knows the machine's intents and widens `type` to string.
   */
  readonly emit?: (context: TContext, payload: TPayload, previous: TContext) => readonly TIntent[];
  /** One sentence for people (shown in errors and docs). */
  readonly description?: string;
}

/**
 * The union, over a machine's triggers, of the {@link TransitionSpec}s it accepts: `on` picks the payload type.
 *
 * @example
 * ```ts
 * type T = TransitionSpecOf<'a' | 'b', { GO: z.ZodObject<{}> }, { n: number }, Intent>;
 * ```
 */
export type TransitionSpecOf<TState extends string, TEvents extends EventSchemas, TContext, TIntent extends Intent> = {
  [K in keyof TEvents & string]: TransitionSpec<TState, K, TContext, z.output<TEvents[K]>, TIntent>;
}[keyof TEvents & string];

/**
 * What {@link defineStateMachine} takes: the states, the context schema (the aggregate's data), the events with
 * their payload schemas, optionally the intents with theirs, and the transitions.
 *
 * @example
 * ```ts
 * const definition: StateMachineDefinition<'on' | 'off', { TOGGLE: z.ZodObject<{}> }, z.ZodObject<{}>, IntentSchemas> = {
 *   name: 'switch', states: ['off', 'on'], initial: 'off', context: z.object({}), events: { TOGGLE: z.object({}) },
 *   transitions: [{ from: 'off', on: 'TOGGLE', to: 'on' }, { from: 'on', on: 'TOGGLE', to: 'off' }],
 * };
 * ```
 */
export interface StateMachineDefinition<TState extends string, TEvents extends EventSchemas, TContext extends Schema, TIntents extends IntentSchemas> {
  /** Machine name, kebab-case, at most 40 characters (`order`, `subscription-billing`). */
  readonly name: string;
  /** One sentence for people. */
  readonly description?: string;
  /** Every state. Names: a letter, then letters, digits, `_`, `.` or `-`. */
  readonly states: readonly TState[];
  /** The state of an aggregate before its first event. */
  readonly initial: NoInfer<TState>;
  /** States no transition leaves (the aggregate's life is over). Default none. */
  readonly terminal?: readonly NoInfer<TState>[];
  /** States that mean something went wrong (reported as such; transitions may leave them, e.g. a retry). */
  readonly error?: readonly NoInfer<TState>[];
  /** Schema of the aggregate's data. Values must be JSON (the SQLite store keeps them as JSON). */
  readonly context: TContext;
  /** The context of a new aggregate. Default: the context schema's parse of `{}`. */
  readonly initialContext?: z.input<TContext>;
  /** Triggers and the schemas of their payloads. */
  readonly events: TEvents;
  /** Intent types and the schemas of their payloads; when given, every emitted intent is checked against them. */
  readonly intents?: TIntents;
  /** The transitions, validated at definition. */
  readonly transitions: readonly TransitionSpecOf<NoInfer<TState>, TEvents, z.output<TContext>, EmittedIntent<TIntents>>[];
}

/**
 * A validated transition of a {@link StateMachine}, with its index in the definition. Functions are declared as
 * methods so that every machine is assignable to {@link AnyStateMachine}.
 *
 * @example
 * ```ts
 * for (const t of machine.transitions) console.log(`#${t.index} ${t.from === '*' ? '*' : t.from.join('|')} --${t.on}--> ${t.to}`);
 * ```
 */
export interface MachineTransition<TState extends string = string, TTrigger extends string = string, TContext = unknown, TIntent extends Intent = Intent> {
  /** Position in the definition's `transitions`. */
  readonly index: number;
  /** Source states, or `'*'` (every non-terminal state). */
  readonly from: readonly TState[] | '*';
  readonly to: TState;
  readonly on: TTrigger;
  readonly priority: number;
  readonly description: string | undefined;
  guard?(context: TContext, payload: unknown): boolean;
  update?(context: TContext, payload: unknown): TContext;
  emit?(context: TContext, payload: unknown, previous: TContext): readonly TIntent[];
}

/**
 * Where an aggregate is: its state and its data.
 *
 * @example
 * ```ts
 * const snapshot: MachineSnapshot<'created', { total: number }> = { state: 'created', context: { total: 0 } };
 * ```
 */
export interface MachineSnapshot<TState extends string = string, TContext = unknown> {
  readonly state: TState;
  readonly context: TContext;
}

/**
 * A validated finite-state machine, made by {@link defineStateMachine} or {@link loadStateMachine}. Immutable.
 *
 * @example
 * ```ts
 * machine.initialSnapshot();            // { state: 'created', context: { ... } }
 * machine.triggersFrom('created');      // ['PRICE', 'CANCEL']
 * machine.isTerminal('fulfilled');      // true
 * ```
 */
export interface StateMachine<
  TState extends string = string,
  TEvents extends EventSchemas = EventSchemas,
  TContext extends Schema = Schema,
  TIntents extends IntentSchemas = IntentSchemas,
> {
  readonly name: string;
  readonly description: string | undefined;
  readonly states: readonly TState[];
  readonly initial: TState;
  readonly terminal: readonly TState[];
  readonly error: readonly TState[];
  readonly context: TContext;
  /** The context of a new aggregate, deep-frozen: every new aggregate shares it. */
  readonly initialContext: z.output<TContext>;
  readonly events: TEvents;
  /** The intent schemas, when the machine declares them. */
  readonly intents: TIntents | undefined;
  // Triggers and intents are `string` and `Intent` here (not `keyof TEvents`, which would make every machine
  // invariant in its events and unassignable to AnyStateMachine); TriggerOf<M> and IntentOf<M> give the precise types.
  readonly transitions: readonly MachineTransition<TState, string, z.output<TContext>>[];
  /** The snapshot of a new aggregate (its context is {@link StateMachine.initialContext}, frozen). */
  initialSnapshot(): MachineSnapshot<TState, z.output<TContext>>;
  /** True for a state of this machine. */
  isState(state: string): boolean;
  /** True for a terminal state. */
  isTerminal(state: string): boolean;
  /** True for an error state. */
  isError(state: string): boolean;
  /** Triggers with at least one transition out of `state` (guards not evaluated). */
  triggersFrom(state: string): readonly string[];
  /**
   * The transitions `trigger` may fire in `state`, in the order they are tried: priority (high first), then a
   * transition naming the state before a `'*'` one, then definition order.
   */
  transitionsFor(state: string, trigger: string): readonly MachineTransition<TState, string, z.output<TContext>>[];
}

/**
 * Any state machine, whatever its states and schemas.
 *
 * @example
 * ```ts
 * function describe(machine: AnyStateMachine): string { return `${machine.name}: ${machine.states.join(', ')}`; }
 * ```
 */
export type AnyStateMachine = StateMachine<string, EventSchemas, Schema, IntentSchemas>;

/** The states of a machine, as a union. @example `type S = StateOf<typeof orderMachine>; // 'created' | 'priced' | …` */
export type StateOf<M extends AnyStateMachine> = M['states'][number];
/** The triggers of a machine, as a union. @example `type T = TriggerOf<typeof orderMachine>; // 'PRICE' | 'PAY' | …` */
export type TriggerOf<M extends AnyStateMachine> = keyof M['events'] & string;
/** The context (aggregate data) type of a machine. @example `type C = ContextOf<typeof orderMachine>;` */
export type ContextOf<M extends AnyStateMachine> = z.output<M['context']>;
/** The intent union a machine emits. @example `type I = IntentOf<typeof orderMachine>; // Intent<'charge', …> | …` */
export type IntentOf<M extends AnyStateMachine> = IntentUnion<NonNullable<M['intents']>>;
/** A machine's snapshot type. @example `const s: SnapshotOf<typeof orderMachine> = orderMachine.initialSnapshot();` */
export type SnapshotOf<M extends AnyStateMachine> = MachineSnapshot<StateOf<M>, ContextOf<M>>;

/**
 * An event for a machine, as a caller writes it (payload before parsing): `type` picks the payload type.
 *
 * @example
 * ```ts
 * const event: EventOf<typeof orderMachine> = { type: 'PAY', payload: { amount: 42 } };
 * ```
 */
export type EventOf<M extends AnyStateMachine> = {
  [K in TriggerOf<M>]: { readonly type: K; readonly payload: z.input<M['events'][K]> };
}[TriggerOf<M>];

/** Same as {@link EventOf}, with the payload as parsed. @example `const e: ParsedEventOf<typeof orderMachine> = { type: 'PAY', payload: { amount: 1 } };` */
export type ParsedEventOf<M extends AnyStateMachine> = {
  [K in TriggerOf<M>]: { readonly type: K; readonly payload: z.output<M['events'][K]> };
}[TriggerOf<M>];

/**
 * The CONTRACT error for a definition's issues (at least one): the first one in the message, all in `details`.
 *
 * @internal
 */
export function definitionError(name: string, issues: readonly DefinitionIssue[], source?: string): OnexError {
  const first = issues[0] ?? { path: '(root)', message: 'invalid' };
  const where = source === undefined ? `'${name}'` : `'${name}' (${source})`;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new OnexError(ErrorCode.Contract, `Invalid state machine ${where}: ${first.path}: ${first.message}${more}`, {
    context: { machine: name, path: first.path, ...(source === undefined ? {} : { source }) },
    details: issues,
  });
}

/**
 * Defines a finite-state machine and validates it: unknown states, unknown triggers, states unreachable from the
 * initial state, non-terminal dead ends, transitions out of terminal states and ambiguous (duplicate) transitions
 * are `CONTRACT` errors naming the transition index or state, e.g.
 * `Invalid state machine 'order': transitions[3].to: unknown state 'shiped'`.
 *
 * State names and triggers are inferred as literal unions; `guard`, `update` and `emit` get the payload type of
 * their trigger.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineStateMachine } from '@onex/reducer';
 * const door = defineStateMachine({
 *   name: 'door',
 *   states: ['closed', 'open', 'locked'],
 *   initial: 'closed',
 *   context: z.object({ opened: z.number().default(0) }),
 *   events: { OPEN: z.object({}), CLOSE: z.object({}), LOCK: z.object({ code: z.string() }) },
 *   transitions: [
 *     { from: 'closed', on: 'OPEN', to: 'open', update: (ctx) => ({ opened: ctx.opened + 1 }) },
 *     { from: 'open', on: 'CLOSE', to: 'closed' },
 *     { from: 'closed', on: 'LOCK', to: 'locked', guard: (_ctx, p) => p.code.length === 4 },
 *     { from: 'locked', on: 'OPEN', to: 'open', priority: -1, guard: () => false },
 *   ],
 * });
 * ```
 */
export function defineStateMachine<
  const TState extends string,
  TEvents extends EventSchemas,
  TContext extends Schema,
  TIntents extends IntentSchemas = Readonly<Record<string, z.ZodUnknown>>,
>(definition: StateMachineDefinition<TState, TEvents, TContext, TIntents>): StateMachine<TState, TEvents, TContext, TIntents> {
  const { issues, initialContext } = checkDefinition(definition);
  if (issues.length > 0) throw definitionError(String(definition.name), issues);
  return buildMachine(definition, initialContext as z.output<TContext>);
}

/**
 * A definition as the validator sees it: nothing about it is trusted (it may come from YAML or plain JS).
 *
 * @internal
 */
export interface LooseDefinition {
  readonly name?: unknown;
  readonly description?: unknown;
  readonly states?: unknown;
  readonly initial?: unknown;
  readonly terminal?: unknown;
  readonly error?: unknown;
  readonly context?: unknown;
  readonly initialContext?: unknown;
  readonly events?: unknown;
  readonly intents?: unknown;
  readonly transitions?: unknown;
}


/**
 * Builds the machine of a definition that passed `checkDefinition`.
 *
 * @internal
 */
export function buildMachine<TState extends string, TEvents extends EventSchemas, TContext extends Schema, TIntents extends IntentSchemas>(
  definition: StateMachineDefinition<TState, TEvents, TContext, TIntents>,
  initialContext: z.output<TContext>,
): StateMachine<TState, TEvents, TContext, TIntents> {
  type T = MachineTransition<TState, string, z.output<TContext>>;
  // Every new aggregate starts from this one object: frozen, so an update that mutates its context in place fails
  // (as it does on a context of the memory store) instead of leaking into every later aggregate. A copy (contexts are
  // JSON), so that objects the caller or the schema's defaults still hold are not frozen under them.
  const initial = deepFreeze(structuredClone(initialContext));
  const states = Object.freeze([...definition.states]);
  const terminal = Object.freeze([...(definition.terminal ?? [])]);
  const error = Object.freeze([...(definition.error ?? [])]);
  const stateSet = new Set<string>(states);
  const terminalSet = new Set<string>(terminal);
  const errorSet = new Set<string>(error);
  const transitions: T[] = definition.transitions.map((spec, index) => {
    const t = spec as TransitionSpec<TState, keyof TEvents & string, z.output<TContext>, unknown, IntentUnion<TIntents>>;
    const from: readonly TState[] | '*' = t.from === '*' ? '*' : Object.freeze(typeof t.from === 'string' ? [t.from] : [...t.from]);
    return Object.freeze({
      index,
      from,
      to: t.to,
      on: t.on,
      priority: t.priority ?? 0,
      description: t.description,
      ...(t.guard === undefined ? {} : { guard: t.guard }),
      ...(t.update === undefined ? {} : { update: t.update }),
      ...(t.emit === undefined ? {} : { emit: t.emit }),
    });
  });

  // state → trigger → candidate transitions in the order they are tried.
  const table = new Map<string, Map<string, readonly T[]>>();
  for (const state of states) {
    if (terminalSet.has(state)) continue;
    const byTrigger = new Map<string, T[]>();
    for (const t of transitions) {
      if (t.from !== '*' && !t.from.includes(state)) continue;
      const list = byTrigger.get(t.on) ?? [];
      list.push(t);
      byTrigger.set(t.on, list);
    }
    for (const list of byTrigger.values()) {
      list.sort((a, b) => b.priority - a.priority || specificity(b) - specificity(a) || a.index - b.index);
      Object.freeze(list);
    }
    table.set(state, byTrigger);
  }
  const none: readonly T[] = Object.freeze([]);

  return Object.freeze({
    name: definition.name,
    description: definition.description,
    states,
    initial: definition.initial,
    terminal,
    error,
    context: definition.context,
    initialContext: initial,
    events: definition.events,
    intents: definition.intents,
    transitions: Object.freeze(transitions),
    initialSnapshot: () => ({ state: definition.initial, context: initial }),
    isState: (state: string) => stateSet.has(state),
    isTerminal: (state: string) => terminalSet.has(state),
    isError: (state: string) => errorSet.has(state),
    triggersFrom: (state: string) => [...(table.get(state)?.keys() ?? [])],
    transitionsFor: (state: string, trigger: string) => table.get(state)?.get(trigger) ?? none,
  });
}

function specificity(t: { readonly from: readonly string[] | '*' }): number {
  return t.from === '*' ? 0 : 1;
}
