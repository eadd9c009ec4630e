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
  /** key id + nonce → request timestamp, in arrival order. */
  readonly #seen = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #windowMs: number;
  #floor = -Infinity;

  constructor(maxEntries: number, windowMs: number) {
    this.#maxEntries = maxEntries;
    this.#windowMs = windowMs;
  }

  /** Number of nonces remembered. */
  get size(): number {
    return this.#seen.size;
  }

  /**
   * Records a nonce signed at `timestamp`; false when it was seen before (a replay) or is at or below the floor.
   * `now` drops the nonces whose timestamp has left the window.
   */
  record(id: string, timestamp: number, now: number): boolean {
    if (timestamp <= this.#floor) return false;
    if (this.#seen.has(id)) return false;
    this.#sweep(now);
    while (this.#seen.size >= this.#maxEntries) {
      const oldest = this.#seen.entries().next();
      if (oldest.done === true) break;
      const [oldId, oldTimestamp] = oldest.value;
      this.#seen.delete(oldId);
      if (oldTimestamp > this.#floor) this.#floor = oldTimestamp;
    }
    if (timestamp <= this.#floor) return false;
    this.#seen.set(id, timestamp);
    return true;
  }

  /** Drops, from the oldest arrival on, the nonces whose timestamp is out of the window. */
  #sweep(now: number): void {
    const horizon = now - this.#windowMs;
    for (const [id, timestamp] of this.#seen) {
      if (timestamp >= horizon) break;
      this.#seen.delete(id);
    }
  }
}
