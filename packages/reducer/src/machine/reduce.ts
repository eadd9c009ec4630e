import { ErrorCode, isOnexError, toOnexError, type Result } from '@onex/core';
import { validationDetails } from '@onex/core/internal';
import { reduceError, ReduceErrorReason } from './reduce-error.js';
import type { AnyStateMachine, ContextOf, EventOf, Intent, IntentOf, MachineTransition, ParsedEventOf, SnapshotOf, StateOf, TriggerOf } from './state-machine.js';

/**
 * The outcome of one legal event: the new state and context, the intents of the transition, and which
 * transition fired.
 *
 * @example
 * ```ts
 * const r = reduce(orderMachine, snapshot, { type: 'PAY', payload: { amount: 42 } });
 * if (r.ok) forward(r.value.intents);
 * ```
 */
export interface Reduction<TState extends string = string, TContext = unknown, TIntent extends Intent = Intent> {
  /** The state after the event. */
  readonly state: TState;
  /** The context after the event. */
  readonly context: TContext;
  /** What should happen next, in the order the transition emitted them. */
  readonly intents: readonly TIntent[];
  /** The state before the event. */
  readonly from: TState;
  /** The trigger that fired. */
  readonly on: string;
  /** Index, in the definition, of the transition that fired. */
  readonly transition: number;
  /** The payload as parsed by the trigger's schema. */
  readonly payload: unknown;
}

/** The {@link Reduction} type of a machine. @example `let last: ReductionOf<typeof orderMachine> | undefined;` */
export type ReductionOf<M extends AnyStateMachine> = Reduction<StateOf<M>, ContextOf<M>, IntentOf<M>>;

/**
 * Applies one event to a snapshot — pure: the snapshot is not touched, nothing is stored, nothing happens but
 * the returned value. Picks the first transition out of the state on the event's trigger whose guard passes
 * (priority, then a named state before `'*'`, then definition order), runs its `update` and `emit`, and checks
 * the new context (and declared intents) against the machine's schemas.
 *
 * Never throws. An event the state does not allow is a `CONFLICT` error (`context.reason` `ILLEGAL_TRANSITION` or
 * `GUARD_REJECTED`, with `state` and `trigger`); an unknown trigger or a payload its schema rejects is a
 * `VALIDATION` error; a failed `update`/`emit` check is `CONTRACT`.
 *
 * @example
 * ```ts
 * import { reduce } from '@onex/reducer';
 * const start = orderMachine.initialSnapshot();
 * const r = reduce(orderMachine, start, { type: 'PRICE', payload: { total: 30 } });
 * if (r.ok) console.log(r.value.state, r.value.intents); // 'priced', []
 * else console.log(r.error.code, r.error.context);        // e.g. CONFLICT { reason: 'ILLEGAL_TRANSITION', … }
 * ```
 */
export function reduce<M extends AnyStateMachine>(machine: M, snapshot: SnapshotOf<M>, event: EventOf<M>): Result<ReductionOf<M>> {
  const parsed = parseEvent(machine, event);
  return parsed.ok ? reduceParsed(machine, snapshot, parsed.value) : parsed;
}

/**
 * Checks an event against its machine: a known trigger, a payload its schema accepts (returned parsed).
 *
 * @internal
 */
export function parseEvent<M extends AnyStateMachine>(machine: M, event: EventOf<M>): Result<ParsedEventOf<M>> {
  const trigger: string = event.type;
  const schema = Object.hasOwn(machine.events, trigger) ? machine.events[trigger] : undefined;
  if (schema === undefined) {
    return fail(
      reduceError(ErrorCode.Validation, ReduceErrorReason.UnknownEvent, `Unknown event type '${trigger}' for machine '${machine.name}'`, {
        machine: machine.name,
        trigger,
      }),
    );
  }
  const parsed = schema.safeParse(event.payload);
  if (!parsed.success) {
    const details = validationDetails(parsed.error.issues.map((issue) => ({ ...issue, path: ['payload', ...issue.path] })));
    const first = details[0];
    return fail(
      reduceError(
        ErrorCode.Validation,
        ReduceErrorReason.InvalidPayload,
        `Invalid payload for event '${trigger}': ${first === undefined ? 'invalid' : `${first.path}: ${first.message}`}`,
        { machine: machine.name, trigger },
        { details },
      ),
    );
  }
  return { ok: true, value: { type: event.type, payload: parsed.data } as ParsedEventOf<M> };
}

/**
 * {@link reduce} for an event whose payload was already parsed by its trigger's schema (a reducer node's input
 * schema does it): the payload is not parsed twice.
 *
 * @internal
 */
export function reduceParsed<M extends AnyStateMachine>(machine: M, snapshot: SnapshotOf<M>, event: ParsedEventOf<M>): Result<ReductionOf<M>> {
  type TState = StateOf<M>;
  type TContext = ContextOf<M>;
  const { state, context } = snapshot;
  const trigger: TriggerOf<M> = event.type;
  const facts = { machine: machine.name, state, trigger };
  if (!machine.isState(state)) {
    return fail(reduceError(ErrorCode.Validation, ReduceErrorReason.UnknownState, `State '${state}' is not a state of machine '${machine.name}'`, facts));
  }
  const candidates = machine.transitionsFor(state, trigger) as readonly MachineTransition<TState, TriggerOf<M>, TContext, IntentOf<M>>[];
  if (candidates.length === 0) {
    const why = machine.isTerminal(state) ? `'${state}' is terminal` : `no transition leaves '${state}' on ${trigger}`;
    return fail(reduceError(ErrorCode.Conflict, ReduceErrorReason.IllegalTransition, `Event '${trigger}' is not allowed in state '${state}': ${why}`, facts));
  }
  try {
    let chosen: MachineTransition<TState, TriggerOf<M>, TContext, IntentOf<M>> | undefined;
    for (const candidate of candidates) {
      if (candidate.guard === undefined || candidate.guard(context, event.payload)) {
        chosen = candidate;
        break;
      }
    }
    if (chosen === undefined) {
      return fail(
        reduceError(ErrorCode.Conflict, ReduceErrorReason.GuardRejected, `Event '${trigger}' is not allowed in state '${state}': every guard rejected it`, {
          ...facts,
          transitions: candidates.map((c) => c.index),
        }),
      );
    }
    let next: TContext = context;
    if (chosen.update !== undefined) {
      const updated = machine.context.safeParse(chosen.update(context, event.payload));
      if (!updated.success) {
        const details = validationDetails(updated.error.issues);
        return fail(
          reduceError(
            ErrorCode.Contract,
            ReduceErrorReason.InvalidContext,
            `transitions[${chosen.index}].update of machine '${machine.name}' returned a context its schema rejects: ${details[0]?.path ?? ''}: ${details[0]?.message ?? 'invalid'}`,
            { ...facts, transition: chosen.index },
            { details },
          ),
        );
      }
      next = updated.data as TContext;
    }
    const intents = chosen.emit === undefined ? [] : checkIntents(machine, chosen.emit(next, event.payload, context), chosen.index, facts);
    if (!Array.isArray(intents)) return fail(intents);
    return {
      ok: true,
      value: { state: chosen.to, context: next, intents, from: state, on: trigger, transition: chosen.index, payload: event.payload },
    };
  } catch (error) {
    // A guard, update or emit that throws: an OnexError it threw on purpose passes through, anything else is a bug.
    return fail(isOnexError(error) ? error : toOnexError(error));
  }
}

function checkIntents<M extends AnyStateMachine>(
  machine: M,
  emitted: readonly IntentOf<M>[],
  index: number,
  facts: Readonly<Record<string, unknown>>,
): IntentOf<M>[] | ReturnType<typeof reduceError> {
  const schemas = machine.intents;
  if (schemas === undefined) return [...emitted];
  const out: IntentOf<M>[] = [];
  for (const [i, intent] of emitted.entries()) {
    const schema = schemas[intent.type];
    const parsed = schema?.safeParse(intent.payload);
    if (parsed === undefined || !parsed.success) {
      const why = parsed === undefined ? `unknown intent type '${intent.type}'` : `${validationDetails(parsed.error.issues)[0]?.message ?? 'invalid payload'}`;
      return reduceError(ErrorCode.Contract, ReduceErrorReason.InvalidIntent, `transitions[${index}].emit of machine '${machine.name}' returned an invalid intent #${i}: ${why}`, {
        ...facts,
        transition: index,
        intent: intent.type,
      });
    }
    out.push({ type: intent.type, payload: parsed.data } as IntentOf<M>);
  }
  return out;
}

function fail<T>(error: ReturnType<typeof reduceError>): Result<T> {
  return { ok: false, error };
}
