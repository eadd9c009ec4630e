import type { WorkflowRecord } from '../store/workflow-record.js';
import type { HeldRun } from '../store/workflow-store.js';
import type { RunEnd, RunStop, WorkflowRun } from './workflow-run.js';

/** What {@link Admission} needs from its orchestrator. */
export interface AdmissionOptions {
  /** Workflows running at once (children and cancellations bypass it). */
  readonly maxConcurrent: number;
  /** Workflows waiting behind them. */
  readonly maxQueued: number;
  /** Makes the run of a record; undefined when it cannot run here (the maker released it). */
  readonly createRun: (record: WorkflowRecord) => WorkflowRun | undefined;
  /** A run ended, finished or stopped unfinished. */
  readonly onEnd: (record: WorkflowRecord, run: WorkflowRun, end: RunEnd) => void;
  /** A workflow left this instance without running to an end (taken off the queue, not launched). */
  readonly onLeft: (id: string) => void;
}

/** What {@link Admission.adopt} did with a claimed workflow. */
export type Adoption = 'admitted' | 'requeued' | 'relaunch';

/**
 * The workflows this instance holds, and who runs next: up to `maxConcurrent` runs, a queue of `maxQueued` behind
 * them, and the workflows claimed again while their old run here still unwinds (launched once it has).
 */
export class Admission {
  readonly #options: AdmissionOptions;
  readonly #running = new Map<string, WorkflowRun>();
  /** How each running run ends (its promise never rejects). */
  readonly #ends = new Map<string, Promise<void>>();
  readonly #queue: WorkflowRecord[] = [];
  readonly #queued = new Map<string, WorkflowRecord>();
  readonly #relaunch = new Map<string, WorkflowRecord>();
  /** Runs per concurrency key (keys with none running are removed: bounded by the runs). */
  readonly #perKey = new Map<string, number>();
  #accepting = false;
  /** Slots taken by starts whose create is in flight (see {@link reserve}): counted as running. */
  #reserved = 0;

  constructor(options: AdmissionOptions) {
    this.#options = options;
  }

  /** Runs here now. */
  get running(): number {
    return this.#running.size;
  }

  /** Runs here now, and slots reserved for starts whose create is in flight. */
  get #busy(): number {
    return this.#running.size + this.#reserved;
  }

  /** Workflows waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /** True when the queue is at its limit. */
  get queueFull(): boolean {
    return this.#queue.length >= this.#options.maxQueued;
  }

  /** True when a new workflow would find neither a slot nor room in the queue. */
  get overloaded(): boolean {
    return this.#queue.length >= this.#options.maxQueued && this.#busy >= this.#options.maxConcurrent;
  }

  /** Workflows more this instance may take (claims ask for at most this many). */
  get room(): number {
    return this.#options.maxConcurrent + this.#options.maxQueued - this.#busy - this.#queue.length - this.#relaunch.size;
  }

  /** Starts launching; until then (and after {@link close}) queued workflows stay queued. */
  open(): void {
    this.#accepting = true;
  }

  /** The run of `id` here, if any. */
  run(id: string): WorkflowRun | undefined {
    return this.#running.get(id);
  }

  /** True while `id` is running, queued or about to be relaunched here. */
  holds(id: string): boolean {
    return this.#running.has(id) || this.#queued.has(id) || this.#relaunch.has(id);
  }

  /** True while `id` runs here or waits in the queue. */
  runsOrQueued(id: string): boolean {
    return this.#running.has(id) || this.#queued.has(id);
  }

  /** Every workflow held, with the epoch it is held at (what a renewal proves). */
  held(): HeldRun[] {
    const held: HeldRun[] = [];
    for (const run of this.#running.values()) held.push({ id: run.id, epoch: run.epoch });
    for (const record of this.#queue) held.push({ id: record.id, epoch: record.epoch });
    return held;
  }

  /** Runs the workflow now, or queues it behind the limit. */
  admit(record: WorkflowRecord): void {
    // Children bypass the limit: a parent holding a slot while its child waits for one would deadlock. So does a
    // cancelled workflow, which only compensates and ends.
    if (record.parentId !== undefined || record.cancelRequested === true || (this.#busy < this.#options.maxConcurrent && this.#keyHasRoom(record))) {
      this.#launch(record);
    } else this.#enqueue(record);
  }

  /**
   * Reserves a slot for a workflow about to be created and run here at once (no concurrency key): true when
   * {@link admit} would launch it now. The start then creates it and calls {@link launchReserved} with its run, or
   * {@link unreserve} when it was not created.
   */
  reserve(record: WorkflowRecord): boolean {
    if (record.admission?.concurrencyKey !== undefined) return false;
    if (record.parentId === undefined && this.#busy >= this.#options.maxConcurrent) return false;
    this.#reserved += 1;
    return true;
  }

  /** Launches the run of a workflow created on a {@link reserve}d slot. */
  launchReserved(record: WorkflowRecord, run: WorkflowRun): void {
    this.#reserved -= 1;
    this.#launch(record, run);
  }

  /** Gives back a {@link reserve}d slot: the workflow was not created. */
  unreserve(): void {
    this.#reserved -= 1;
    this.#next();
  }

  /** Queues a record by priority (higher first), after those of equal priority. */
  #enqueue(record: WorkflowRecord): void {
    const priority = record.admission?.priority ?? 0;
    let at = this.#queue.length;
    while (at > 0 && (this.#queue[at - 1]!.admission?.priority ?? 0) < priority) at -= 1;
    this.#queue.splice(at, 0, record);
    this.#queued.set(record.id, record);
  }

  #keyHasRoom(record: WorkflowRecord): boolean {
    const key = record.admission?.concurrencyKey;
    if (key === undefined) return true;
    return (this.#perKey.get(key) ?? 0) < (record.admission?.concurrencyLimit ?? 1);
  }

  /**
   * Takes a claimed workflow: admitted; or, already queued, its record replaced (newer epoch); or, its old run here
   * still going on a lost lease, that run halted and the workflow relaunched once it has unwound.
   */
  adopt(record: WorkflowRecord): Adoption {
    const old = this.#running.get(record.id);
    if (old !== undefined) {
      // Our own run's lease expired under it (a stall) and we claimed it again: the old run's epoch is stale.
      old.halt('lease');
      this.#relaunch.set(record.id, record);
      return 'relaunch';
    }
    const queued = this.#queued.get(record.id);
    if (queued !== undefined) {
      this.#queue[this.#queue.indexOf(queued)] = record;
      this.#queued.set(record.id, record);
      return 'requeued';
    }
    this.admit(record);
    return 'admitted';
  }

  /** The workflow is not ours any more: halts its run, or takes it off the queue. Answers where it was. */
  drop(id: string, reason: RunStop): 'running' | 'queued' | undefined {
    const run = this.#running.get(id);
    if (run !== undefined) {
      run.halt(reason);
      return 'running';
    }
    const queued = this.#queued.get(id);
    if (queued === undefined) return undefined;
    this.#queued.delete(id);
    this.#queue.splice(this.#queue.indexOf(queued), 1);
    this.#options.onLeft(id);
    return 'queued';
  }

  /** Halts every run here; answers how many. */
  haltAll(reason: RunStop): number {
    for (const run of this.#running.values()) run.halt(reason);
    return this.#running.size;
  }

  /** Empties the queue (its workflows stay pending in the store). */
  clearQueue(): void {
    for (const record of this.#queue.splice(0)) {
      this.#queued.delete(record.id);
      this.#options.onLeft(record.id);
    }
  }

  /**
   * Acts on a durable cancel request for a workflow held here; false when it is not held here. A queued workflow
   * runs at once, past the concurrency limit: its run only records the cancellation.
   */
  cancel(id: string): boolean {
    const run = this.#running.get(id);
    if (run !== undefined) {
      run.cancel();
      return true;
    }
    const queued = this.#queued.get(id);
    if (queued === undefined) return false;
    this.#queued.delete(id);
    const at = this.#queue.indexOf(queued);
    if (at !== -1) this.#queue.splice(at, 1);
    this.#launch({ ...queued, cancelRequested: true });
    return true;
  }

  /** Stops launching: queued workflows stay pending in the store and start on the next run. */
  close(): void {
    this.#accepting = false;
  }

  /** Resolves once every run here has ended. */
  async settled(): Promise<void> {
    await Promise.all(this.#ends.values());
  }

  #launch(record: WorkflowRecord, made?: WorkflowRun): void {
    const run = made ?? this.#options.createRun(record);
    if (run === undefined) {
      this.#options.onLeft(record.id);
      return;
    }
    this.#running.set(record.id, run);
    const key = record.admission?.concurrencyKey;
    if (key !== undefined) this.#perKey.set(key, (this.#perKey.get(key) ?? 0) + 1);
    this.#ends.set(
      record.id,
      run.run().then(
        (end) => this.#ended(record, run, end),
        // run() never rejects; should it, the workflow stays resumable like any stopped run.
        (error: unknown) => this.#ended(record, run, { kind: 'stopped', reason: 'store', error }),
      ),
    );
  }

  #ended(record: WorkflowRecord, run: WorkflowRun, end: RunEnd): void {
    const id = record.id;
    if (this.#running.get(id) === run) {
      this.#running.delete(id);
      this.#ends.delete(id);
      const key = record.admission?.concurrencyKey;
      if (key !== undefined) {
        const left = (this.#perKey.get(key) ?? 1) - 1;
        if (left > 0) this.#perKey.set(key, left);
        else this.#perKey.delete(key);
      }
    }
    this.#options.onEnd(record, run, end);
    const again = this.#relaunch.get(id);
    if (again !== undefined) {
      this.#relaunch.delete(id);
      if (this.#accepting) this.admit(again);
    }
    this.#next();
  }

  #next(): void {
    if (!this.#accepting) return;
    // In queue order (priority, then start order), skipping workflows whose key is at its limit: other keys go on.
    for (let i = 0; i < this.#queue.length && this.#busy < this.#options.maxConcurrent; ) {
      const record = this.#queue[i]!;
      if (!this.#keyHasRoom(record)) {
        i += 1;
        continue;
      }
      this.#queue.splice(i, 1);
      if (!this.#queued.delete(record.id)) continue;
      this.#launch(record);
    }
  }
}
