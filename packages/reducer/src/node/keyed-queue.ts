/**
 * Runs tasks one at a time per key, in the order they were queued, while tasks of different keys run concurrently.
 * A key's entry is removed as soon as its last task settles, so memory follows the number of busy keys, not the
 * number of keys ever seen.
 *
 * @internal Used by `NodeReducer`; not part of the public API.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>();

  /** Keys with queued or running tasks. */
  get size(): number {
    return this.#tails.size;
  }

  /** Resolves once every task queued so far has settled. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }

  /** Queues `task` behind the key's earlier tasks; settles as the task does. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    const result = previous === undefined ? start(task) : previous.then(task);
    // The tail never rejects: a failed task must not stop the ones queued behind it.
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}

function start<T>(task: () => Promise<T>): Promise<T> {
  try {
    return task();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
