import { ErrorCode, HealthStatus, OnexError, type ComponentHealth } from '@onex/core';
import { DEFAULT_LEASE_MS, DEFAULT_RETENTION_MS, type IdempotencyBegin, type IdempotencyOutcome, type IdempotencyStore } from './idempotency-store.js';
import { positiveOption } from './store-helpers.js';

/**
 * Options of {@link MemoryIdempotencyStore}.
 *
 * @example
 * ```ts
 * const options: MemoryIdempotencyStoreOptions = { maxEntries: 50_000, retentionMs: 60 * 60 * 1000 };
 * ```
 */
export interface MemoryIdempotencyStoreOptions {
  /** How long completed keys are remembered, ms. Default 24 h. */
  readonly retentionMs?: number;
  /** How long an in-progress key is held without renewal, ms. Default 30 000. */
  readonly leaseMs?: number;
  /**
   * Most keys kept; past it the oldest record not in progress is evicted (its key can run again). Keys in progress
   * are never evicted: when all of them are, a new key is refused with a retryable `OVERLOADED`
   * (`retryAfterMs` = `leaseMs`). Default 10 000.
   */
  readonly maxEntries?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  readonly now?: () => number;
}

interface MemoryRecord {
  readonly fingerprint: string;
  token: string | undefined;
  outcome: IdempotencyOutcome | undefined;
  leaseExpiresAt: number;
  expiresAt: number;
}

/**
 * An {@link IdempotencyStore} in process memory: fast, bounded (`maxEntries`, the oldest key not in progress evicted
 * first) and lost on restart — dedup holds within one process and within its bounds. Use
 * {@link SqliteIdempotencyStore} when a restarted process must still remember completed keys.
 *
 * @example
 * ```ts
 * import { MemoryIdempotencyStore, NodeEffect, defineEffectNode, defineOperation } from '@onex/effect';
 * let sent = 0;
 * const send = defineOperation({
 *   name: 'send', input: z.object({ to: z.string() }), output: z.object({ id: z.string() }),
 *   run: async ({ to }) => ({ id: `msg-${to}-${++sent}` }),
 * });
 * const mailer = defineEffectNode({ name: 'mailer', version: '1.0.0', operations: [send] });
 * const node = new NodeEffect(mailer, { idempotencyStore: new MemoryIdempotencyStore({ maxEntries: 100_000 }), logger: createSilentLogger() });
 * await node.initialize();
 * await node.execute('send', { to: 'ada@example.com' }, { idempotencyKey: 'welcome-ada' });
 * await node.execute('send', { to: 'ada@example.com' }, { idempotencyKey: 'welcome-ada' }); // answered from the store
 * console.log(sent); // 1
 * await node.shutdown();
 * ```
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly retentionMs: number;
  readonly leaseMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #records: Map<string, MemoryRecord>;
  #nextToken: number;
  #evictions: number;

  /**
   * @throws OnexError `VALIDATION` for an invalid option.
   */
  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    this.retentionMs = positiveOption('retentionMs', options.retentionMs ?? DEFAULT_RETENTION_MS);
    this.leaseMs = positiveOption('leaseMs', options.leaseMs ?? DEFAULT_LEASE_MS);
    this.#maxEntries = positiveOption('maxEntries', options.maxEntries ?? 10_000);
    this.#now = options.now ?? Date.now;
    this.#records = new Map();
    this.#nextToken = 1;
    this.#evictions = 0;
  }

  /** Keys held now (completed or in progress, expired ones until purged). */
  get size(): number {
    return this.#records.size;
  }

  begin(key: string, fingerprint: string): IdempotencyBegin {
    const now = this.#now();
    const existing = this.#records.get(key);
    if (existing !== undefined && existing.expiresAt > now) {
      if (existing.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (existing.outcome !== undefined) return { kind: 'completed', outcome: existing.outcome };
      if (existing.leaseExpiresAt > now) return { kind: 'in_progress', retryAfterMs: existing.leaseExpiresAt - now };
    }
    // Absent, expired, or abandoned by a holder whose lease ran out: take it.
    const token = String(this.#nextToken++);
    if (existing !== undefined) this.#records.delete(key);
    else if (this.#records.size >= this.#maxEntries) this.#evictOldest(now);
    this.#records.set(key, { fingerprint, token, outcome: undefined, leaseExpiresAt: now + this.leaseMs, expiresAt: now + this.retentionMs });
    return { kind: 'started', token };
  }

  complete(key: string, token: string, outcome: IdempotencyOutcome): boolean {
    const record = this.#records.get(key);
    if (record?.token !== token || record.outcome !== undefined) return false;
    record.outcome = outcome;
    record.token = undefined;
    record.expiresAt = this.#now() + this.retentionMs;
    return true;
  }

  release(key: string, token: string): void {
    const record = this.#records.get(key);
    if (record?.token === token && record.outcome === undefined) this.#records.delete(key);
  }

  renew(key: string, token: string): boolean {
    const record = this.#records.get(key);
    if (record?.token !== token || record.outcome !== undefined) return false;
    record.leaseExpiresAt = this.#now() + this.leaseMs;
    return true;
  }

  purgeExpired(): number {
    const now = this.#now();
    let purged = 0;
    for (const [key, record] of this.#records) {
      if (record.expiresAt <= now) {
        this.#records.delete(key);
        purged++;
      }
    }
    return purged;
  }

  health(): ComponentHealth {
    return {
      status: HealthStatus.Healthy,
      detail: 'in-memory idempotency store',
      data: { entries: this.#records.size, maxEntries: this.#maxEntries, evictions: this.#evictions },
    };
  }

  close(): void {
    this.#records.clear();
  }

  /**
   * Makes room by evicting the oldest record that is not running. A key still in progress is never evicted: its
   * holder could not record the outcome, and a retry would run the operation again.
   *
   * @throws OnexError retryable `OVERLOADED` when every kept key is still in progress.
   */
  #evictOldest(now: number): void {
    // Map iteration follows insertion order: the first key is the oldest claim.
    for (const [key, record] of this.#records) {
      if (record.outcome === undefined && record.leaseExpiresAt > now) continue;
      this.#records.delete(key);
      this.#evictions++;
      return;
    }
    throw new OnexError(ErrorCode.Overloaded, `Idempotency store full: all ${String(this.#maxEntries)} keys are in progress`, {
      retryable: true,
      retryAfterMs: this.leaseMs,
      context: { maxEntries: this.#maxEntries },
    });
  }
}
