import type { ComponentHealth } from '@onex/core';
import type { WorkflowCommit, WorkflowFilter, WorkflowRecord, WorkflowSummary } from './workflow-record.js';

/** What {@link WorkflowStore.create} answers: the stored record, and whether this call created it. */
export interface CreateResult {
  readonly created: boolean;
  readonly record: WorkflowRecord;
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
  /**
   * Also take back the workflows `owner` itself holds, whatever their lease (true, the default, is what a restarted
   * instance does). A running instance taking over a crashed peer's workflows passes false, so it never fences its
   * own live runs.
   */
  readonly includeOwn?: boolean;
}

/**
 * Where workflows live. Every state change goes through {@link WorkflowStore.commit} before the engine acts on it
 * (write-ahead), so a crash at any instant leaves a state the engine can resume from.
 *
 * Multi-instance ready: each workflow has an `owner`, a `leaseExpiresAt` and an `epoch` (fencing token).
 * `claim` takes unfinished workflows whose lease expired (or that the same owner held before a restart) and bumps
 * their epoch; `commit` refuses a write whose epoch is stale with a CONFLICT error, so a paused instance that lost
 * its lease cannot overwrite the new owner's progress. A PostgreSQL store implements the same contract with
 * `SELECT … FOR UPDATE SKIP LOCKED` for `claim` and `WHERE epoch = $n` for `commit`.
 */
export interface WorkflowStore {
  /** Creates the schema if needed. */
  init(): Promise<void>;
  /**
   * Inserts a new workflow, owned by `record.owner`. When `record.idempotencyKey` was used before, inserts nothing
   * and returns the existing workflow.
   */
  create(record: WorkflowRecord): Promise<CreateResult>;
  /** Applies one atomic change; throws OnexError CONFLICT when `epoch` is not the stored one (fenced). */
  commit(id: string, epoch: number, change: WorkflowCommit): Promise<void>;
  /** The whole record, or undefined. */
  get(id: string): Promise<WorkflowRecord | undefined>;
  /** Summaries, newest first. */
  list(filter: WorkflowFilter): Promise<readonly WorkflowSummary[]>;
  /** Claims unfinished workflows for `owner` (see the interface's doc); returns them with their new epoch. */
  claim(options: ClaimOptions): Promise<readonly WorkflowRecord[]>;
  /** Extends the lease of every unfinished workflow `owner` holds. */
  renewLeases(owner: string, leaseExpiresAt: number): Promise<void>;
  /** Store health for `health()`. */
  health(): Promise<ComponentHealth>;
  /** Releases resources. */
  close(): Promise<void>;
}
