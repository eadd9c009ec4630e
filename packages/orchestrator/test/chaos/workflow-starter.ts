// Starts the workflows of a process-level run through the orchestrators' HTTP API (`POST /v1/workflows`), spread
// over time and over the slots. Each start carries the idempotency key `order-<n>`, so a start whose orchestrator died before it
// answered is simply sent again, to whichever slot is up: the store answers the existing workflow's id.
import { sleep } from '@onex/core';
import { z } from 'zod';
import type { Prng } from '../faults/prng.js';
import type { ChaosCluster, Slot } from './cluster.js';
import { SAGAS, type SagaName } from './saga.js';

const StartAnswer = z.object({ id: z.string().min(1) });
/** A start that gets no answer in this long is sent again (its orchestrator may be stopped). */
const START_TIMEOUT_MS = 5_000;
const RETRY_DELAY_MS = 100;

export function idempotencyKeyOf(n: number): string {
  return `order-${n}`;
}

export class WorkflowStarter {
  /** Workflow id by number, once a start was answered. */
  readonly ids = new Map<number, string>();
  /** Starts sent again after no answer or a failure (the orchestrator died or was stopped meanwhile). */
  resent = 0;
  /** A start refused for a reason a retry cannot fix: a harness bug, reported by the test. */
  fatal: Error | undefined;
  readonly #cluster: ChaosCluster;
  readonly #random: Prng;
  readonly #total: number;
  readonly #saga: SagaName;
  /** Aborted when the test ends: no more starts are sent. */
  readonly #signal: AbortSignal;
  #taken = 0;

  constructor(options: {
    readonly cluster: ChaosCluster;
    readonly total: number;
    readonly random: Prng;
    readonly signal: AbortSignal;
    /** Default `order`. */
    readonly saga?: SagaName;
  }) {
    this.#cluster = options.cluster;
    this.#total = options.total;
    this.#random = options.random;
    this.#signal = options.signal;
    this.#saga = options.saga ?? 'order';
  }

  /** The next `count` workflow numbers nobody took yet (fewer at the end). */
  take(count: number): number[] {
    const taken: number[] = [];
    while (taken.length < count && this.#taken < this.#total) taken.push(this.#taken++);
    return taken;
  }

  /** Numbers whose start never got an answer. */
  unstarted(): number[] {
    return Array.from({ length: this.#total }, (_, n) => n).filter((n) => !this.ids.has(n));
  }

  /**
   * Starts the workflows not taken yet, one every `spreadMs / total`, to the slots in turn; resolves when every
   * start got an answer or `deadline` (epoch ms) passed. Never rejects: a fatal refusal is kept in `fatal`.
   */
  async run(spreadMs: number, deadline: number): Promise<void> {
    const gap = spreadMs / this.#total;
    const begin = Date.now();
    const starts: Promise<void>[] = [];
    const { slots } = this.#cluster;
    for (let i = 0; ; i += 1) {
      const [n] = this.take(1);
      if (n === undefined || this.#signal.aborted) break;
      starts.push(this.start(n, slots[n % slots.length]!, deadline));
      const wait = begin + (i + 1) * gap - Date.now();
      if (wait > 0) await sleep(wait);
    }
    await Promise.all(starts);
  }

  /** Starts workflow `n` on `prefer` when it is up, else on any slot up; again and again until answered or `deadline`. */
  async start(n: number, prefer: Slot, deadline: number): Promise<void> {
    const saga = SAGAS[this.#saga];
    const body = JSON.stringify({ type: saga.type, input: saga.input(n), idempotencyKey: idempotencyKeyOf(n) });
    for (let attempt = 0; Date.now() < deadline && this.fatal === undefined && !this.#signal.aborted; attempt += 1) {
      const up = this.#cluster.upSlots();
      const slot = up.includes(prefer) && attempt === 0 ? prefer : up.length === 0 ? undefined : this.#random.pick(up);
      const url = slot === undefined ? undefined : this.#cluster.up(slot)?.url;
      if (url === undefined) {
        await sleep(RETRY_DELAY_MS);
        continue;
      }
      try {
        const response = await fetch(`${url}/v1/workflows`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(START_TIMEOUT_MS),
        });
        const text = await response.text();
        if (response.status === 202) {
          this.ids.set(n, StartAnswer.parse(JSON.parse(text)).id);
          return;
        }
        // A 5xx (shutting down, overloaded, the store busy) is worth another try; a 4xx is the harness's fault.
        if (response.status < 500) {
          this.fatal = new Error(`start of workflow ${n} refused with HTTP ${response.status}: ${text}`);
          return;
        }
      } catch {
        // No answer: the orchestrator died, or is stopped. The key makes sending it again safe.
      }
      this.resent += 1;
      await sleep(RETRY_DELAY_MS);
    }
  }
}
