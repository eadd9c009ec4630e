/**
 * The nonces of the signed requests seen within the replay window, bounded in size. A nonce is remembered until its
 * request's timestamp leaves the window (after that the request is refused as stale anyway). When the cache is full
 * of nonces still inside the window, the oldest one is evicted and the cache raises a floor to that nonce's
 * timestamp: requests signed at or before the floor are refused from then on. So an evicted nonce can never be
 * replayed; the price of a flood is that requests older than the floor must be re-signed.
 *
 * @internal Used by the request verifier; exported for tests through the auth module only.
 */
export class ReplayCache {
  /** key id + nonce → request timestamp: membership only, never iterated (V8 maps iterate over deleted slots). */
  readonly #seen = new Map<string, number>();
  /** The same entries in arrival order, as a ring: the oldest at `#head`. */
  readonly #ids: (string | undefined)[];
  readonly #stamps: Float64Array;
  #head = 0;
  #count = 0;
  readonly #windowMs: number;
  #floor = -Infinity;

  constructor(maxEntries: number, windowMs: number) {
    this.#ids = new Array<string | undefined>(maxEntries).fill(undefined);
    this.#stamps = new Float64Array(maxEntries);
    this.#windowMs = windowMs;
  }

  /** Number of nonces remembered. */
  get size(): number {
    return this.#count;
  }

  /**
   * Records a nonce signed at `timestamp`; false when it was seen before (a replay) or is at or below the floor.
   * `now` drops the nonces whose timestamp has left the window.
   */
  record(id: string, timestamp: number, now: number): boolean {
    if (timestamp <= this.#floor) return false;
    if (this.#seen.has(id)) return false;
    const capacity = this.#stamps.length;
    const horizon = now - this.#windowMs;
    // Drop, from the oldest arrival on, the nonces whose timestamp is out of the window.
    while (this.#count > 0 && (this.#stamps[this.#head] as number) < horizon) this.#dropHead();
    if (this.#count === capacity) {
      const evicted = this.#stamps[this.#head] as number;
      this.#dropHead();
      if (evicted > this.#floor) this.#floor = evicted;
      if (timestamp <= this.#floor) return false;
    }
    const tail = (this.#head + this.#count) % capacity;
    this.#ids[tail] = id;
    this.#stamps[tail] = timestamp;
    this.#count += 1;
    this.#seen.set(id, timestamp);
    return true;
  }

  #dropHead(): void {
    const id = this.#ids[this.#head];
    if (id !== undefined) this.#seen.delete(id);
    this.#ids[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#stamps.length;
    this.#count -= 1;
  }
}
