import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
  abortReasonToOnexError,
  ErrorCode,
  HealthStatus,
  LifecycleStatus,
  NodeService,
  OnexError,
  toOnexError,
  type CallContext,
  type ComponentHealth,
  type EmptyConfig,
  type NodeServiceOptions,
  type Result,
} from '@onex/core';
import { validationDetails } from '@onex/core/internal';
import { reduceError, ReduceErrorReason, reduceErrorReason, withErrorContext } from '../machine/reduce-error.js';
import { parseEvent, reduceParsed } from '../machine/reduce.js';
import type { AnyStateMachine, ContextOf, IntentOf, ParsedEventOf, StateOf } from '../machine/state-machine.js';
import { MemoryReducerStore } from '../store/memory-store.js';
import {
  TransitionKind,
  type AggregateSession,
  type AggregateSnapshot,
  type ReducerStore,
  type TransitionChange,
  type TransitionRecord,
} from '../store/reducer-store.js';
import { checkReducerNodeDefinition, type AnyReducerNodeDefinition, type MachineOf } from './define-reducer-node.js';
import { KeyedQueue } from './keyed-queue.js';
import {
  checkId,
  reducerContract,
  type AppliedEvent,
  type KeyedIntent,
  type ParsedReducerInput,
  type ReducerEvent,
  type ReducerInputSchema,
  type ReducerOutputSchema,
} from './reducer-contract.js';

/**
 * Runtime options of a {@link NodeReducer}: where aggregates live, how races are retried, a callback after each
 * transition, and every `NodeService` option (logger, sanitizer, clock, deadlines, concurrency, interceptors)
 * except a config. What the node *is* — its machine, name and version — is its definition (`defineReducerNode`).
 * The node's `interceptors` run around every call that comes through `handle()` (HTTP, in-process clients), typed
 * by the machine: they see the parsed `{ aggregateId, event }` and answer an {@link AppliedEvent}; `apply()` does not
 * go through them (it skips the call envelope altogether).
 *
 * @example
 * ```ts
 * const options: NodeReducerOptions<typeof orderMachine> = {
 *   store: new SqliteReducerStore({ path: './orders.db' }),
 *   onTransition: (applied) => console.log(`${applied.aggregateId} is ${applied.state}`),
 * };
 * ```
 */
export interface NodeReducerOptions<M extends AnyStateMachine = AnyStateMachine>
  extends Omit<NodeServiceOptions<EmptyConfig, ReducerInputSchema<M>, ReducerOutputSchema<M>>, 'config'> {
  /** Where aggregates live. Default: a new {@link MemoryReducerStore}. */
  readonly store?: ReducerStore;
  /** Close the store in `shutdown()`. Default true (pass false when the store is shared and closed elsewhere). */
  readonly closeStore?: boolean;
  /**
   * How often an event is re-reduced when another writer (another process on the same database) changed the
   * aggregate between load and append. Default 3.
   */
  readonly maxConflictRetries?: number;
  /**
   * Runs after each recorded transition, as {@link NodeReducer.onTransition} does (it is the hook's default body:
   * a subclass overriding the hook replaces it).
   */
  readonly onTransition?: (applied: AppliedEvent<M>, record: TransitionRecordOf<M>) => void | Promise<void>;
}

/**
 * Options of {@link NodeReducer.apply}.
 *
 * @example
 * ```ts
 * await node.apply('order-42', event, { signal: AbortSignal.timeout(1_000) });
 * ```
 */
export interface ApplyOptions {
  /** When aborted before the event's turn comes, the event is not applied (`CANCELLED`/`TIMEOUT`). */
  readonly signal?: AbortSignal;
}

/**
 * Options of {@link NodeReducer.history}.
 *
 * @example
 * ```ts
 * const page = await node.history('order-42', { afterVersion: 10, limit: 10 });
 * ```
 */
export interface ReducerHistoryOptions {
  /** Only transitions after this version. Default 0 (from the first). */
  readonly afterVersion?: number;
  /** At most this many (1–1000), oldest first. Default 100. */
  readonly limit?: number;
}

/**
 * Where {@link NodeReducer.restore} takes an aggregate: back to the snapshot at a version of its history (0: the
 * machine's initial snapshot), or to an explicit state and context (checked against the machine).
 *
 * @example
 * ```ts
 * const back: RestoreTarget<typeof orderMachine> = { version: 2 };
 * const fixed: RestoreTarget<typeof orderMachine> = { state: 'priced', context: { total: 30 } };
 * ```
 */
export type RestoreTarget<M extends AnyStateMachine> =
  | { readonly version: number }
  | { readonly state: StateOf<M>; readonly context: z.input<M['context']> };

/**
 * Figures a reducer adds to `metrics().extra`.
 *
 * @example
 * ```ts
 * const figures = node.stats(); // also in node.metrics().extra
 * console.log(figures.applied, figures.duplicates, figures.rejected);
 * ```
 */
export interface ReducerStats {
  /** Events that changed an aggregate. */
  readonly applied: number;
  /** Replayed event ids (no-ops). */
  readonly duplicates: number;
  /** Events the machine refused in the aggregate's state (no legal transition, every guard said no). */
  readonly rejected: number;
  /** Appends that lost a race to another writer and were re-reduced. */
  readonly conflicts: number;
  /** Restores done. */
  readonly restores: number;
  /** Aggregates with events queued or being applied now. */
  readonly busyAggregates: number;
  /** Transitions applied into each state. */
  readonly enteredStates: Readonly<Record<string, number>>;
}

/**
 * A transition of an aggregate of machine `M`, as the store records it and {@link NodeReducer.history} and
 * {@link NodeReducer.onTransition} see it: typed by the machine's states, context and intents.
 *
 * @example
 * ```ts
 * const entries: TransitionRecordOf<typeof orderMachine>[] = [...(await node.history('order-42'))];
 * ```
 */
export type TransitionRecordOf<M extends AnyStateMachine> = TransitionRecord<StateOf<M>, ContextOf<M>, IntentOf<M>>;

type Snapshot<M extends AnyStateMachine> = AggregateSnapshot<StateOf<M>, ContextOf<M>>;

const RESTORE_EVENT = '$restore';

/** What one attempt at an event left in the store: the transition it appended, or the one its event id had made. */
interface AppendOutcome {
  readonly status: 'appended' | 'duplicate';
  readonly record: TransitionRecord;
}

/**
 * The reducer node: state from events, through a finite-state machine. Each event for an aggregate goes through
 * {@link reduce} (pure) from the aggregate's stored snapshot; a legal one is recorded atomically in the
 * {@link ReducerStore} (snapshot + history) and its intents are returned to the caller; an illegal one is a typed
 * error and changes nothing. Event ids are deduplicated per aggregate (a replay of the same event is a no-op that
 * returns the first answer; the id reused for a different event is a `CONFLICT`, reason `EVENT_ID_REUSED`). Events
 * for one aggregate are applied one at a time, in arrival order; different aggregates run concurrently. Across
 * replicas on one database, a store with {@link ReducerStore.withAggregate} (`PostgresReducerStore` from
 * `@onex/reducer/postgres`) holds the aggregate while an event is reduced and appended, so the replicas too apply an
 * aggregate's events one at a time, in the order they reach the database, and none is lost; on other stores an
 * append that lost the race to another process is re-reduced (`maxConflictRetries`).
 *
 * Construct it from a definition and runtime options: `new NodeReducer(definition, { store })`, the definition made
 * by `defineReducerNode`. Extend it in a downstream repo, typed by the definition
 * (`class X extends NodeReducer<typeof definition> { constructor(o) { super(definition, o); } }`); the protected
 * hook is {@link NodeReducer.onTransition}, plus `NodeService`'s `componentHealth` and `extraMetrics` (call
 * `super`). Serve it with `serveNode`; call it in process with {@link NodeReducer.apply}.
 *
 * In Prometheus (`GET /metrics`) calls are labelled by event type (`onex_node_calls_total{operation="PRICE"}`), beside
 * `onex_reducer_events_total{result}` (`applied`, `duplicate`, `rejected`), `onex_reducer_transitions_total{state}`,
 * `onex_reducer_conflict_retries_total`, `onex_reducer_restores_total` and `onex_reducer_busy_aggregates`; these
 * count `apply()` too, which does not go through `handle()`.
 *
 * @example
 * ```ts
 * import { createSilentLogger } from '@onex/core';
 * import { defineReducerNode, NodeReducer, type AppliedEvent, type NodeReducerOptions } from '@onex/reducer';
 * import { SqliteReducerStore } from '@onex/reducer/sqlite';
 *
 * const orders = defineReducerNode({ machine: orderMachine, version: '1.0.0' });
 *
 * // The common case: the definition says it all.
 * const node = new NodeReducer(orders, { store: new SqliteReducerStore({ path: './orders.db' }), logger: createSilentLogger() });
 * await node.initialize();
 * const r = await node.apply('order-42', { id: 'e-1', type: 'PRICE', payload: { total: 30 } });
 *
 * // Behaviour of your own: extend it, typed by the definition.
 * class OrderReducer extends NodeReducer<typeof orders> {
 *   readonly published: string[] = [];
 *   constructor(options: NodeReducerOptions<typeof orderMachine> = {}) {
 *     super(orders, options);
 *   }
 *   protected override onTransition(applied: AppliedEvent<typeof orderMachine>): void {
 *     this.published.push(`${applied.aggregateId} is ${applied.state}`);
 *   }
 * }
 * ```
 */
export class NodeReducer<const TDefinition extends AnyReducerNodeDefinition = AnyReducerNodeDefinition> extends NodeService<
  ReducerInputSchema<MachineOf<TDefinition>>,
  ReducerOutputSchema<MachineOf<TDefinition>>,
  EmptyConfig
> {
  /** The node's state machine. */
  readonly machine: MachineOf<TDefinition>;
  /** The node's store. */
  readonly store: ReducerStore;

  readonly #queue = new KeyedQueue();
  readonly #closeStore: boolean;
  readonly #maxConflictRetries: number;
  readonly #onTransition: NodeReducerOptions<MachineOf<TDefinition>>['onTransition'];
  readonly #entered = new Map<string, number>();
  #applied = 0;
  #duplicates = 0;
  #rejected = 0;
  #conflicts = 0;
  #restores = 0;

  constructor(definition: TDefinition, options: NodeReducerOptions<MachineOf<TDefinition>> = {}) {
    checkReducerNodeDefinition(definition);
    const { store, closeStore, maxConflictRetries, onTransition, ...service } = options;
    super(reducerContract<MachineOf<TDefinition>>(definition), service);
    this.machine = definition.machine;
    this.store = store ?? new MemoryReducerStore();
    this.#closeStore = closeStore ?? true;
    this.#maxConflictRetries = maxConflictRetries ?? 3;
    if (!Number.isInteger(this.#maxConflictRetries) || this.#maxConflictRetries < 0) {
      throw new OnexError(ErrorCode.Validation, `maxConflictRetries must be a non-negative integer (got ${String(maxConflictRetries)})`);
    }
    this.#onTransition = onTransition;
    this.labelCallsByOperation(Object.keys(this.machine.events), (input) => input.event.type);
    this.#registerMetrics();
  }

  /**
   * Applies one event to an aggregate, typed: the in-process equivalent of a call, without the call's input and
   * output validation passes (the payload is checked by its trigger's schema). Never throws.
   */
  async apply(aggregateId: string, event: ReducerEvent<MachineOf<TDefinition>>, options: ApplyOptions = {}): Promise<Result<AppliedEvent<MachineOf<TDefinition>>>> {
    try {
      this.#assertReady();
      checkId('aggregateId', aggregateId);
      checkId('event.id', event.id);
      const parsed = parseEvent(this.machine, { type: event.type, payload: event.payload });
      if (!parsed.ok) {
        return { ok: false, error: withErrorContext(parsed.error, { aggregateId, eventId: event.id }) };
      }
      return { ok: true, value: await this.#apply(aggregateId, event.id, parsed.value, options.signal) };
    } catch (error) {
      return { ok: false, error: toOnexError(error) };
    }
  }

  /**
   * The aggregate's snapshot — the latest, or the one right after `version` (0: the machine's initial snapshot) —
   * or undefined when the aggregate (or that version) is unknown.
   */
  async get(aggregateId: string, options: { readonly version?: number } = {}): Promise<Snapshot<MachineOf<TDefinition>> | undefined> {
    this.#assertReady();
    if (options.version === undefined) return (await this.store.load(aggregateId)) as Snapshot<MachineOf<TDefinition>> | undefined;
    if (!Number.isInteger(options.version) || options.version < 0) throw new OnexError(ErrorCode.Validation, 'version must be a non-negative integer');
    if (options.version === 0) return this.#initial();
    return (await this.store.loadAt(aggregateId, options.version)) as Snapshot<MachineOf<TDefinition>> | undefined;
  }

  /** The aggregate's transitions, oldest first (a page of at most `limit`). */
  async history(aggregateId: string, options: ReducerHistoryOptions = {}): Promise<readonly TransitionRecordOf<MachineOf<TDefinition>>[]> {
    this.#assertReady();
    const limit = options.limit ?? 100;
    const afterVersion = options.afterVersion ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new OnexError(ErrorCode.Validation, 'limit must be an integer from 1 to 1000');
    if (!Number.isInteger(afterVersion) || afterVersion < 0) throw new OnexError(ErrorCode.Validation, 'afterVersion must be a non-negative integer');
    return (await this.store.history(aggregateId, { afterVersion, limit })) as readonly TransitionRecordOf<MachineOf<TDefinition>>[];
  }

  /**
   * Takes an aggregate back to the snapshot at a version of its history, or to an explicit state and context. The
   * restore is itself recorded as a transition (kind `restore`, a new version): history is never rewritten, and
   * event ids applied before stay deduplicated. Queued behind the aggregate's pending events. Throws an
   * {@link OnexError}: `NOT_FOUND` for a version the store does not have, `VALIDATION` for a bad state or context.
   */
  async restore(aggregateId: string, target: RestoreTarget<MachineOf<TDefinition>>, options: { readonly reason?: string } = {}): Promise<Snapshot<MachineOf<TDefinition>>> {
    this.#assertReady();
    checkId('aggregateId', aggregateId);
    // The target is read inside the queued task: an event applied after this call must not run before the restore.
    const restored = await this.#queue.run(aggregateId, () =>
      this.#session(aggregateId, async (session) => {
        const to = await this.#restoreTarget(session, aggregateId, target);
        const current = ((await session.load()) as Snapshot<MachineOf<TDefinition>> | undefined) ?? this.#initial();
        const change: TransitionChange = {
          eventId: `${RESTORE_EVENT}:${randomUUID()}`,
          kind: TransitionKind.Restore,
          event: {
            type: RESTORE_EVENT,
            payload: { ...('version' in target ? { version: target.version } : {}), ...(options.reason === undefined ? {} : { reason: options.reason }) },
          },
          from: current.state,
          to: to.state,
          context: to.context,
          intents: [],
          at: this.clock.now(),
        };
        const result = await session.append(current.version, change);
        if (result.status !== 'appended') throw new OnexError(ErrorCode.Internal, 'restore record collided with an existing event id');
        return result.snapshot as Snapshot<MachineOf<TDefinition>>;
      }),
    );
    this.#restores += 1;
    return restored;
  }

  /** The reducer's own figures (also in `metrics().extra`). */
  stats(): ReducerStats {
    return {
      applied: this.#applied,
      duplicates: this.#duplicates,
      rejected: this.#rejected,
      conflicts: this.#conflicts,
      restores: this.#restores,
      busyAggregates: this.#queue.size,
      enteredStates: Object.fromEntries(this.#entered),
    };
  }

  protected override async process(input: ParsedReducerInput<MachineOf<TDefinition>>, ctx: CallContext): Promise<AppliedEvent<MachineOf<TDefinition>>> {
    const { aggregateId, event } = input;
    return this.#apply(aggregateId, event.id, { type: event.type, payload: event.payload }, ctx.signal);
  }

  /**
   * Runs after a transition was recorded, before the caller gets its answer, in order per aggregate (the next
   * event for the aggregate waits for it). For side channels — publish to a bus, update a read model. Not called
   * for replays. An error it throws is logged and does not fail the call: the transition stands. Default: the
   * `onTransition` option, when given.
   */
  protected onTransition(applied: AppliedEvent<MachineOf<TDefinition>>, record: TransitionRecordOf<MachineOf<TDefinition>>): void | Promise<void> {
    return this.#onTransition?.(applied, record);
  }

  protected override async onInitialize(): Promise<void> {
    await this.store.init();
  }

  protected override async onShutdown(): Promise<void> {
    // In-process apply() calls are not counted by the call drain: let the queued ones finish before the store closes.
    await this.#queue.idle();
    if (this.#closeStore) await this.store.close();
  }

  protected override async componentHealth(): Promise<Record<string, ComponentHealth>> {
    const store = await this.store.health().catch(
      (error: unknown): ComponentHealth => ({ status: HealthStatus.Unhealthy, detail: this.sanitizer.sanitizeText(toOnexError(error).message) }),
    );
    return { store };
  }

  protected override extraMetrics(): Record<string, unknown> {
    return { ...this.stats() };
  }

  /** The kind's Prometheus families, read from the reducer's own counters at scrape time. */
  #registerMetrics(): void {
    this.prometheus.counter({
      name: 'onex_reducer_events_total',
      help: 'Events by result: applied (changed an aggregate), duplicate (a replayed event id, a no-op) or rejected (no legal transition).',
      labelNames: ['result'],
      collect: (emit) => {
        emit({ result: 'applied' }, this.#applied);
        emit({ result: 'duplicate' }, this.#duplicates);
        emit({ result: 'rejected' }, this.#rejected);
      },
    });
    this.prometheus.counter({
      name: 'onex_reducer_transitions_total',
      help: 'Transitions applied into each state of the machine.',
      labelNames: ['state'],
      collect: (emit) => {
        for (const state of this.machine.states) emit({ state }, this.#entered.get(state) ?? 0);
      },
    });
    this.prometheus.counter({
      name: 'onex_reducer_conflict_retries_total',
      help: 'Appends that lost a race to another writer and were reduced again.',
      collect: (emit) => emit({}, this.#conflicts),
    });
    this.prometheus.counter({
      name: 'onex_reducer_restores_total',
      help: 'Aggregates taken back to an earlier or explicit snapshot.',
      collect: (emit) => emit({}, this.#restores),
    });
    this.prometheus.gauge({
      name: 'onex_reducer_busy_aggregates',
      help: 'Aggregates with events queued or being applied now.',
      collect: (emit) => emit({}, this.#queue.size),
    });
  }

  #apply(aggregateId: string, eventId: string, event: ParsedEventOf<MachineOf<TDefinition>>, signal: AbortSignal | undefined): Promise<AppliedEvent<MachineOf<TDefinition>>> {
    return this.#queue.run(aggregateId, async () => {
      if (signal?.aborted === true) throw abortReasonToOnexError(signal);
      let outcome: AppendOutcome;
      for (let attempt = 0; ; attempt += 1) {
        try {
          outcome = await this.#session(aggregateId, (session) => this.#reduceAndAppend(session, aggregateId, eventId, event));
          break;
        } catch (error) {
          // Another writer (another process on the same database) moved the aggregate: reduce again from its state.
          // (A store with withAggregate holds the aggregate meanwhile: no writer gets in between.)
          // (An event the machine refuses is a CONFLICT too, with a reason: final, not retried.)
          if (error instanceof OnexError && error.code === ErrorCode.Conflict && reduceErrorReason(error) === undefined && attempt < this.#maxConflictRetries) {
            this.#conflicts += 1;
            continue;
          }
          throw error;
        }
      }
      if (outcome.status === 'duplicate') return this.#duplicate(outcome.record, event);
      this.#applied += 1;
      this.#entered.set(outcome.record.to, (this.#entered.get(outcome.record.to) ?? 0) + 1);
      const applied = this.#answer(outcome.record, false);
      try {
        await this.onTransition(applied, outcome.record as TransitionRecordOf<MachineOf<TDefinition>>);
      } catch (error) {
        this.logger.error({ err: error, aggregateId, eventId }, 'onTransition failed; the transition stands');
      }
      return applied;
    });
  }

  /** One attempt: dedup, reduce from the current snapshot, append at its version. */
  async #reduceAndAppend(session: AggregateSession, aggregateId: string, eventId: string, event: ParsedEventOf<MachineOf<TDefinition>>): Promise<AppendOutcome> {
    const seen = await session.findEvent(eventId);
    if (seen !== undefined) return { status: 'duplicate', record: seen };
    const current = ((await session.load()) as Snapshot<MachineOf<TDefinition>> | undefined) ?? this.#initial();
    const reduced = reduceParsed(this.machine, current, event);
    if (!reduced.ok) {
      this.#rejected += 1;
      throw withErrorContext(reduced.error, { aggregateId, eventId });
    }
    const { value } = reduced;
    const change: TransitionChange = {
      eventId,
      kind: TransitionKind.Event,
      event: { type: event.type, payload: value.payload },
      from: value.from,
      to: value.state,
      context: value.context,
      intents: value.intents,
      at: this.clock.now(),
    };
    const result = await session.append(current.version, change);
    return { status: result.status, record: result.record };
  }

  /**
   * Runs `work` on the aggregate: inside the store's {@link ReducerStore.withAggregate} when it has one (the
   * aggregate held against other processes, in arrival order), else on the store's own calls (an append that lost a
   * race is a `CONFLICT`).
   */
  #session<T>(aggregateId: string, work: (session: AggregateSession) => Promise<T>): Promise<T> {
    const store = this.store;
    if (store.withAggregate !== undefined) return store.withAggregate(aggregateId, work);
    return work({
      load: () => store.load(aggregateId),
      loadAt: (version) => store.loadAt(aggregateId, version),
      findEvent: (eventId) => store.findEvent(aggregateId, eventId),
      append: (expectedVersion, change) => store.append(aggregateId, expectedVersion, change),
    });
  }

  /** The first answer for a replayed event id; an id reused for a different event is a `CONFLICT`, not a replay. */
  #duplicate(record: TransitionRecord, event: ParsedEventOf<MachineOf<TDefinition>>): AppliedEvent<MachineOf<TDefinition>> {
    if (record.event.type !== event.type || canonicalJson(record.event.payload) !== canonicalJson(event.payload)) {
      throw reduceError(
        ErrorCode.Conflict,
        ReduceErrorReason.EventIdReused,
        `Event id '${record.eventId}' was already applied to aggregate ${record.aggregateId} with a different event`,
        { aggregateId: record.aggregateId, eventId: record.eventId },
      );
    }
    this.#duplicates += 1;
    return this.#answer(record, true);
  }

  #answer(record: TransitionRecord, duplicate: boolean): AppliedEvent<MachineOf<TDefinition>> {
    const prefix = `${this.machine.name}:${record.aggregateId}:${record.eventId}:`;
    return {
      aggregateId: record.aggregateId,
      eventId: record.eventId,
      state: record.to,
      previousState: record.from,
      context: record.context as ContextOf<MachineOf<TDefinition>>,
      version: record.version,
      intents: record.intents.map((intent, i) => ({ ...intent, key: `${prefix}${i}` }) as KeyedIntent<IntentOf<MachineOf<TDefinition>>>),
      duplicate,
    };
  }

  #initial(): Snapshot<MachineOf<TDefinition>> {
    const { state, context } = this.machine.initialSnapshot();
    return { state: state, context: context as ContextOf<MachineOf<TDefinition>>, version: 0, updatedAt: 0 };
  }

  async #restoreTarget(session: AggregateSession, aggregateId: string, target: RestoreTarget<MachineOf<TDefinition>>): Promise<{ state: string; context: unknown }> {
    if ('version' in target) {
      const { version } = target;
      if (!Number.isInteger(version) || version < 0) throw new OnexError(ErrorCode.Validation, 'version must be a non-negative integer');
      if (version === 0) return this.#initial();
      const snapshot = await session.loadAt(version);
      if (snapshot === undefined) {
        throw new OnexError(ErrorCode.NotFound, `Aggregate ${aggregateId} has no version ${version} in its history`, { context: { aggregateId, version } });
      }
      return snapshot;
    }
    if (!this.machine.isState(target.state)) {
      throw new OnexError(ErrorCode.Validation, `'${target.state}' is not a state of machine '${this.machine.name}'`, { context: { state: target.state } });
    }
    const parsed = this.machine.context.safeParse(target.context);
    if (!parsed.success) {
      const details = validationDetails(parsed.error.issues);
      throw new OnexError(ErrorCode.Validation, `Invalid context: ${details[0]?.path ?? ''}: ${details[0]?.message ?? 'invalid'}`, { details });
    }
    return { state: target.state, context: parsed.data };
  }

  #assertReady(): void {
    if (this.status !== LifecycleStatus.Ready) throw new OnexError(ErrorCode.Lifecycle, `Node '${this.name}' is ${this.status}, not ready`);
  }
}

/**
 * JSON of a value with object keys sorted at every level: an event's parsed payload and its stored copy (which went
 * through JSON) compare equal when they carry the same data.
 */
function canonicalJson(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) =>
      typeof v === 'object' && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
    ) ?? 'null'
  );
}
