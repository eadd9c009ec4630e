import { ErrorCode, HealthStatus, OnexError, type ComponentHealth } from '@onex/core';
import { isTerminalStatus, type StepRecord, type WorkflowCommit, type WorkflowFilter, type WorkflowRecord, type WorkflowSummary } from './workflow-record.js';
import type { ClaimOptions, CreateResult, WorkflowStore } from './workflow-store.js';

type MutableRecord = { -readonly [K in keyof WorkflowRecord]: WorkflowRecord[K] } & { steps: Record<string, StepRecord> };

function copyOf(record: MutableRecord): WorkflowRecord {
  return { ...record, steps: { ...record.steps } };
}

/** Options of {@link MemoryWorkflowStore}. */
export interface MemoryWorkflowStoreOptions {
  /** Finished workflows kept before the oldest are forgotten (memory stays bounded). Default 10 000. */
  readonly maxFinished?: number;
}

/**
 * A {@link WorkflowStore} in memory: for tests, benchmarks and embedding where durability is not wanted.
 * Unfinished workflows are always kept; finished ones up to `maxFinished`.
 *
 * @example
 * ```ts
 * const orchestrator = new Orchestrator({ store: new MemoryWorkflowStore(), peers });
 * ```
 */
export class MemoryWorkflowStore implements WorkflowStore {
  readonly #records = new Map<string, MutableRecord>();
  readonly #byKey = new Map<string, string>();
  // Insertion-ordered set of finished ids: the first is the oldest to evict.
  readonly #finished = new Set<string>();
  readonly #maxFinished: number;

  constructor(options: MemoryWorkflowStoreOptions = {}) {
    this.#maxFinished = options.maxFinished ?? 10_000;
  }

  async init(): Promise<void> {}

  async create(record: WorkflowRecord): Promise<CreateResult> {
    if (record.idempotencyKey !== undefined) {
      const existingId = this.#byKey.get(record.idempotencyKey);
      const existing = existingId === undefined ? undefined : this.#records.get(existingId);
      if (existing !== undefined) return { created: false, record: copyOf(existing) };
    }
    if (this.#records.has(record.id)) throw new OnexError(ErrorCode.Conflict, `Workflow ${record.id} already exists`);
    this.#records.set(record.id, { ...record, steps: { ...record.steps } });
    if (record.idempotencyKey !== undefined) this.#byKey.set(record.idempotencyKey, record.id);
    return { created: true, record };
  }

  async commit(id: string, epoch: number, change: WorkflowCommit): Promise<void> {
    const current = this.#records.get(id);
    if (current === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`);
    if (current.epoch !== epoch) {
      throw new OnexError(ErrorCode.Conflict, `Workflow ${id} is owned by a newer epoch`, { context: { epoch, stored: current.epoch } });
    }
    // Records are private to the store and changed in place; readers get copies (commits far outnumber reads).
    const wasTerminal = isTerminalStatus(current.status);
    if (change.workflow !== undefined) Object.assign(current, change.workflow);
    if (change.steps !== undefined) for (const step of change.steps) current.steps[step.name] = step;
    if (isTerminalStatus(current.status) && !wasTerminal) this.#markFinished(id);
  }

  async get(id: string): Promise<WorkflowRecord | undefined> {
    const record = this.#records.get(id);
    return record === undefined ? undefined : copyOf(record);
  }

  async list(filter: WorkflowFilter): Promise<readonly WorkflowSummary[]> {
    const statuses = filter.status === undefined ? undefined : new Set(typeof filter.status === 'string' ? [filter.status] : filter.status);
    const limit = Math.min(filter.limit ?? 100, 1000);
    const out: WorkflowSummary[] = [];
    const all = [...this.#records.values()].sort((a, b) => b.createdAt - a.createdAt);
    for (const record of all) {
      if (statuses !== undefined && !statuses.has(record.status)) continue;
      if (filter.type !== undefined && record.type !== filter.type) continue;
      const { steps: _steps, input: _input, output: _output, ...summary } = record;
      out.push(summary);
      if (out.length >= limit) break;
    }
    return out;
  }

  async claim(options: ClaimOptions): Promise<readonly WorkflowRecord[]> {
    const claimed: WorkflowRecord[] = [];
    for (const record of this.#records.values()) {
      if (claimed.length >= options.limit) break;
      if (isTerminalStatus(record.status)) continue;
      const own = record.owner === options.owner;
      if (own && options.includeOwn === false) continue;
      const free = record.owner === undefined || own || (record.leaseExpiresAt ?? 0) <= options.now;
      if (!free) continue;
      Object.assign(record, { owner: options.owner, leaseExpiresAt: options.now + options.leaseMs, epoch: record.epoch + 1 });
      claimed.push(copyOf(record));
    }
    return claimed;
  }

  async renewLeases(owner: string, leaseExpiresAt: number): Promise<void> {
    for (const record of this.#records.values()) {
      if (record.owner === owner && !isTerminalStatus(record.status)) record.leaseExpiresAt = leaseExpiresAt;
    }
  }

  async health(): Promise<ComponentHealth> {
    return { status: HealthStatus.Healthy, data: { kind: 'memory', workflows: this.#records.size } };
  }

  async close(): Promise<void> {}

  #markFinished(id: string): void {
    this.#finished.add(id);
    while (this.#finished.size > this.#maxFinished) {
      const oldest = this.#finished.values().next().value;
      if (oldest === undefined) break;
      this.#finished.delete(oldest);
      const record = this.#records.get(oldest);
      this.#records.delete(oldest);
      if (record?.idempotencyKey !== undefined) this.#byKey.delete(record.idempotencyKey);
    }
  }
}
