import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/**
 * Options of {@link mapConcurrent}.
 *
 * @example
 * ```ts
 * const options: MapConcurrentOptions = { concurrency: 8, signal: AbortSignal.timeout(1_000) };
 * ```
 */
export interface MapConcurrentOptions {
  /** Most items in progress at once; a positive integer. */
  readonly concurrency: number;
  /** Stops taking new items once aborted; `mapConcurrent` then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * Longest a worker runs items without giving the event loop a turn, ms. Synchronous work never yields by
   * itself: without this a large batch would hold off timers (deadlines) and other requests until it ends.
   * Default 10.
   */
  readonly sliceMs?: number;
}

/**
 * Maps `items` through `fn` with at most `concurrency` calls in progress, and answers the results in input order.
 * `fn` is expected to report its own failures in its result: a throw rejects the whole map (the remaining items
 * are not started).
 *
 * @example
 * ```ts
 * const lookUp = async (sku: string): Promise<number> => sku.length * 100; // a price service, say
 * const prices = await mapConcurrent(['BOOK', 'PEN', 'MUG'], (sku) => lookUp(sku), { concurrency: 2 });
 * console.log(prices); // [400, 300, 300]: in input order, whichever finished first
 * ```
 */
export async function mapConcurrent<T, R>(items: readonly T[], fn: (item: T, index: number) => R | Promise<R>, options: MapConcurrentOptions): Promise<R[]> {
  const { concurrency, signal } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer (got ${String(concurrency)})`);
  const sliceMs = options.sliceMs ?? 10;
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    let sliceStart = performance.now();
    while (next < items.length) {
      signal?.throwIfAborted();
      const index = next;
      next += 1;
      results[index] = await fn(items[index] as T, index);
      if (performance.now() - sliceStart >= sliceMs) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(concurrency, items.length); i += 1) workers.push(worker());
  await Promise.all(workers);
  return results;
}
