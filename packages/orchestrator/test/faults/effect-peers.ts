// Effect peers for the fault campaign: real NodeServices (deadlines, aborts, validation) shared by every
// orchestrator instance, which dedup by idempotency key atomically and record every application in a ledger keyed
// by the business effect (workflow, step, do|undo) — so an engine that sent a second key for the same step would
// show the effect applied twice. An undo leaves a tombstone: a forward call arriving after its undo (a late,
// fenced instance) is refused, as saga participants must. Each instance reaches the peers through its own
// FaultyPeerClient, which injects the network's faults and goes dark when the instance crashes.
import {
  createInProcessClient,
  createSilentLogger,
  defineContract,
  ErrorCode,
  err,
  NodeKind,
  NodeService,
  OnexError,
  sleep,
  type CallContext,
  type CallOptions,
  type ContractDocument,
  type NodeClient,
  type NodeHealth,
  type NodeMetrics,
  type Result,
} from '@onex/core';
import { onAbort } from '@onex/core/internal';
import { z } from 'zod';
import { FaultKind, type FaultSwitch, type FaultTally } from './faults.js';
import type { Prng } from './prng.js';
import type { WorkflowHistory } from './history.js';

/** What a step (op `do`) or its compensation (op `undo`) sends. `refuse`: the peer refuses it, definitely. */
export const EffectInput = z.object({
  workflowId: z.string(),
  step: z.string(),
  op: z.enum(['do', 'undo']),
  amount: z.number(),
  refuse: z.boolean(),
});
export type EffectInput = z.infer<typeof EffectInput>;

export const EffectOutput = z.object({ ref: z.string() });
export type EffectOutput = z.infer<typeof EffectOutput>;

/** The contract every campaign peer serves. */
export const effectContract = defineContract({ name: 'effect', kind: NodeKind.Effect, version: '1.0.0', input: EffectInput, output: EffectOutput });
export type EffectContract = typeof effectContract;

/** What the peers did for one business effect (one step's `do`, or its `undo`, of one workflow). */
export interface EffectEntry {
  /** Times it took effect. More than once is a violation. */
  applied: number;
  /** Times it was refused definitely (planned refusal, or a `do` after its `undo`). */
  refused: number;
  /** Idempotency keys it was called with. */
  readonly keys: Set<string>;
}

type StoredOutcome = { readonly ok: true; readonly ref: string } | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

/** The truth of what happened at the peers, shared by all of them. */
export class EffectLedger {
  readonly #entries = new Map<string, EffectEntry>();
  readonly #undone = new Set<string>();
  /** Keys reused with a different input (the engine must resend the persisted input). */
  readonly mismatches: { readonly key: string; readonly workflowId: string; readonly step: string }[] = [];
  /** Forward calls refused because their undo had come first. */
  lateForward = 0;
  /** Where each application is noted per workflow, when set (the campaign's history). */
  history: WorkflowHistory | undefined;

  static id(workflowId: string, step: string, op: EffectInput['op']): string {
    return `${workflowId}:${step}:${op}`;
  }

  entry(workflowId: string, step: string, op: EffectInput['op']): Readonly<EffectEntry> {
    return this.#entries.get(EffectLedger.id(workflowId, step, op)) ?? { applied: 0, refused: 0, keys: new Set() };
  }

  /** Every entry, by `workflow:step:op`. */
  entries(): ReadonlyMap<string, Readonly<EffectEntry>> {
    return this.#entries;
  }

  /** Applies (or refuses) one call, atomically: the peer's whole effect. */
  apply(input: EffectInput, key: string | undefined, tally: FaultTally): StoredOutcome {
    const id = EffectLedger.id(input.workflowId, input.step, input.op);
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      entry = { applied: 0, refused: 0, keys: new Set() };
      this.#entries.set(id, entry);
    }
    if (key !== undefined) entry.keys.add(key);
    const effect = `${input.workflowId}:${input.step}`;
    this.history?.add(input.workflowId, `peer ${input.step} ${input.op} (key ${key ?? 'none'}): ${input.refuse ? 'refused as planned' : input.op === 'do' && this.#undone.has(effect) ? 'refused, compensated already' : `applied, ${entry.applied + 1}×`}`);
    if (input.refuse) {
      entry.refused += 1;
      tally.add(FaultKind.Refusal);
      return { ok: false, code: ErrorCode.Conflict, message: `${input.step} ${input.op} refused` };
    }
    if (input.op === 'do' && this.#undone.has(effect)) {
      entry.refused += 1;
      this.lateForward += 1;
      return { ok: false, code: ErrorCode.Conflict, message: `${input.step} was already compensated` };
    }
    entry.applied += 1;
    if (input.op === 'undo') this.#undone.add(effect);
    return { ok: true, ref: `${id}#${entry.applied}` };
  }
}

/** One effect peer (inventory, payments, …): a NodeService that dedups by key and applies through the ledger. */
export class EffectPeer extends NodeService<typeof EffectInput, typeof EffectOutput, typeof effectContract.config> {
  readonly label: string;
  readonly #ledger: EffectLedger;
  readonly #random: Prng;
  readonly #tally: FaultTally;
  readonly #done = new Map<string, { readonly print: string; readonly outcome: StoredOutcome }>();

  constructor(label: string, options: { readonly ledger: EffectLedger; readonly random: Prng; readonly tally: FaultTally }) {
    super({ ...effectContract, name: label }, { logger: createSilentLogger(), defaultTimeoutMs: 60_000 });
    this.label = label;
    this.#ledger = options.ledger;
    this.#random = options.random;
    this.#tally = options.tally;
  }

  protected async process(input: EffectInput, ctx: CallContext): Promise<EffectOutput> {
    // Server-side latency; a call aborted meanwhile has done nothing.
    await sleep(this.#random.int(5, 30), ctx.signal);
    const key = ctx.idempotencyKey;
    const print = `${input.workflowId}:${input.step}:${input.op}:${input.amount}:${String(input.refuse)}`;
    let outcome: StoredOutcome;
    const done = key === undefined ? undefined : this.#done.get(key);
    if (key !== undefined && done !== undefined) {
      if (done.print !== print) {
        this.#ledger.mismatches.push({ key, workflowId: input.workflowId, step: input.step });
        throw new OnexError(ErrorCode.Conflict, 'Idempotency key reused with a different input');
      }
      outcome = done.outcome;
    } else {
      outcome = this.#ledger.apply(input, key, this.#tally);
      if (key !== undefined) this.#done.set(key, { print, outcome });
    }
    if (!outcome.ok) throw new OnexError(outcome.code, outcome.message, { retryable: false });
    return { ref: outcome.ref };
  }
}

/** Makes and initializes one peer per label. */
export async function startPeers(
  labels: readonly string[],
  options: { readonly ledger: EffectLedger; readonly random: Prng; readonly tally: FaultTally },
): Promise<Map<string, EffectPeer>> {
  const peers = new Map<string, EffectPeer>();
  for (const [i, label] of labels.entries()) {
    const peer = new EffectPeer(label, { ...options, random: options.random.fork(i) });
    await peer.initialize();
    peers.set(label, peer);
  }
  return peers;
}

/** Longest a call that gets no answer waits before its transport gives up (a socket timeout). */
const TRANSPORT_TIMEOUT_MS = 1_000;

function failure(code: ErrorCode, message: string): Result<EffectOutput> {
  return err(new OnexError(code, message));
}

/** Resolves when the call's signal aborts or its deadline passes (capped by the transport's timeout). */
function noAnswer(options: CallOptions): Promise<Result<EffectOutput>> {
  const now = Date.now();
  const deadline = Math.min(options.deadlineAt ?? Infinity, options.timeoutMs === undefined ? Infinity : now + options.timeoutMs, now + TRANSPORT_TIMEOUT_MS);
  const signal = options.signal;
  return new Promise((resolve) => {
    let stop = (): void => undefined;
    const end = (result: Result<EffectOutput>): void => {
      clearTimeout(timer);
      stop();
      resolve(result);
    };
    const timer = setTimeout(() => end(failure(ErrorCode.Timeout, 'No answer before the deadline')), Math.max(0, deadline - now));
    stop = onAbort(signal, () => end(failure(ErrorCode.Cancelled, 'Call aborted before any answer')));
  });
}

/** One instance's view of one peer: the network's faults, and silence once the instance has crashed. */
export class FaultyPeerClient implements NodeClient<EffectContract> {
  readonly contract: EffectContract = effectContract;
  readonly #inner: NodeClient<EffectContract>;
  readonly #faults: FaultSwitch;
  readonly #random: Prng;
  #crashed = false;

  constructor(peer: EffectPeer, options: { readonly faults: FaultSwitch; readonly random: Prng }) {
    this.#inner = createInProcessClient(peer);
    this.#faults = options.faults;
    this.#random = options.random;
  }

  /** The instance is gone: nothing more is sent, answers in flight are lost. */
  crash(): void {
    this.#crashed = true;
  }

  async call(input: z.input<typeof EffectInput>, options: CallOptions = {}): Promise<Result<EffectOutput>> {
    if (this.#crashed) return failure(ErrorCode.Unavailable, 'Instance crashed');
    const faults = this.#faults;
    if (faults.enabled) {
      const { rates, tally } = faults;
      const r = this.#random.next();
      let edge = rates.peerRefuse;
      if (r < edge) {
        tally.add(FaultKind.PeerRefuse);
        return failure(ErrorCode.Unavailable, 'Injected: peer refused the connection');
      }
      edge += rates.peerHang;
      if (r < edge) {
        tally.add(FaultKind.PeerHang);
        return noAnswer(options);
      }
      edge += rates.peerTimeoutAfterApply;
      if (r < edge) {
        tally.add(FaultKind.PeerTimeoutAfterApply);
        await this.#inner.call(input, options);
        return noAnswer(options);
      }
      edge += rates.peerGarbage;
      if (r < edge) {
        tally.add(FaultKind.PeerGarbage);
        if (this.#random.chance(0.5)) await this.#inner.call(input, options);
        return failure(ErrorCode.Contract, 'Injected: the answer breaks the contract');
      }
    }
    const result = await this.#inner.call(input, options);
    if (this.#crashed) return failure(ErrorCode.Unavailable, 'Instance crashed');
    return result;
  }

  async callOrThrow(input: z.input<typeof EffectInput>, options?: CallOptions): Promise<EffectOutput> {
    const result = await this.call(input, options);
    if (result.ok) return result.value;
    throw result.error;
  }

  health(): Promise<NodeHealth> {
    return this.#inner.health();
  }

  metrics(): Promise<NodeMetrics> {
    return this.#inner.metrics();
  }

  fetchContract(): Promise<ContractDocument> {
    return this.#inner.fetchContract();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
