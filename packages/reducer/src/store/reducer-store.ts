import type { ComponentHealth } from '@onex/core';
import type { Intent } from '../machine/state-machine.js';

/**
 * The stored state of one aggregate: its state, context and version (the number of transitions applied to it).
 * The latest one per aggregate is the snapshot a reducer starts from; the one at any version is rebuilt from the
 * transition that produced it.
 *
 * @example
 * ```ts
 * const snapshot: AggregateSnapshot = { state: 'paid', context: { total: 30, paid: 30 }, version: 4, updatedAt: Date.now() };
 * ```
 */
export interface AggregateSnapshot<TState extends string = string, TContext = unknown> {
  readonly state: TState;
  readonly context: TContext;
  /** Transitions applied so far; 0 for an aggregate no event has reached. */
  readonly version: number;
  /** When the aggregate last changed, epoch ms (0 for the initial snapshot). */
  readonly updatedAt: number;
}

/**
 * What produced a transition: an event, or a `restore` (which rewinds or resets an aggregate, and is recorded
 * like any transition — history is never rewritten).
 *
 * @example
 * ```ts
 * if (record.kind === TransitionKind.Restore) console.log('restored at version', record.version);
 * ```
 */
export const TransitionKind = { Event: 'event', Restore: 'restore' } as const;
/** One of the {@link TransitionKind} values. */
export type TransitionKind = (typeof TransitionKind)[keyof typeof TransitionKind];

/**
 * One applied transition, as stored: the event that fired it, the states on both sides, the context after it and
 * the intents it produced. `version` is the aggregate's version after it.
 *
 * @example
 * ```ts
 * for (const r of await node.history('o-1')) console.log(`v${r.version} ${r.from} --${r.event.type}--> ${r.to}`);
 * ```
 */
export interface TransitionRecord<TState extends string = string, TContext = unknown, TIntent extends Intent = Intent> {
  readonly aggregateId: string;
  readonly version: number;
  /** The event's id (dedup key, unique per aggregate). Restores get `$restore:<uuid>`. */
  readonly eventId: string;
  readonly kind: TransitionKind;
  /** The event (payload as parsed); for a restore, type `$restore`. */
  readonly event: { readonly type: string; readonly payload: unknown };
  readonly from: TState;
  readonly to: TState;
  /** The context after the transition. */
  readonly context: TContext;
  readonly intents: readonly TIntent[];
  /** When it was applied, epoch ms. */
  readonly at: number;
}

/**
 * What a reducer asks a store to append: a {@link TransitionRecord} without the aggregate id and version, which the
 * store assigns.
 *
 * @example
 * ```ts
 * const change: TransitionChange = { eventId: 'e-1', kind: 'event', event: { type: 'PRICE', payload: { total: 30 } },
 *   from: 'created', to: 'priced', context: { total: 30 }, intents: [], at: Date.now() };
 * ```
 */
export type TransitionChange = Omit<TransitionRecord, 'aggregateId' | 'version'>;

/**
 * The outcome of {@link ReducerStore.append}: appended (with the aggregate's new snapshot), or a duplicate — the
 * event id was already applied to the aggregate, and nothing changed (the stored transition is returned).
 *
 * @example
 * ```ts
 * const r = await store.append('o-1', 3, change);
 * if (r.status === 'duplicate') console.log('already applied at version', r.record.version);
 * ```
 */
export type AppendResult =
  | { readonly status: 'appended'; readonly record: TransitionRecord; readonly snapshot: AggregateSnapshot }
  | { readonly status: 'duplicate'; readonly record: TransitionRecord };

/**
 * Options of {@link ReducerStore.history}.
 *
 * @example
 * ```ts
 * const page: HistoryOptions = { afterVersion: 100, limit: 50 };
 * ```
 */
export interface HistoryOptions {
  /** Only transitions with a higher version (0: from the first). */
  readonly afterVersion: number;
  /** At most this many, oldest first. */
  readonly limit: number;
}

/**
 * The reads and appends of one aggregate while {@link ReducerStore.withAggregate} holds it: the same operations as
 * the store's, for that aggregate, inside the holder's transaction.
 *
 * @example
 * ```ts
 * await store.withAggregate?.('o-1', async (session) => {
 *   const current = await session.load();
 *   return session.append(current?.version ?? 0, change);
 * });
 * ```
 */
export interface AggregateSession {
  /** The aggregate's latest snapshot (including what this session appended), or undefined when it has none. */
  load(): Promise<AggregateSnapshot | undefined>;
  /** As {@link ReducerStore.loadAt}. */
  loadAt(version: number): Promise<AggregateSnapshot | undefined>;
  /** As {@link ReducerStore.findEvent}. */
  findEvent(eventId: string): Promise<TransitionRecord | undefined>;
  /** As {@link ReducerStore.append}; committed when the session's work resolves. */
  append(expectedVersion: number, change: TransitionChange): Promise<AppendResult>;
}

/**
 * Where a reducer keeps its aggregates: the latest snapshot per aggregate and the history of transitions. Values
 * (contexts, payloads, intents) are JSON.
 *
 * Implementations must make {@link ReducerStore.append} atomic: a duplicate event id for the aggregate returns
 * `duplicate` and changes nothing; a version other than `expectedVersion` is a `CONFLICT` (another writer got
 * there first) and changes nothing; otherwise the transition is recorded and the snapshot replaced, both or
 * neither. `reducerStoreConformance` (`@onex/testing/conformance`) is that contract as a test suite.
 *
 * A store several processes write (PostgreSQL) also implements {@link ReducerStore.withAggregate}, so that replicas
 * apply an aggregate's events in the order they arrive instead of racing on versions.
 *
 * @example
 * ```ts
 * const store: ReducerStore = new SqliteReducerStore({ path: './orders.db' });
 * await store.init();
 * await store.close();
 * ```
 */
export interface ReducerStore {
  /** Creates tables, opens files. Idempotent. */
  init(): Promise<void>;
  /** The aggregate's latest snapshot, or undefined when no transition was applied to it. */
  load(aggregateId: string): Promise<AggregateSnapshot | undefined>;
  /** The snapshot right after version `version`, or undefined when that transition is unknown (or no longer kept). */
  loadAt(aggregateId: string, version: number): Promise<AggregateSnapshot | undefined>;
  /** The transition an event id produced for the aggregate, if it was applied (and is still remembered). */
  findEvent(aggregateId: string, eventId: string): Promise<TransitionRecord | undefined>;
  /** Records one transition atomically (see the interface's description). */
  append(aggregateId: string, expectedVersion: number, change: TransitionChange): Promise<AppendResult>;
  /** Transitions of the aggregate, oldest first. */
  history(aggregateId: string, options: HistoryOptions): Promise<readonly TransitionRecord[]>;
  /** The store's health, reported under the node's `store` component. */
  health(): Promise<ComponentHealth>;
  /** Releases files and timers. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional: runs `work` holding the aggregate against every other writer of the store, other processes included.
   * Holders are let in one at a time, in the order they asked (for a database, the order their requests reached it);
   * what `work` appends commits when it resolves, and nothing does when it throws. `NodeReducer` applies each
   * event inside it when the store has it: no version race, so no re-reduce and no event failing after
   * `maxConflictRetries` lost races.
   */
  withAggregate?<T>(aggregateId: string, work: (session: AggregateSession) => Promise<T>): Promise<T>;
}
