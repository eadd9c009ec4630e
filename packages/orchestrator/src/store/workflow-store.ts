import type { ComponentHealth } from '@onex/core';
import type { SignalInput, SignalSendResult, StoredSignal, WorkflowCommit, WorkflowFilter, WorkflowRecord, WorkflowStatus, WorkflowSummary } from './workflow-record.js';

/** What {@link WorkflowStore.create} answers: the stored record, and whether this call created it. */
export interface CreateResult {
  readonly created: boolean;
  readonly record: WorkflowRecord;
}

/** A workflow an instance holds: its id and the epoch its claim (or create) gave it. */
export interface HeldRun {
  readonly id: string;
  readonly epoch: number;
}

/** A workflow type and version an instance can run (it has the definition registered). */
export interface RunnableType {
  readonly type: string;
  readonly version: string;
}

/** Options of {@link WorkflowStore.claim}. */
export interface ClaimOptions {
  /** The claiming instance. */
  readonly owner: string;
  /** How long the claim holds unless renewed, ms. */
  readonly leaseMs: number;
  /** Current time, epoch ms. */
  readonly now: number;
  /** At most this many workflows. */
  readonly limit: number;
  /** Only workflows of these types and versions (an instance never claims what it cannot run). */
  readonly runnable: readonly RunnableType[];
  /**
   * Also take the workflows `owner` itself holds whatever their lease: what an instance restarted under a stable
   * `instanceId` does once at start. Default false (only free or expired leases are taken).
   */
  readonly includeOwn?: boolean;
}

/** What {@link WorkflowStore.renew} answers. */
export interface RenewResult {
  /** Held runs whose lease was not extended: another instance claimed them (newer epoch), or they are finished or gone. */
  readonly lost: readonly string[];
  /** Held runs (renewed) whose cancellation was requested. */
  readonly cancelRequested: readonly string[];
  /**
   * Held runs (renewed) that have accepted signals, with the sequence number of the last: a run that knows a lower
   * one reads its new signals (the way a signal reaches a live run on another instance without `subscribe`).
   */
  readonly signals?: Readonly<Record<string, number>>;
}

/**
 * What a store tells every instance about writes made anywhere (see {@link WorkflowStore.subscribe}):
 * - `finished`: the workflow reached a terminal status (result waiters read it now);
 * - `claimable`: its lease was given up (any instance may claim it now);
 * - `cancel`: its cancellation was requested (its holder acts on it now);
 * - `wake`: a workflow was parked until `at` (instances arm their wake-up timer);
 * - `signal`: the workflow accepted its signal `seq` (its holder reads it now);
 * - `schedules`: a schedule was created, changed or deleted (instances look at their schedules now);
 * - `resync`: the stream had a gap (its connection dropped and it listens again), so events may have been lost:
 *   instances look again now at what events would have told them (waiters, claims, signals, schedules).
 */
export type WorkflowEvent =
  | { readonly kind: 'finished'; readonly id: string }
  | { readonly kind: 'claimable'; readonly id: string }
  | { readonly kind: 'cancel'; readonly id: string }
  | { readonly kind: 'wake'; readonly at: number }
  | { readonly kind: 'signal'; readonly id: string; readonly seq: number }
  | { readonly kind: 'schedules' }
  | { readonly kind: 'resync' };

/**
 * Where workflows live. Every state change goes through {@link WorkflowStore.commit} before the engine acts on it
 * (write-ahead), so a crash at any instant leaves a state the engine can resume from.
 *
 * Multi-instance: each workflow has an `owner`, a `leaseExpiresAt` and an `epoch` (fencing token). `claim` takes
 * unfinished, due workflows whose lease is free or expired and bumps their epoch; `commit`, `renew` and `release`
 * carry the epoch the caller holds and change nothing when it is stale, so a paused instance that lost its lease
 * cannot overwrite the new owner's progress. A finished workflow refuses every commit. A PostgreSQL store
 * implements the same contract with `SELECT … FOR UPDATE SKIP LOCKED` for `claim` and `WHERE epoch = $n` for the
 * writes.
 */
export interface WorkflowStore {
  /** Creates (or migrates) the schema if needed. */
  init(): Promise<void>;
  /**
   * Inserts a new workflow, owned by `record.owner`. When `record.idempotencyKey` was used before, inserts nothing
   * and returns the existing workflow.
   */
  create(record: WorkflowRecord): Promise<CreateResult>;
  /**
   * Applies one atomic change. Throws OnexError CONFLICT when `epoch` is not the stored one (fenced) or the workflow
   * is already finished, NOT_FOUND when it does not exist.
   */
  commit(id: string, epoch: number, change: WorkflowCommit): Promise<void>;
  /** The whole record, or undefined. */
  get(id: string): Promise<WorkflowRecord | undefined>;
  /** Summaries, newest first. */
  list(filter: WorkflowFilter): Promise<readonly WorkflowSummary[]>;
  /**
   * Claims unfinished workflows for `owner`: of a runnable type, due (no `wakeAt`, or `wakeAt <= now`), and free
   * (no owner, lease expired, or own with `includeOwn`); oldest first, at most `limit`. Each claimed record comes
   * back with its new epoch, owner and lease.
   *
   * A workflow with a concurrency key (`admission.concurrencyKey`) is claimed only while fewer than its
   * `concurrencyLimit` workflows of that key hold a slot, across every owner: unfinished, owned with a live lease and
   * not parked for later (those claimed by this call counted). Exempt, and holding no slot, are children and
   * cancelled workflows; the owner's own live ones taken again with `includeOwn` already hold theirs. Concurrent claims must not
   * together exceed a limit: a store serialises the keyed part of its claims.
   */
  claim(options: ClaimOptions): Promise<readonly WorkflowRecord[]>;
  /**
   * Extends to `leaseExpiresAt` the lease of each held run that `owner` still holds at that epoch and that is
   * unfinished; the others are reported `lost`. A lease given up by `release` is not renewed (also reported
   * `lost`): a renewal whose list was read before the run ended must not take the released workflow back.
   */
  renew(owner: string, held: readonly HeldRun[], leaseExpiresAt: number): Promise<RenewResult>;
  /** Gives up a held run (its lease expires now, so any instance may claim it); nothing when no longer held. */
  release(owner: string, held: HeldRun): Promise<void>;
  /**
   * Records that cancellation of an unfinished workflow was asked for, and clears its `wakeAt` so a parked one is
   * claimable at once. Needs no epoch: it changes no progress, the run that holds the workflow acts on it. Returns
   * the record after the change (unchanged when finished), or undefined when unknown.
   */
  requestCancel(id: string): Promise<WorkflowRecord | undefined>;
  /**
   * Stores a signal for an unfinished workflow, deduplicated by `signalId`, as its next signal `seq` (bumping the
   * record's `signalSeq`), unless it already holds `MAX_SIGNALS_PER_WORKFLOW`. Needs no epoch: it changes no
   * progress. A `running` workflow parked for later (waiting, sleeping) is made due at `signal.sentAt`, so an
   * instance claims it and the wait reads the signal; a delayed start or a parked saga is left as it is. Emits
   * `signal` (and `wake` when it woke the workflow) to subscribers.
   */
  sendSignal(id: string, signal: SignalInput): Promise<SignalSendResult>;
  /** The workflow's signals with a sequence number above `afterSeq`, in sequence order (empty when unknown). */
  signals(id: string, afterSeq: number): Promise<readonly StoredSignal[]>;
  /**
   * Optional: reopens a finished workflow whose status is `from` (the engine's `retryCompensation` reopens a
   * `compensation_failed` one): applies `change` (its `workflow.status` is unfinished) and gives the workflow to
   * nobody — no owner, lease or wake-up time — so any instance may claim it at once (`claimable` goes to
   * subscribers). Needs no epoch: a finished workflow has no holder. True when it reopened it; false when the workflow
   * is unknown or not in status `from` (nothing changed).
   */
  reopen?(id: string, from: WorkflowStatus, change: WorkflowCommit): Promise<boolean>;
  /** The earliest `wakeAt` of an unfinished workflow of a runnable type, or undefined when none is parked. */
  nextWakeAt(runnable: readonly RunnableType[]): Promise<number | undefined>;
  /**
   * Optional: delivers the {@link WorkflowEvent}s of every instance's writes (PostgreSQL: LISTEN/NOTIFY; memory: in
   * process), so waiters and claimers act at once instead of at their next poll. Resolves once listening, with a
   * function that stops it. Events are hints: an instance still polls, rarely, and a lost event delays, never breaks.
   */
  subscribe?(listener: (event: WorkflowEvent) => void): Promise<() => Promise<void>>;
  /** Store health for `health()`. */
  health(): Promise<ComponentHealth>;
  /** Releases resources. */
  close(): Promise<void>;
}
