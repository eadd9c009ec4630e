import { ErrorCode, OnexError } from '@onex/core';
import { onAbort } from '@onex/core/internal';
import type { WorkflowOutcome } from './orchestrator-contract.js';

/** A local wait for a run: resolved with the outcome, or with undefined when the run stopped unfinished. */
type Waiter = (outcome: WorkflowOutcome | undefined) => void;

/** One wait through the store: `wait` ends at the wake-up, the timeout or the abort; `cancel` ends it now. */
export interface RemoteWait {
  readonly wait: Promise<void>;
  readonly cancel: () => void;
}

function addTo<T>(map: Map<string, Set<T>>, id: string, item: T): Set<T> {
  let set = map.get(id);
  if (set === undefined) {
    set = new Set();
    map.set(id, set);
  }
  set.add(item);
  return set;
}

function removeFrom<T>(map: Map<string, Set<T>>, id: string, set: Set<T>, item: T): void {
  set.delete(item);
  if (set.size === 0 && map.get(id) === set) map.delete(id);
}

/**
 * The `result()` calls waiting for workflows: on a run here (settled when it ends), or through the store for a
 * workflow run elsewhere, parked, or whose run here stopped (woken by the store's `finished` event, else polled).
 */
export class OutcomeWaiters {
  readonly #local = new Map<string, Set<Waiter>>();
  readonly #remote = new Map<string, Set<() => void>>();

  /**
   * Resolves with the outcome of the run here, or undefined once it stopped unfinished.
   *
   * @throws OnexError `CANCELLED` when `signal` aborts first.
   */
  local(id: string, signal: AbortSignal | undefined): Promise<WorkflowOutcome | undefined> {
    return new Promise<WorkflowOutcome | undefined>((resolve, reject) => {
      let stop = (): void => undefined;
      const waiter: Waiter = (outcome) => {
        stop();
        resolve(outcome);
      };
      const set = addTo(this.#local, id, waiter);
      stop = onAbort(signal, () => {
        removeFrom(this.#local, id, set, waiter);
        reject(new OnexError(ErrorCode.Cancelled, 'Stopped waiting for the workflow'));
      });
    });
  }

  /** Hands the run's end to every local waiter of `id` (undefined: it stopped unfinished, wait through the store). */
  settle(id: string, outcome: WorkflowOutcome | undefined): void {
    const waiters = this.#local.get(id);
    if (waiters === undefined) return;
    this.#local.delete(id);
    for (const waiter of waiters) waiter(outcome);
  }

  /** Ends when {@link wake} is called for `id`, after `ms` at the latest, or when `signal` aborts. */
  remote(id: string, ms: number, signal: AbortSignal | undefined): RemoteWait {
    let cancel: () => void = () => undefined;
    const wait = new Promise<void>((resolve) => {
      let stop = (): void => undefined;
      const done = (): void => {
        clearTimeout(timer);
        stop();
        removeFrom(this.#remote, id, set, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      const set = addTo(this.#remote, id, done);
      cancel = done;
      stop = onAbort(signal, done);
    });
    return { wait, cancel };
  }

  /** The store says `id` finished: its remote waiters read it again now. */
  wake(id: string): void {
    for (const done of [...(this.#remote.get(id) ?? [])]) done();
  }

  /** The store's events had a gap: every remote waiter reads its workflow again now. */
  wakeAll(): void {
    for (const waiters of [...this.#remote.values()]) for (const done of [...waiters]) done();
  }

  /** Shutdown: every wait ends (the callers then see the orchestrator closed). */
  closeAll(): void {
    for (const id of [...this.#local.keys()]) this.settle(id, undefined);
    for (const waiters of [...this.#remote.values()]) for (const done of [...waiters]) done();
  }
}
