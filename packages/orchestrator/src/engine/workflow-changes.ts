import { ErrorCode, OnexError, type Logger } from '@onex/core';
import type { WorkflowStatus } from '../store/workflow-record.js';

/**
 * One change to a workflow, as {@link Orchestrator.watch} announces it: a write of this instance (a start, a run's
 * commit, a cancel request), or an event another instance's write sent through the store (`subscribe`). `status`
 * is the status after the change when this instance knows it; absent for a change only announced by the store.
 *
 * @example
 * ```ts
 * import type { WorkflowChange } from '@onex/orchestrator';
 * const describe = (change: WorkflowChange) => `${change.id}: ${change.status ?? 'changed elsewhere'}`;
 * ```
 */
export interface WorkflowChange {
  readonly id: string;
  readonly status?: WorkflowStatus;
}

/** Most listeners a feed takes by default: each is one dashboard connection, or one in-process watcher. */
export const DEFAULT_MAX_WATCHERS = 256;

/**
 * The orchestrator's in-process change feed: listeners are called synchronously, in the writer's turn, after the
 * write succeeded, so a listener must only take note (queue, coalesce) and never do I/O itself. Bounded: past
 * `maxListeners`, `watch` refuses with OVERLOADED. A throwing listener is logged and kept.
 */
export class WorkflowChanges {
  readonly #listeners = new Set<(change: WorkflowChange) => void>();
  readonly #max: number;
  readonly #logger: Logger;

  constructor(logger: Logger, maxListeners = DEFAULT_MAX_WATCHERS) {
    this.#logger = logger;
    this.#max = maxListeners;
  }

  /** Listeners now. */
  get size(): number {
    return this.#listeners.size;
  }

  /**
   * Adds a listener; returns the function that removes it (idempotent).
   *
   * @throws OnexError `OVERLOADED` when `maxListeners` are listening.
   */
  watch(listener: (change: WorkflowChange) => void): () => void {
    if (this.#listeners.size >= this.#max) {
      throw new OnexError(ErrorCode.Overloaded, `Too many workflow watchers (at most ${this.#max})`, { retryAfterMs: 5_000 });
    }
    // A wrapper, so the same function watching twice is two watchers, each removed on its own.
    const entry = (change: WorkflowChange): void => listener(change);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Tells every listener; costs a size check when nobody listens (the run calls it on every commit). */
  emit(id: string, status?: WorkflowStatus): void {
    if (this.#listeners.size === 0) return;
    const change: WorkflowChange = status === undefined ? { id } : { id, status };
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#logger.warn({ err: error, workflowId: id }, 'workflow change listener threw');
      }
    }
  }
}
