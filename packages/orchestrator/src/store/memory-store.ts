import { holdsKeySlot, limitedKeyOf } from './concurrency.js';
import { ErrorCode, HealthStatus, OnexError, type ComponentHealth } from '@onex/core';
import {
  applyWorkflowPatch,
  isTerminalStatus,
  MAX_SIGNALS_PER_WORKFLOW,
  WorkflowStatus,
  type SignalInput,
  type SignalSendResult,
  type StepRecord,
  type StoredSignal,
  type WorkflowCommit,
  type WorkflowFilter,
  type WorkflowRecord,
  type WorkflowSummary,
} from './workflow-record.js';
import { MAX_SCHEDULES, type ScheduleRecord, type ScheduleStore } from './schedule-store.js';
import type { ClaimOptions, CreateResult, HeldRun, RenewResult, RunnableType, WorkflowEvent, WorkflowStore } from './workflow-store.js';

type MutableRecord = { -readonly [K in keyof WorkflowRecord]: WorkflowRecord[K] } & { steps: Record<string, StepRecord> };

function copyOf(record: MutableRecord): WorkflowRecord {
  return { ...record, steps: { ...record.steps } };
}

function runnableKey(type: string, version: string): string {
  return JSON.stringify([type, version]);
}

function runnableKeys(runnable: readonly RunnableType[]): ReadonlySet<string> {
  return new Set(runnable.map((r) => runnableKey(r.type, r.version)));
}

/** Options of {@link MemoryWorkflowStore}. */
export interface MemoryWorkflowStoreOptions {
  /** Finished workflows kept before the oldest are forgotten (memory stays bounded). Default 10 000. */
  readonly maxFinished?: number;
}

/**
 * A {@link WorkflowStore} in memory: for tests, benchmarks and embedding where durability is not wanted.
 * Unfinished workflows are always kept; finished ones up to `maxFinished`. Same contract as the SQLite store
 * (fencing, leases, wake-up times, cancel requests); "oldest first" is creation order.
 *
 * @example
 * ```ts
 * import { defineOrchestrator, MemoryWorkflowStore, Orchestrator } from '@onex/orchestrator';
 * const orchestrator = new Orchestrator(defineOrchestrator({ workflows }), { store: new MemoryWorkflowStore({ maxFinished: 1_000 }), peers });
 * ```
 */
export class MemoryWorkflowStore implements WorkflowStore, ScheduleStore {
  readonly #schedules = new Map<string, ScheduleRecord>();
  readonly #listeners = new Set<(event: WorkflowEvent) => void>();
  readonly #records = new Map<string, MutableRecord>();
  readonly #byKey = new Map<string, string>();
  // Unfinished records in creation order: what claim walks (finished ones are never visited again).
  readonly #unfinished = new Map<string, MutableRecord>();
  // Ids of unfinished records with a wakeAt: what nextWakeAt walks.
  readonly #parked = new Set<string>();
  // Insertion-ordered set of finished ids: the first is the oldest to evict.
  readonly #finished = new Set<string>();
  // Signals by workflow id, in seq order; ids per workflow for deduplication. Dropped with the record.
  readonly #signals = new Map<string, { readonly list: StoredSignal[]; readonly ids: Set<string> }>();
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
    // Stored as the SQLite store reads it back: no `cancelRequested: false`.
    const { cancelRequested, ...rest } = record;
    const stored: MutableRecord = { ...rest, ...(cancelRequested === true ? { cancelRequested } : {}), steps: { ...record.steps } };
    this.#records.set(record.id, stored);
    if (record.idempotencyKey !== undefined) this.#byKey.set(record.idempotencyKey, record.id);
    if (isTerminalStatus(stored.status)) this.#markFinished(record.id);
    else {
      this.#unfinished.set(record.id, stored);
      this.#trackParked(stored);
    }
    return { created: true, record: copyOf(stored) };
  }

  async commit(id: string, epoch: number, change: WorkflowCommit): Promise<void> {
    const current = this.#records.get(id);
    if (current === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`);
    if (current.epoch !== epoch) {
      throw new OnexError(ErrorCode.Conflict, `Workflow ${id} is owned by a newer epoch`, { context: { epoch, stored: current.epoch } });
    }
    if (!this.#unfinished.has(id)) {
      throw new OnexError(ErrorCode.Conflict, `Workflow ${id} is already finished`, { context: { status: current.status } });
    }
    // Records are private to the store and changed in place; readers get copies (commits far outnumber reads).
    let wokeAt: number | undefined;
    if (change.workflow !== undefined) {
      const { wakeAt, seenSignalSeq } = change.workflow;
      applyWorkflowPatch(current, change.workflow);
      if (wakeAt === null) delete current.wakeAt;
      else if (wakeAt !== undefined) {
        // A signal accepted after the one the parking run read: due at once, not at the timeout.
        const missed = seenSignalSeq !== undefined && (current.signalSeq ?? 0) > seenSignalSeq;
        current.wakeAt = missed ? (change.workflow.updatedAt ?? wakeAt) : wakeAt;
        wokeAt = current.wakeAt;
      }
    }
    if (change.steps !== undefined) for (const step of change.steps) current.steps[step.name] = step;
    if (isTerminalStatus(current.status)) {
      this.#unfinished.delete(id);
      this.#parked.delete(id);
      this.#markFinished(id);
      this.#emit({ kind: 'finished', id });
    } else {
      this.#trackParked(current);
      if (wokeAt !== undefined) this.#emit({ kind: 'wake', at: wokeAt });
    }
  }

  async get(id: string): Promise<WorkflowRecord | undefined> {
    const record = this.#records.get(id);
    return record === undefined ? undefined : copyOf(record);
  }

  async list(filter: WorkflowFilter): Promise<readonly WorkflowSummary[]> {
    const statuses = filter.status === undefined ? undefined : new Set(typeof filter.status === 'string' ? [filter.status] : filter.status);
    const limit = Math.max(1, Math.min(filter.limit ?? 100, 1000));
    const out: WorkflowSummary[] = [];
    // Newest first; among equal creation times the later inserted first (a stable sort of the reversed order).
    const all = [...this.#records.values()].reverse().sort((a, b) => b.createdAt - a.createdAt);
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
    if (options.runnable.length === 0 || options.limit <= 0) return claimed;
    const runnable = runnableKeys(options.runnable);
    const { owner, now } = options;
    const take = (record: MutableRecord): void => {
      record.owner = owner;
      record.leaseExpiresAt = now + options.leaseMs;
      record.epoch += 1;
      claimed.push(copyOf(record));
    };
    // As the SQL stores do: the workflows no concurrency limit applies to first, then the keyed ones, by priority,
    // while their key has a slot free; the batch comes back oldest first.
    const keyed: MutableRecord[] = [];
    for (const record of this.#unfinished.values()) {
      if (claimed.length >= options.limit) break;
      if ((record.wakeAt ?? 0) > now) continue;
      const free = record.owner === undefined || (record.leaseExpiresAt ?? 0) <= now || (options.includeOwn === true && record.owner === owner);
      if (!free || !runnable.has(runnableKey(record.type, record.version))) continue;
      if (limitedKeyOf(record) !== undefined && !holdsKeySlot(record, now)) keyed.push(record);
      else take(record);
    }
    if (keyed.length > 0 && claimed.length < options.limit) {
      const slots = this.#keySlots(now);
      keyed.sort((a, b) => (b.admission?.priority ?? 0) - (a.admission?.priority ?? 0));
      for (const record of keyed) {
        if (claimed.length >= options.limit) break;
        const key = limitedKeyOf(record)!;
        const held = slots.get(key) ?? 0;
        if (held >= (record.admission?.concurrencyLimit ?? 1)) continue;
        slots.set(key, held + 1);
        take(record);
      }
      claimed.sort((a, b) => a.createdAt - b.createdAt);
    }
    return claimed;
  }

  /** Slots held per concurrency key at `now` (see {@link holdsKeySlot}). */
  #keySlots(now: number): Map<string, number> {
    const slots = new Map<string, number>();
    for (const record of this.#unfinished.values()) {
      const key = limitedKeyOf(record);
      if (key !== undefined && holdsKeySlot(record, now)) slots.set(key, (slots.get(key) ?? 0) + 1);
    }
    return slots;
  }

  async renew(owner: string, held: readonly HeldRun[], leaseExpiresAt: number): Promise<RenewResult> {
    const lost: string[] = [];
    const cancelRequested: string[] = [];
    let signals: Record<string, number> | undefined;
    for (const { id, epoch } of held) {
      const record = this.#heldBy(owner, id, epoch);
      // A released lease (0) is not renewed: a renewal read before the run ended must not take the workflow back.
      if (record === undefined || record.leaseExpiresAt === 0) {
        lost.push(id);
        continue;
      }
      record.leaseExpiresAt = leaseExpiresAt;
      if (record.cancelRequested === true) cancelRequested.push(id);
      if (record.signalSeq !== undefined) (signals ??= {})[id] = record.signalSeq;
    }
    return signals === undefined ? { lost, cancelRequested } : { lost, cancelRequested, signals };
  }

  async release(owner: string, held: HeldRun): Promise<void> {
    const record = this.#heldBy(owner, held.id, held.epoch);
    if (record === undefined) return;
    record.leaseExpiresAt = 0;
    this.#emit({ kind: 'claimable', id: held.id });
  }

  async requestCancel(id: string): Promise<WorkflowRecord | undefined> {
    const record = this.#records.get(id);
    if (record === undefined) return undefined;
    if (this.#unfinished.has(id)) {
      record.cancelRequested = true;
      delete record.wakeAt;
      this.#parked.delete(id);
      this.#emit({ kind: 'cancel', id });
    }
    return copyOf(record);
  }

  async sendSignal(id: string, signal: SignalInput): Promise<SignalSendResult> {
    const record = this.#records.get(id);
    if (record === undefined) return { status: 'not_found' };
    const held = this.#signals.get(id);
    if (held?.ids.has(signal.signalId) === true) return { status: 'duplicate' };
    if (!this.#unfinished.has(id)) return { status: 'finished' };
    if ((held?.list.length ?? 0) >= MAX_SIGNALS_PER_WORKFLOW) return { status: 'full' };
    const seq = (record.signalSeq ?? 0) + 1;
    const stored: StoredSignal = { signalId: signal.signalId, name: signal.name, payload: signal.payload, sentAt: signal.sentAt, seq };
    if (held === undefined) this.#signals.set(id, { list: [stored], ids: new Set([signal.signalId]) });
    else {
      held.list.push(stored);
      held.ids.add(signal.signalId);
    }
    record.signalSeq = seq;
    const woke = record.status === WorkflowStatus.Running && record.wakeAt !== undefined && record.wakeAt > signal.sentAt;
    if (woke) record.wakeAt = signal.sentAt;
    this.#emit({ kind: 'signal', id, seq });
    if (woke) this.#emit({ kind: 'wake', at: signal.sentAt });
    return { status: 'accepted', seq, woke };
  }

  async signals(id: string, afterSeq: number): Promise<readonly StoredSignal[]> {
    const list = this.#signals.get(id)?.list ?? [];
    return list.filter((s) => s.seq > afterSeq);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    return this.#schedules.get(id);
  }

  async listSchedules(): Promise<readonly ScheduleRecord[]> {
    return [...this.#schedules.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async putSchedule(record: ScheduleRecord, expectedRevision: number | null): Promise<boolean> {
    const current = this.#schedules.get(record.id);
    if (expectedRevision === null ? current !== undefined || this.#schedules.size >= MAX_SCHEDULES : current?.revision !== expectedRevision) return false;
    // Stored as a copy, as a database row would be.
    this.#schedules.set(record.id, structuredClone(record));
    this.#emit({ kind: 'schedules' });
    return true;
  }

  async deleteSchedule(id: string): Promise<boolean> {
    const deleted = this.#schedules.delete(id);
    if (deleted) this.#emit({ kind: 'schedules' });
    return deleted;
  }

  async reopen(id: string, from: WorkflowStatus, change: WorkflowCommit): Promise<boolean> {
    const record = this.#records.get(id);
    if (record === undefined || record.status !== from || this.#unfinished.has(id)) return false;
    const { wakeAt: _wakeAt, seenSignalSeq: _seen, ...fields } = change.workflow ?? {};
    Object.assign(record, fields);
    delete record.owner;
    delete record.leaseExpiresAt;
    delete record.wakeAt;
    for (const step of change.steps ?? []) record.steps[step.name] = step;
    this.#finished.delete(id);
    this.#unfinished.set(id, record);
    this.#parked.delete(id);
    this.#emit({ kind: 'claimable', id });
    return true;
  }

  async nextWakeAt(runnable: readonly RunnableType[]): Promise<number | undefined> {
    if (runnable.length === 0) return undefined;
    const keys = runnableKeys(runnable);
    let earliest: number | undefined;
    for (const id of this.#parked) {
      const record = this.#unfinished.get(id);
      if (record?.wakeAt === undefined || !keys.has(runnableKey(record.type, record.version))) continue;
      if (earliest === undefined || record.wakeAt < earliest) earliest = record.wakeAt;
    }
    return earliest;
  }

  async health(): Promise<ComponentHealth> {
    return { status: HealthStatus.Healthy, data: { kind: 'memory', workflows: this.#records.size, unfinished: this.#unfinished.size } };
  }

  /** Delivers the events of every writer of this store, in process (instances sharing it in tests or embedding). */
  async subscribe(listener: (event: WorkflowEvent) => void): Promise<() => Promise<void>> {
    this.#listeners.add(listener);
    return async () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {}

  #emit(event: WorkflowEvent): void {
    if (this.#listeners.size === 0) return;
    // After the write's own continuation, as a database notification arrives after its commit.
    queueMicrotask(() => {
      for (const listener of this.#listeners) listener(event);
    });
  }

  /** The unfinished record `owner` holds at `epoch`, or undefined. */
  #heldBy(owner: string, id: string, epoch: number): MutableRecord | undefined {
    const record = this.#unfinished.get(id);
    return record !== undefined && record.owner === owner && record.epoch === epoch ? record : undefined;
  }

  #trackParked(record: MutableRecord): void {
    if (record.wakeAt === undefined) this.#parked.delete(record.id);
    else this.#parked.add(record.id);
  }

  #markFinished(id: string): void {
    this.#finished.add(id);
    while (this.#finished.size > this.#maxFinished) {
      const oldest = this.#finished.values().next().value;
      if (oldest === undefined) break;
      this.#finished.delete(oldest);
      const record = this.#records.get(oldest);
      this.#records.delete(oldest);
      this.#signals.delete(oldest);
      if (record?.idempotencyKey !== undefined) this.#byKey.delete(record.idempotencyKey);
    }
  }
}
