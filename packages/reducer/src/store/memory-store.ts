import { ErrorCode, HealthStatus, OnexError, type ComponentHealth } from '@onex/core';
import { deepFreeze } from '@onex/core/internal';
import type { AggregateSnapshot, AppendResult, HistoryOptions, ReducerStore, TransitionChange, TransitionRecord } from './reducer-store.js';

/**
 * Options of {@link MemoryReducerStore}.
 *
 * @example
 * ```ts
 * const options: MemoryReducerStoreOptions = { maxHistory: 100 };
 * ```
 */
export interface MemoryReducerStoreOptions {
  /**
   * Transitions kept per aggregate; older ones are forgotten, and with them the dedup of their event ids (memory
   * stays bounded). Default 1 000.
   */
  readonly maxHistory?: number;
}

interface Aggregate {
  snapshot: AggregateSnapshot;
  /** Kept transitions, oldest first; versions are consecutive. */
  readonly history: TransitionRecord[];
  readonly byEventId: Map<string, TransitionRecord>;
}

/** A deep-frozen JSON copy: what the SQLite store would give back, and safe to hand out. */
function frozenJson<T>(value: T): T {
  return deepFreeze(JSON.parse(JSON.stringify(value) ?? 'null') as T);
}

/**
 * A {@link ReducerStore} in memory: for tests, benchmarks and aggregates that need not outlive the process. Values
 * go through a JSON round trip as in the SQLite store (a `Date` in a context fails the same way in both), and
 * are frozen. Event ids are deduplicated within the last `maxHistory` transitions of each aggregate.
 *
 * @example
 * ```ts
 * const node = new NodeReducer(defineReducerNode({ machine: orderMachine, version: '1.0.0' }), { store: new MemoryReducerStore({ maxHistory: 100 }) });
 * ```
 */
export class MemoryReducerStore implements ReducerStore {
  readonly #aggregates = new Map<string, Aggregate>();
  readonly #maxHistory: number;

  constructor(options: MemoryReducerStoreOptions = {}) {
    const max = options.maxHistory ?? 1_000;
    if (!Number.isInteger(max) || max < 1) throw new OnexError(ErrorCode.Validation, 'maxHistory must be a positive integer');
    this.#maxHistory = max;
  }

  async init(): Promise<void> {}

  async load(aggregateId: string): Promise<AggregateSnapshot | undefined> {
    return this.#aggregates.get(aggregateId)?.snapshot;
  }

  async loadAt(aggregateId: string, version: number): Promise<AggregateSnapshot | undefined> {
    const record = this.#record(aggregateId, version);
    return record === undefined ? undefined : { state: record.to, context: record.context, version: record.version, updatedAt: record.at };
  }

  async findEvent(aggregateId: string, eventId: string): Promise<TransitionRecord | undefined> {
    return this.#aggregates.get(aggregateId)?.byEventId.get(eventId);
  }

  async append(aggregateId: string, expectedVersion: number, change: TransitionChange): Promise<AppendResult> {
    const aggregate = this.#aggregates.get(aggregateId);
    const existing = aggregate?.byEventId.get(change.eventId);
    if (existing !== undefined) return { status: 'duplicate', record: existing };
    const version = aggregate?.snapshot.version ?? 0;
    if (version !== expectedVersion) {
      throw new OnexError(ErrorCode.Conflict, `Aggregate ${aggregateId} is at version ${version}, not ${expectedVersion}`, {
        context: { aggregateId, expectedVersion, version },
      });
    }
    const record: TransitionRecord = frozenJson({ ...change, aggregateId, version: version + 1 });
    const snapshot: AggregateSnapshot = Object.freeze({ state: record.to, context: record.context, version: record.version, updatedAt: record.at });
    if (aggregate === undefined) {
      this.#aggregates.set(aggregateId, { snapshot, history: [record], byEventId: new Map([[record.eventId, record]]) });
    } else {
      aggregate.snapshot = snapshot;
      aggregate.history.push(record);
      aggregate.byEventId.set(record.eventId, record);
      if (aggregate.history.length > this.#maxHistory) {
        const evicted = aggregate.history.shift()!;
        aggregate.byEventId.delete(evicted.eventId);
      }
    }
    return { status: 'appended', record, snapshot };
  }

  async history(aggregateId: string, options: HistoryOptions): Promise<readonly TransitionRecord[]> {
    const history = this.#aggregates.get(aggregateId)?.history;
    if (history === undefined || history.length === 0) return [];
    const first = history[0]!.version;
    const start = Math.max(0, options.afterVersion + 1 - first);
    return history.slice(start, start + Math.max(0, options.limit));
  }

  async health(): Promise<ComponentHealth> {
    return { status: HealthStatus.Healthy, data: { kind: 'memory', aggregates: this.#aggregates.size } };
  }

  async close(): Promise<void> {}

  #record(aggregateId: string, version: number): TransitionRecord | undefined {
    const history = this.#aggregates.get(aggregateId)?.history;
    const first = history?.[0];
    if (history === undefined || first === undefined) return undefined;
    return history[version - first.version];
  }
}
