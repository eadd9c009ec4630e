// A WorkflowStore wrapper per orchestrator instance: injects errors (before the write, or after it — the answer of
// an applied write lost), latency and pauses; `crash()` makes every later call reject so a dropped instance writes
// nothing more. Every wrapper reports to one FencingObserver: the epochs the store granted, the epochs each
// instance obtained, and every commit the underlying store accepted — so a commit accepted from a fenced epoch,
// or with an epoch its instance never obtained, is caught where it happens.
import { ErrorCode, OnexError, sleep, type ComponentHealth } from '@onex/core';
import { isTerminalStatus, type SignalInput, type SignalSendResult, type StoredSignal, type WorkflowCommit, type WorkflowFilter, type WorkflowRecord, type WorkflowSummary } from '../../src/store/workflow-record.js';
import type { ClaimOptions, CreateResult, HeldRun, RenewResult, RunnableType, WorkflowEvent, WorkflowStore } from '../../src/store/workflow-store.js';
import { FaultKind, type FaultSwitch } from './faults.js';
import { stepsLine, WorkflowHistory } from './history.js';
import type { Prng } from './prng.js';

/** A commit the underlying store accepted although it should have refused it. */
export interface FencingViolation {
  readonly workflowId: string;
  /** The wrapper (instance incarnation) that committed. */
  readonly instance: string;
  readonly epoch: number;
  readonly reason: string;
}

/** What the observer knew when a commit was sent: the store cannot have applied a grant it had not made yet. */
export interface CommitSnapshot {
  /** Highest epoch the store had granted (create or claim, answer delivered or lost) for the workflow. */
  readonly highestGranted: number;
  /** A commit that finished the workflow had been accepted. */
  readonly finished: boolean;
}

/** What {@link FencingObserver.accepted} is told about one accepted commit. */
export interface AcceptedCommit {
  readonly instance: string;
  readonly workflowId: string;
  /** The epoch the underlying store accepted the commit with. */
  readonly epoch: number;
  /** Whether this instance obtained that epoch for that workflow (from a delivered create or claim). */
  readonly obtained: boolean;
  readonly snapshot: CommitSnapshot;
  readonly change: WorkflowCommit;
}

/** Shared by every wrapper of one campaign: checks, commit by commit, that the store fenced what it had to. */
export class FencingObserver {
  readonly #granted = new Map<string, number>();
  readonly #finished = new Set<string>();
  readonly violations: FencingViolation[] = [];
  /** What each wrapper did per workflow, for the report of a violation. */
  readonly history = new WorkflowHistory();
  acceptedCommits = 0;
  /** Commits the store refused (stale epoch, finished workflow): the fencing at work. */
  refusedCommits = 0;

  /** The store granted `epoch` for `id` (whether or not the answer reached the instance). */
  granted(id: string, epoch: number): void {
    if (epoch > (this.#granted.get(id) ?? 0)) this.#granted.set(id, epoch);
  }

  /** Taken just before a commit is sent: grants made later may legitimately follow the commit. */
  snapshot(id: string): CommitSnapshot {
    return { highestGranted: this.#granted.get(id) ?? 0, finished: this.#finished.has(id) };
  }

  accepted(commit: AcceptedCommit): void {
    this.acceptedCommits += 1;
    const { workflowId, instance, epoch, snapshot } = commit;
    if (epoch < snapshot.highestGranted) {
      this.violations.push({ workflowId, instance, epoch, reason: `commit accepted at epoch ${epoch} after epoch ${snapshot.highestGranted} had been granted` });
    } else if (!commit.obtained) {
      this.violations.push({ workflowId, instance, epoch, reason: `commit accepted at epoch ${epoch}, which ${instance} never obtained from create or claim` });
    }
    if (snapshot.finished) {
      this.violations.push({ workflowId, instance, epoch, reason: 'commit accepted after the workflow had finished' });
    }
    const status = commit.change.workflow?.status;
    if (status !== undefined && isTerminalStatus(status)) this.#finished.add(workflowId);
  }
}

/**
 * Deliberately reintroduced bugs, to show the campaign catches them. `commitWithStoredEpoch`: a commit ignores the
 * caller's epoch and uses the one freshly read from the store — the old `cancel()` bug (issue 9 #6): a fenced
 * instance's write goes through.
 */
export type StoreMutant = 'commitWithStoredEpoch';

/** Options of {@link FaultStore}. */
export interface FaultStoreOptions {
  /** The shared store; never closed by the wrapper. */
  readonly store: WorkflowStore;
  /** Names this incarnation of the instance in violations. */
  readonly instance: string;
  readonly observer: FencingObserver;
  readonly faults: FaultSwitch;
  readonly random: Prng;
  readonly mutant?: StoreMutant;
}

interface Gate {
  readonly promise: Promise<void>;
  readonly open: () => void;
  timer: NodeJS.Timeout | undefined;
}


/** The store as one orchestrator instance sees it, faults included. */
export class FaultStore implements WorkflowStore {
  readonly instance: string;
  readonly #store: WorkflowStore;
  readonly #observer: FencingObserver;
  readonly #faults: FaultSwitch;
  readonly #random: Prng;
  readonly #mutant: StoreMutant | undefined;
  /** `${id}@${epoch}` this instance obtained from a delivered create or claim. */
  readonly #obtained = new Set<string>();
  #crashed = false;
  #closed = false;
  #gate: Gate | undefined;
  /** The listeners subscribed through this instance, and the end of a gap in their events under way. */
  readonly #listeners = new Set<(event: WorkflowEvent) => void>();
  #gapTimer: NodeJS.Timeout | undefined;

  constructor(options: FaultStoreOptions) {
    this.instance = options.instance;
    this.#store = options.store;
    this.#observer = options.observer;
    this.#faults = options.faults;
    this.#random = options.random;
    this.#mutant = options.mutant;
  }

  /** Drops the instance: every later call (and every call still waiting in a pause or latency) rejects unapplied. */
  crash(): void {
    this.#crashed = true;
    this.#gate?.open();
    clearTimeout(this.#gapTimer);
  }

  get crashed(): boolean {
    return this.#crashed;
  }

  /** Holds every call of this instance for `ms` (extends a pause under way). */
  pause(ms: number): void {
    let gate = this.#gate;
    if (gate === undefined) {
      let resolve: () => void = () => undefined;
      const promise = new Promise<void>((r) => (resolve = r));
      const created: Gate = {
        promise,
        open: () => {
          clearTimeout(created.timer);
          if (this.#gate === created) this.#gate = undefined;
          resolve();
        },
        timer: undefined,
      };
      gate = created;
      this.#gate = created;
    }
    clearTimeout(gate.timer);
    gate.timer = setTimeout(gate.open, ms);
  }

  /** Ends a pause under way, and a gap in the events. */
  resume(): void {
    this.#gate?.open();
    if (this.#gapTimer !== undefined) this.#endGap();
  }

  /**
   * Drops this instance's events for `ms` (extends a gap under way), as a lost LISTEN connection does, then delivers
   * `resync` as the store does once it listens again. False when nobody listens here (a store without events).
   */
  cutEvents(ms: number): boolean {
    if (this.#listeners.size === 0) return false;
    clearTimeout(this.#gapTimer);
    this.#gapTimer = setTimeout(() => this.#endGap(), ms);
    return true;
  }

  #endGap(): void {
    clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    if (this.#crashed || this.#closed) return;
    for (const listener of [...this.#listeners]) listener({ kind: 'resync' });
  }

  async init(): Promise<void> {
    this.#alive();
    await this.#store.init();
  }

  async create(record: WorkflowRecord): Promise<CreateResult> {
    await this.#enter();
    const result = await this.#store.create(record);
    if (result.created) this.#observer.granted(result.record.id, result.record.epoch);
    const line = `${this.instance} create ${record.status} epoch ${record.epoch} ${stepsLine(record.steps)}`;
    this.#note(result.record.id, result.created ? `${line}: created` : `${line} (as ${record.id}): the key's workflow`);
    this.#exit(result.record.id);
    if (result.created) this.#obtained.add(`${result.record.id}@${result.record.epoch}`);
    return result;
  }

  async commit(id: string, epoch: number, change: WorkflowCommit): Promise<void> {
    await this.#enter();
    let used = epoch;
    if (this.#mutant === 'commitWithStoredEpoch') used = (await this.#store.get(id))?.epoch ?? epoch;
    const snapshot = this.#observer.snapshot(id);
    const line = `${this.instance} commit epoch ${used}${change.workflow?.status === undefined ? '' : ` ${change.workflow.status}`} ${stepsLine(change.steps)}`;
    try {
      await this.#store.commit(id, used, change);
    } catch (error) {
      this.#observer.refusedCommits += 1;
      this.#note(id, `${line}: refused (${(error as { code?: string }).code ?? String(error)})`);
      throw error;
    }
    this.#observer.accepted({ instance: this.instance, workflowId: id, epoch: used, obtained: this.#obtained.has(`${id}@${used}`), snapshot, change });
    this.#note(id, `${line}: applied`);
    this.#exit(id);
  }

  async get(id: string): Promise<WorkflowRecord | undefined> {
    await this.#enter();
    const record = await this.#store.get(id);
    this.#exit();
    return record;
  }

  async list(filter: WorkflowFilter): Promise<readonly WorkflowSummary[]> {
    await this.#enter();
    const summaries = await this.#store.list(filter);
    this.#exit();
    return summaries;
  }

  async claim(options: ClaimOptions): Promise<readonly WorkflowRecord[]> {
    await this.#enter();
    const claimed = await this.#store.claim(options);
    for (const record of claimed) {
      this.#observer.granted(record.id, record.epoch);
      this.#note(record.id, `${this.instance} claimed ${record.status} epoch ${record.epoch} ${stepsLine(record.steps)}`);
    }
    this.#exit(...claimed.map((r) => r.id));
    for (const record of claimed) this.#obtained.add(`${record.id}@${record.epoch}`);
    return claimed;
  }

  async renew(owner: string, held: readonly HeldRun[], leaseExpiresAt: number): Promise<RenewResult> {
    await this.#enter();
    const result = await this.#store.renew(owner, held, leaseExpiresAt);
    this.#exit();
    return result;
  }

  async release(owner: string, held: HeldRun): Promise<void> {
    await this.#enter();
    await this.#store.release(owner, held);
    this.#exit();
  }

  async requestCancel(id: string): Promise<WorkflowRecord | undefined> {
    await this.#enter();
    const record = await this.#store.requestCancel(id);
    this.#exit();
    return record;
  }

  async sendSignal(id: string, signal: SignalInput): Promise<SignalSendResult> {
    await this.#enter();
    const result = await this.#store.sendSignal(id, signal);
    this.#exit();
    return result;
  }

  async signals(id: string, afterSeq: number): Promise<readonly StoredSignal[]> {
    await this.#enter();
    const signals = await this.#store.signals(id, afterSeq);
    this.#exit();
    return signals;
  }

  async nextWakeAt(runnable: readonly RunnableType[]): Promise<number | undefined> {
    await this.#enter();
    const at = await this.#store.nextWakeAt(runnable);
    this.#exit();
    return at;
  }

  /** The underlying store's events, while this instance lives (a crashed process hears nothing). */
  async subscribe(listener: (event: WorkflowEvent) => void): Promise<() => Promise<void>> {
    this.#alive();
    if (this.#store.subscribe === undefined) throw new OnexError(ErrorCode.Unavailable, 'The underlying store has no events');
    const stop = await this.#store.subscribe((event) => {
      if (!this.#crashed && !this.#closed && this.#gapTimer === undefined) listener(event);
    });
    this.#listeners.add(listener);
    return async () => {
      this.#listeners.delete(listener);
      await stop();
    };
  }

  async health(): Promise<ComponentHealth> {
    this.#alive();
    return this.#store.health();
  }

  /** Closes this instance's view only: the shared store stays open for the other instances. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#gate?.open();
    clearTimeout(this.#gapTimer);
  }

  #alive(): void {
    if (this.#crashed) throw new OnexError(ErrorCode.Unavailable, `Instance ${this.instance} crashed`);
    if (this.#closed) throw new OnexError(ErrorCode.Lifecycle, `Store of ${this.instance} is closed`);
  }

  /** Before the underlying call: pauses, latency, and errors that leave the store unchanged. */
  async #enter(): Promise<void> {
    this.#alive();
    // A store call is I/O: it yields to the event loop, as a networked store would. Without this, an engine loop
    // over an in-process store that answers at once would starve every timer (the campaign's bounds included).
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#alive();
    while (this.#gate !== undefined) await this.#gate.promise;
    const faults = this.#faults;
    if (faults.enabled && this.#random.chance(faults.rates.storeSlow)) {
      faults.tally.add(FaultKind.StoreSlow);
      const [min, max] = faults.rates.storeSlowMs;
      await sleep(this.#random.int(min, max));
    }
    this.#alive();
    if (faults.enabled && this.#random.chance(faults.rates.storeError)) {
      faults.tally.add(FaultKind.StoreError);
      throw new OnexError(ErrorCode.Unavailable, 'Injected store failure (nothing written)');
    }
  }

  #note(id: string, line: string): void {
    this.#observer.history.add(id, line);
  }

  /** After the underlying call applied: a crash meanwhile, or a lost answer, hides that it did (from `ids`' histories too). */
  #exit(...ids: string[]): void {
    if (this.#crashed) for (const id of ids) this.#note(id, `${this.instance} crashed: that answer was lost`);
    this.#alive();
    const faults = this.#faults;
    if (faults.enabled && this.#random.chance(faults.rates.storeAckLost)) {
      faults.tally.add(FaultKind.StoreAckLost);
      for (const id of ids) this.#note(id, `${this.instance} that answer was lost (injected)`);
      throw new OnexError(ErrorCode.Unavailable, 'Injected store failure (written, answer lost)');
    }
  }
}
