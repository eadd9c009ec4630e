import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComponentHealth } from '@onex/core';
import type {
  ClaimOptions,
  CreateResult,
  HeldRun,
  RenewResult,
  RunnableType,
  SignalInput,
  SignalSendResult,
  StoredSignal,
  WorkflowCommit,
  WorkflowEvent,
  WorkflowFilter,
  WorkflowRecord,
  WorkflowStore,
  WorkflowSummary,
} from '@onex/orchestrator';

/** One line of an ownership journal: an instance came to hold a workflow at an epoch. */
export interface OwnershipEntry {
  readonly id: string;
  readonly epoch: number;
  readonly owner: string;
  /** Epoch ms. */
  readonly at: number;
  /** `create`: it started the workflow (epoch 1); `claim`: it claimed it (resumed, took it over, or woke it). */
  readonly kind: 'create' | 'claim';
}

/**
 * A {@link WorkflowStore} that notes every workflow its instance creates or claims, with the epoch, in
 * `<dir>/<instance>.jsonl` — appended synchronously before the engine runs the workflow, so the note survives a
 * SIGKILL right after. Epochs are bumped by one at every claim, so the launcher can tell from the journals of all
 * instances who held each epoch of each workflow, and so every takeover (a claim by another instance than the
 * previous holder). The store itself cannot: a claim overwrites the previous owner.
 *
 * @example
 * ```ts
 * const store = new OwnershipJournal(new PostgresWorkflowStore({ connectionString }), { dir: 'data/ownership', instanceId: 'orchestrator-1' });
 * ```
 */
export class OwnershipJournal implements WorkflowStore {
  readonly #inner: WorkflowStore;
  readonly #file: string;
  readonly subscribe?: (listener: (event: WorkflowEvent) => void) => Promise<() => Promise<void>>;

  constructor(inner: WorkflowStore, options: { readonly dir: string; readonly instanceId: string }) {
    this.#inner = inner;
    mkdirSync(options.dir, { recursive: true });
    this.#file = join(options.dir, `${options.instanceId}.jsonl`);
    if (inner.subscribe !== undefined) this.subscribe = (listener) => (inner.subscribe as NonNullable<WorkflowStore['subscribe']>).call(inner, listener);
  }

  #note(kind: OwnershipEntry['kind'], records: readonly WorkflowRecord[]): void {
    if (records.length === 0) return;
    const at = Date.now();
    const lines = records.map((r) => JSON.stringify({ id: r.id, epoch: r.epoch, owner: r.owner ?? '?', at, kind } satisfies OwnershipEntry));
    appendFileSync(this.#file, `${lines.join('\n')}\n`);
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async create(record: WorkflowRecord): Promise<CreateResult> {
    const result = await this.#inner.create(record);
    if (result.created) this.#note('create', [result.record]);
    return result;
  }

  async claim(options: ClaimOptions): Promise<readonly WorkflowRecord[]> {
    const claimed = await this.#inner.claim(options);
    this.#note('claim', claimed);
    return claimed;
  }

  commit(id: string, epoch: number, change: WorkflowCommit): Promise<void> {
    return this.#inner.commit(id, epoch, change);
  }

  get(id: string): Promise<WorkflowRecord | undefined> {
    return this.#inner.get(id);
  }

  list(filter: WorkflowFilter): Promise<readonly WorkflowSummary[]> {
    return this.#inner.list(filter);
  }

  renew(owner: string, held: readonly HeldRun[], leaseExpiresAt: number): Promise<RenewResult> {
    return this.#inner.renew(owner, held, leaseExpiresAt);
  }

  release(owner: string, held: HeldRun): Promise<void> {
    return this.#inner.release(owner, held);
  }

  requestCancel(id: string): Promise<WorkflowRecord | undefined> {
    return this.#inner.requestCancel(id);
  }

  sendSignal(id: string, signal: SignalInput): Promise<SignalSendResult> {
    return this.#inner.sendSignal(id, signal);
  }

  signals(id: string, afterSeq: number): Promise<readonly StoredSignal[]> {
    return this.#inner.signals(id, afterSeq);
  }

  nextWakeAt(runnable: readonly RunnableType[]): Promise<number | undefined> {
    return this.#inner.nextWakeAt(runnable);
  }

  health(): Promise<ComponentHealth> {
    return this.#inner.health();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** Every entry of the journals in `dir` (none when it does not exist); a line torn by a SIGKILL is skipped. */
export function readOwnershipJournals(dir: string): OwnershipEntry[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  } catch {
    return [];
  }
  const entries: OwnershipEntry[] = [];
  for (const file of files) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        entries.push(JSON.parse(line) as OwnershipEntry);
      } catch {
        // The last line of a killed instance may be cut short.
      }
    }
  }
  return entries;
}

/** A workflow that changed hands: `to` claimed epoch `epoch` of it from `from`, the holder of the epoch before. */
export interface Takeover {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly epoch: number;
  /** Epoch ms. */
  readonly at: number;
}

/**
 * The takeovers the journals record: each claim by an instance other than the holder of the epoch before. A claim by
 * the previous holder itself (restarted under its stable id, or waking its parked workflow) is a resume, not a
 * takeover. An epoch whose holder is not journalled (a SIGKILL between the claim and the note) shows as `?`.
 */
export function takeoversOf(entries: readonly OwnershipEntry[]): Takeover[] {
  const holders = new Map<string, Map<number, OwnershipEntry>>();
  for (const entry of entries) {
    let byEpoch = holders.get(entry.id);
    if (byEpoch === undefined) holders.set(entry.id, (byEpoch = new Map<number, OwnershipEntry>()));
    byEpoch.set(entry.epoch, entry);
  }
  const takeovers: Takeover[] = [];
  for (const [id, byEpoch] of holders) {
    for (const entry of byEpoch.values()) {
      if (entry.kind !== 'claim') continue;
      const before = byEpoch.get(entry.epoch - 1)?.owner ?? '?';
      if (before !== entry.owner) takeovers.push({ id, from: before, to: entry.owner, epoch: entry.epoch, at: entry.at });
    }
  }
  return takeovers.sort((a, b) => a.at - b.at);
}
