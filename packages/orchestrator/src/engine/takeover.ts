import { RetryPolicy, type Clock, type Logger } from '@onex/core';
import type { WorkflowRecord } from '../store/workflow-record.js';
import type { RunnableType, WorkflowStore } from '../store/workflow-store.js';
import type { Admission } from './admission.js';

/** First delay before claiming again after a store failure; doubles up to a third of a lease. */
const RESUME_DELAY_MS = 100;

/**
 * Leases are renewed every quarter of a lease, and an instance fences itself a quarter of a lease before the last
 * proven lease ends: a renewal has half a lease to complete, and aborted runs a quarter to unwind before another
 * instance may take over.
 */
const RENEW_EVERY = 1 / 4;
const FENCE_MARGIN = 1 / 4;

/** Most workflows one claim takes (repeated while full batches come back and there is room). */
const CLAIM_BATCH = 256;

/**
 * First delay before looking again when the earliest wake-up time is already past (doubling up to a quarter of a
 * lease): due workflows the last claim did not reach, or one claimed here whose first commit has not cleared it yet.
 */
const PAST_DUE_DELAY_MS = 10;

/** Node fires timers past 2^31-1 ms at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** What {@link Takeover} needs from its orchestrator. */
export interface TakeoverOptions {
  readonly store: WorkflowStore;
  readonly instanceId: string;
  readonly leaseMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly admission: Admission;
  /** The types and versions this instance may claim. */
  readonly runnable: () => readonly RunnableType[];
  /** Acts on a durable cancel request a renewal reported for a workflow held here. */
  readonly onCancel: (id: string) => void;
  /** Tells the runs held here of the signals a renewal reported (the last signal number of each). */
  readonly onSignals: (signals: Readonly<Record<string, number>>) => void;
}

/**
 * Who holds which workflow, across instances sharing a store: claims (free, expired and due workflows, in batches
 * while there is room), the lease renewal of every held workflow each quarter of a lease, the wake-up of parked
 * workflows, and self-fencing — an instance that cannot prove its leases stops dispatching and halts its runs a
 * quarter of a lease before another instance could take them over.
 */
export class Takeover {
  readonly #options: TakeoverOptions;
  /** Workflows this instance claimed: resumed after a restart, taken over from an expired lease, or woken. */
  recovered = 0;
  /** Runs stopped because a renewal reported their lease lost, or the instance could not prove it. */
  leaseLosses = 0;
  /** Until when every lease this instance holds is proven (the start of the last successful renewal + a lease). */
  #provenUntil = 0;
  #leaseTimer: NodeJS.Timeout | undefined;
  #fenceTimer: NodeJS.Timeout | undefined;
  #claimTimer: NodeJS.Timeout | undefined;
  #claimAt = Number.POSITIVE_INFINITY;
  #claiming = false;
  #claimAgain = false;
  #storeFailures = 0;
  /** Looks in a row that found the earliest wake-up time already past: they back off. */
  #pastDue = 0;
  /** The two backoffs, core's policy without jitter (one instance's own timing, nothing to spread apart). */
  readonly #failureBackoff: RetryPolicy;
  readonly #pastDueBackoff: RetryPolicy;
  #renewing = false;
  /** A resync came while a renewal was in flight: it runs once that renewal is done. */
  #resyncAfterRenew = false;
  /** The last renewal failed: the store cannot be reached to prove the leases. */
  #renewFailing = false;
  #accepting = false;

  constructor(options: TakeoverOptions) {
    this.#options = options;
    this.#failureBackoff = new RetryPolicy({ initialDelayMs: RESUME_DELAY_MS, maxDelayMs: Math.max(RESUME_DELAY_MS, options.leaseMs / 3), jitter: 'none' });
    this.#pastDueBackoff = new RetryPolicy({ initialDelayMs: PAST_DUE_DELAY_MS, maxDelayMs: Math.max(PAST_DUE_DELAY_MS, options.leaseMs * RENEW_EVERY), jitter: 'none' });
  }

  /** Until when the leases are proven, epoch ms. */
  get provenUntil(): number {
    return this.#provenUntil;
  }

  /** False while the leases cannot be renewed (or proven in time) and something is held. */
  get leaseHealthy(): boolean {
    const { admission } = this.#options;
    return !this.#renewFailing && (this.canDispatch() || admission.running + admission.queued === 0);
  }

  /** Starts the lease clock: the store just answered, so the leases of the first claims are proven. */
  open(): void {
    this.#accepting = true;
    this.#provenUntil = this.#options.clock.now() + this.#options.leaseMs;
  }

  /**
   * Takes this instance's own workflows back (a restart under a stable id resumes at once, as far as its room
   * allows), then starts renewing, fencing and waking.
   */
  async resume(): Promise<void> {
    const { store, instanceId, leaseMs, clock, logger, admission } = this.#options;
    // One claim: with `includeOwn` a second one would take the same ones again. Own workflows past the room expire,
    // unrenewed, and are claimed like any others.
    const room = admission.room;
    if (room > 0) {
      this.#adopt(await store.claim({ owner: instanceId, leaseMs, now: clock.now(), limit: room, runnable: this.#options.runnable(), includeOwn: true }));
    }
    if (this.recovered > 0) logger.info({ count: this.recovered }, 'resuming unfinished workflows');
    this.#leaseTimer = setInterval(() => this.#tick(), Math.max(1, Math.floor(leaseMs * RENEW_EVERY)));
    this.#leaseTimer.unref();
    this.#armFence();
    await this.armWake();
  }

  /** Stops claiming and renewing (shutdown). */
  close(): void {
    this.#accepting = false;
    for (const timer of [this.#leaseTimer, this.#fenceTimer, this.#claimTimer]) if (timer !== undefined) clearTimeout(timer);
  }

  /** True while every held lease is proven with a quarter of a lease to spare: new calls may go out. */
  canDispatch(): boolean {
    return this.#options.clock.now() < this.#provenUntil - this.#options.leaseMs * FENCE_MARGIN;
  }

  /** A store call of a run failed: claims back off further. */
  noteStoreFailure(): void {
    this.#storeFailures += 1;
  }

  /** The delay before claiming again after store failures: doubling, up to a third of a lease. */
  backoff(): number {
    return this.#failureBackoff.delayFor(Math.min(this.#storeFailures, 16) + 1);
  }

  /** Claims soon: at most one timer, at the earliest time asked for. */
  scheduleClaim(delayMs: number): void {
    if (!this.#accepting) return;
    const at = this.#options.clock.now() + Math.max(0, delayMs);
    if (this.#claimTimer !== undefined && at >= this.#claimAt) return;
    if (this.#claimTimer !== undefined) clearTimeout(this.#claimTimer);
    this.#claimAt = at;
    this.#claimTimer = setTimeout(() => {
      this.#claimTimer = undefined;
      this.#claimAt = Number.POSITIVE_INFINITY;
      void this.#claimDue();
    }, Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
    this.#claimTimer.unref();
  }

  /** One timer for the earliest parked workflow this instance could run. */
  async armWake(): Promise<void> {
    if (!this.#accepting) return;
    const wakeAt = await this.#options.store.nextWakeAt(this.#options.runnable());
    const delay = wakeAt === undefined ? undefined : wakeAt - this.#options.clock.now();
    if (delay === undefined) return;
    if (delay > 0) {
      this.#pastDue = 0;
      this.scheduleClaim(delay);
      return;
    }
    // Already past: workflows that fell due while the last claim ran (many due at once: sleeps ending together),
    // or one claimed here whose first commit has not cleared its time yet (and may hide later ones). Look again
    // soon, backing off, while there is room; without room the lease tick's claim covers it.
    if (this.#options.admission.room <= 0) return;
    const backoff = this.#pastDueBackoff.delayFor(Math.min(this.#pastDue, 16) + 1);
    this.#pastDue += 1;
    this.scheduleClaim(backoff);
  }

  /**
   * The store's events had a gap: renew now (which reports the cancel requests and signals of the runs held here),
   * then claim what is free, expired or due, as the lease tick would.
   */
  resync(): void {
    if (!this.#accepting) return;
    // A renewal in flight may have read the store before the events it missed: one more once it is done.
    if (this.#renewing) this.#resyncAfterRenew = true;
    else this.#tick();
  }

  /** Every quarter of a lease: renew the held runs, then claim what is free, expired or due. */
  #tick(): void {
    // A renewal still waiting on a slow store is not stacked with another one.
    if (this.#renewing) return;
    this.#renewing = true;
    this.#renew()
      .then(
        () => {
          this.#renewFailing = false;
          this.scheduleClaim(0);
        },
        (error: unknown) => {
          this.#renewFailing = true;
          this.#options.logger.error({ err: error }, 'lease renewal failed');
        },
      )
      .finally(() => {
        this.#renewing = false;
        if (this.#resyncAfterRenew) {
          this.#resyncAfterRenew = false;
          this.resync();
        }
      });
  }

  async #renew(): Promise<void> {
    const { store, instanceId, leaseMs, clock, admission } = this.#options;
    const held = admission.held();
    const startedAt = clock.now();
    // Also with nothing held: the round trip proves the store reachable (and so the next claims' leases).
    const { lost, cancelRequested, signals } = await store.renew(instanceId, held, startedAt + leaseMs);
    this.#provenUntil = Math.max(this.#provenUntil, startedAt + leaseMs);
    this.#armFence();
    for (const id of lost) if (admission.drop(id, 'lease') !== undefined) this.leaseLosses += 1;
    for (const id of cancelRequested) this.#options.onCancel(id);
    if (signals !== undefined) this.#options.onSignals(signals);
  }

  /** One timer: when the leases can no longer be proven in time, every run here halts (self-fencing). */
  #armFence(): void {
    if (this.#fenceTimer !== undefined) clearTimeout(this.#fenceTimer);
    if (!this.#accepting) return;
    const delay = this.#provenUntil - this.#options.leaseMs * FENCE_MARGIN - this.#options.clock.now();
    this.#fenceTimer = setTimeout(() => this.#selfFence(), Math.max(0, Math.min(delay, MAX_TIMER_MS)));
    this.#fenceTimer.unref();
  }

  #selfFence(): void {
    if (this.canDispatch()) {
      this.#armFence();
      return;
    }
    const { admission, logger } = this.#options;
    if (admission.running + admission.queued === 0) return;
    logger.error({ running: admission.running, queued: admission.queued }, 'cannot prove the lease: stopping every run here');
    this.leaseLosses += admission.haltAll('lease');
    admission.clearQueue();
  }

  /**
   * Claims free, expired and due workflows (crashed peers', released ones, parked ones whose time came) in batches
   * while there is room, then arms the wake-up timer for the next parked one. Failures back off.
   */
  async #claimDue(): Promise<void> {
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    this.#claiming = true;
    const { store, instanceId, leaseMs, clock, logger, admission } = this.#options;
    try {
      do {
        this.#claimAgain = false;
        for (;;) {
          const room = admission.room;
          if (!this.#accepting || room <= 0 || !this.canDispatch()) break;
          const limit = Math.min(room, CLAIM_BATCH);
          const claimed = await store.claim({ owner: instanceId, leaseMs, now: clock.now(), limit, runnable: this.#options.runnable() });
          this.#adopt(claimed);
          if (claimed.length > 0) {
            // Found work: a wake-up time past again next is more that fell due meanwhile, looked for at once.
            this.#pastDue = 0;
            logger.info({ count: claimed.length }, 'claimed workflows (taken over, released or due)');
          }
          if (claimed.length < limit) break;
        }
        await this.armWake();
      } while (this.#claimAgain);
      this.#storeFailures = 0;
    } catch (error) {
      this.#storeFailures += 1;
      logger.error({ err: error }, 'claiming workflows failed');
      this.scheduleClaim(this.backoff());
    } finally {
      this.#claiming = false;
    }
  }

  #adopt(claimed: readonly WorkflowRecord[]): void {
    for (const record of claimed) {
      this.recovered += 1;
      if (this.#options.admission.adopt(record) === 'relaunch') this.leaseLosses += 1;
    }
  }
}
