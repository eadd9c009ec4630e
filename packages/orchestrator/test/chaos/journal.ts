// The fencing journal of the process-level tests. Each orchestrator incarnation wraps its workflow store (SQLite or
// PostgreSQL) in a JournalingStore, which appends (synchronously: a SIGKILL loses nothing already written) every epoch the store
// granted it — create and claim — and every commit with its outcome. Times are process.hrtime (CLOCK_MONOTONIC),
// one clock for every process of the machine, so the journals of all incarnations can be ordered against each
// other wherever the order is certain:
// - a grant is journaled after its claim committed, so a commit *sent* after that line was read by the database
//   after the grant (a PostgreSQL statement's snapshot, or a row lock it waited for, is taken after it) and must be
//   refused when it carries an older epoch;
// - an incarnation can only hold epochs it was granted, journaled before its engine saw them.
// Overlapping intervals prove nothing and are not judged: the checks never depend on how fast anything ran.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { ComponentHealth } from '@onex/core';
import { z } from 'zod';
import { isTerminalStatus, type SignalInput, type SignalSendResult, type StoredSignal, type WorkflowCommit, type WorkflowFilter, type WorkflowRecord, type WorkflowSummary } from '../../src/store/workflow-record.js';
import type { ClaimOptions, CreateResult, HeldRun, RenewResult, RunnableType, WorkflowEvent, WorkflowStore } from '../../src/store/workflow-store.js';
import type { FencingViolation } from '../faults/fault-store.js';

/**
 * One journal line: an epoch granted, a commit accepted, a commit refused. `t`, `t0` (before the call), `t1` (after
 * it): hrtime nanoseconds, as decimal strings.
 */
export const JournalLine = z.discriminatedUnion('k', [
  z.object({ k: z.literal('grant'), id: z.string(), epoch: z.number().int(), via: z.enum(['create', 'claim']), t: z.string() }),
  z.object({ k: z.literal('commit'), id: z.string(), epoch: z.number().int(), t0: z.string(), t1: z.string(), finishes: z.boolean() }),
  z.object({
    k: z.literal('refused'),
    id: z.string(),
    epoch: z.number().int(),
    t0: z.string(),
    t1: z.string(),
    code: z.string(),
    /** What the refusal's context says: a newer epoch holds the workflow, or it is finished. */
    why: z.enum(['epoch', 'finished', 'other']),
  }),
]);
export type JournalLine = z.infer<typeof JournalLine>;

function now(): string {
  return process.hrtime.bigint().toString();
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** The store's CONFLICT says why in its context: `{ epoch, stored }` (fenced) or `{ status }` (finished). */
function whyRefused(error: unknown): 'epoch' | 'finished' | 'other' {
  const context = (error as { context?: unknown } | null)?.context;
  if (typeof context !== 'object' || context === null) return 'other';
  if ('stored' in context) return 'epoch';
  return 'status' in context ? 'finished' : 'other';
}

/**
 * A bug reintroduced on purpose, to show the checks catch it (`CHAOS_MUTANT=commitWithStoredEpoch`): a commit
 * ignores the caller's epoch and uses the one freshly read from the store, so a fenced incarnation's write goes
 * through (the old `cancel()` bug, issue 9 #6). The journal still records the epoch the caller held.
 */
export const StoreMutant = z.enum(['commitWithStoredEpoch']);
export type StoreMutant = z.infer<typeof StoreMutant>;

/** The store as one orchestrator incarnation uses it, journaling grants and commits. */
export class JournalingStore implements WorkflowStore {
  readonly #store: WorkflowStore;
  readonly #fd: number;
  readonly #mutant: StoreMutant | undefined;
  /** The store's events (PostgreSQL LISTEN/NOTIFY), passed through when it has them: they wake waiters and claims. */
  readonly subscribe?: (listener: (event: WorkflowEvent) => void) => Promise<() => Promise<void>>;

  constructor(store: WorkflowStore, journalPath: string, mutant?: StoreMutant) {
    this.#store = store;
    this.#fd = openSync(journalPath, 'a');
    this.#mutant = mutant;
    if (store.subscribe !== undefined) this.subscribe = (listener) => store.subscribe!(listener);
  }

  #write(line: JournalLine): void {
    writeSync(this.#fd, `${JSON.stringify(line)}\n`);
  }

  init(): Promise<void> {
    return this.#store.init();
  }

  async create(record: WorkflowRecord): Promise<CreateResult> {
    const result = await this.#store.create(record);
    if (result.created) this.#write({ k: 'grant', id: result.record.id, epoch: result.record.epoch, via: 'create', t: now() });
    return result;
  }

  async commit(id: string, epoch: number, change: WorkflowCommit): Promise<void> {
    const t0 = now();
    try {
      const used = this.#mutant === 'commitWithStoredEpoch' ? ((await this.#store.get(id))?.epoch ?? epoch) : epoch;
      await this.#store.commit(id, used, change);
    } catch (error) {
      this.#write({ k: 'refused', id, epoch, t0, t1: now(), code: codeOf(error), why: whyRefused(error) });
      throw error;
    }
    const status = change.workflow?.status;
    this.#write({ k: 'commit', id, epoch, t0, t1: now(), finishes: status !== undefined && isTerminalStatus(status) });
  }

  get(id: string): Promise<WorkflowRecord | undefined> {
    return this.#store.get(id);
  }

  list(filter: WorkflowFilter): Promise<readonly WorkflowSummary[]> {
    return this.#store.list(filter);
  }

  async claim(options: ClaimOptions): Promise<readonly WorkflowRecord[]> {
    const claimed = await this.#store.claim(options);
    const t = now();
    for (const record of claimed) this.#write({ k: 'grant', id: record.id, epoch: record.epoch, via: 'claim', t });
    return claimed;
  }

  renew(owner: string, held: readonly HeldRun[], leaseExpiresAt: number): Promise<RenewResult> {
    return this.#store.renew(owner, held, leaseExpiresAt);
  }

  release(owner: string, held: HeldRun): Promise<void> {
    return this.#store.release(owner, held);
  }

  requestCancel(id: string): Promise<WorkflowRecord | undefined> {
    return this.#store.requestCancel(id);
  }

  sendSignal(id: string, signal: SignalInput): Promise<SignalSendResult> {
    return this.#store.sendSignal(id, signal);
  }

  signals(id: string, afterSeq: number): Promise<readonly StoredSignal[]> {
    return this.#store.signals(id, afterSeq);
  }

  nextWakeAt(runnable: readonly RunnableType[]): Promise<number | undefined> {
    return this.#store.nextWakeAt(runnable);
  }

  health(): Promise<ComponentHealth> {
    return this.#store.health();
  }

  async close(): Promise<void> {
    await this.#store.close();
    closeSync(this.#fd);
  }
}

/** One incarnation's journal, as read back. */
export interface Journal {
  /** The incarnation (e.g. `a#3`). */
  readonly instance: string;
  readonly lines: readonly JournalLine[];
}

/** Reads a journal; only a last line cut by a SIGKILL mid-write is dropped. */
export function readJournal(instance: string, path: string): Journal {
  const texts = readFileSync(path, 'utf8').split('\n');
  const lines: JournalLine[] = [];
  for (const [i, text] of texts.entries()) {
    if (text === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      if (i === texts.length - 1) continue;
      throw new Error(`${path}:${i + 1} is not JSON`, { cause: error });
    }
    lines.push(JournalLine.parse(parsed));
  }
  return { instance, lines };
}

/** What the journals show overall. */
export interface FencingReport {
  readonly violations: FencingViolation[];
  readonly acceptedCommits: number;
  /** Commits the store refused with CONFLICT because a newer epoch holds the workflow (the epoch fence). */
  readonly fencedByEpoch: number;
  /** Commits the store refused with CONFLICT because the workflow is finished. */
  readonly refusedFinished: number;
  readonly grants: number;
}

interface Grant {
  readonly instance: string;
  readonly epoch: number;
  readonly t: bigint;
}

/**
 * Every accepted commit must carry an epoch its incarnation was granted before it sent the commit; no epoch above
 * it may have been granted (to anyone) before it was sent; the workflow must not have been finished by a commit
 * accepted before it was sent.
 */
export function checkFencing(journals: readonly Journal[]): FencingReport {
  const grants = new Map<string, Grant[]>();
  const finishedAt = new Map<string, bigint>();
  let grantCount = 0;
  let acceptedCommits = 0;
  let fencedByEpoch = 0;
  let refusedFinished = 0;
  for (const { instance, lines } of journals) {
    for (const line of lines) {
      if (line.k === 'grant') {
        grantCount += 1;
        let list = grants.get(line.id);
        if (list === undefined) grants.set(line.id, (list = []));
        list.push({ instance, epoch: line.epoch, t: BigInt(line.t) });
      } else if (line.k === 'commit' && line.finishes) {
        const t1 = BigInt(line.t1);
        const known = finishedAt.get(line.id);
        if (known === undefined || t1 < known) finishedAt.set(line.id, t1);
      }
    }
  }
  const violations: FencingViolation[] = [];
  for (const { instance, lines } of journals) {
    for (const line of lines) {
      if (line.k === 'grant') continue;
      if (line.k === 'refused') {
        if (line.code === 'CONFLICT' && line.why === 'epoch') fencedByEpoch += 1;
        if (line.code === 'CONFLICT' && line.why === 'finished') refusedFinished += 1;
        continue;
      }
      acceptedCommits += 1;
      const t0 = BigInt(line.t0);
      const granted = grants.get(line.id) ?? [];
      const add = (reason: string): void => {
        violations.push({ workflowId: line.id, instance, epoch: line.epoch, reason });
      };
      if (!granted.some((g) => g.instance === instance && g.epoch === line.epoch && g.t <= t0)) {
        add(`commit accepted at epoch ${line.epoch}, which ${instance} had not been granted when it sent it`);
      }
      const newer = granted.find((g) => g.epoch > line.epoch && g.t < t0);
      if (newer !== undefined) add(`commit accepted at epoch ${line.epoch} although epoch ${newer.epoch} had been granted to ${newer.instance} before it was sent`);
      const finished = finishedAt.get(line.id);
      if (finished !== undefined && finished < t0) add('commit accepted after a commit that finished the workflow');
    }
  }
  return { violations, acceptedCommits, fencedByEpoch, refusedFinished, grants: grantCount };
}
