import { ErrorCode, OnexError } from '@onex/core';
import type { SignalTarget, StepDefinition } from '../workflow/definition.js';
import type { SignalReceived, SignalTimedOut, SleepOutput } from '../workflow/step-spec.js';
import { StepStatus, type StepRecord, type StoredSignal } from '../store/workflow-record.js';

// Durable waits — sleeps and waits for a signal — as a run sees them: a step that is `running` while it waits, its
// wake-up time (a sleep's due time, a wait's timeout) persisted as its input, taking no call slot, and parking the
// workflow in the store when nothing else of it runs.

/**
 * When a workflow that waits only for signals without a timeout is due: never (the largest date). A signal makes it
 * due at once; its deadline, when it has one, is earlier.
 */
export const NEVER = 8_640_000_000_000_000;

/** True for the steps that wait durably instead of calling: sleeps and waits for a signal. */
export function isWait(step: StepDefinition): boolean {
  return step.target.kind === 'sleep' || step.target.kind === 'signal';
}

/** The persisted input of a wait step: when it wakes (a sleep) or times out (a wait for a signal; absent: never). */
interface WaitInput {
  readonly wakeAt?: number;
  readonly signal?: string;
  readonly timeoutAt?: number;
}

/** The persisted wake-up time of a sleeping step (its dispatched input). */
export function sleepDueAt(record: StepRecord): number {
  const wakeAt = (record.input as WaitInput | undefined)?.wakeAt;
  return typeof wakeAt === 'number' ? wakeAt : 0;
}

/** The persisted timeout of a wait for a signal, or undefined when it has none. */
export function waitTimeoutAt(record: StepRecord): number | undefined {
  const timeoutAt = (record.input as WaitInput | undefined)?.timeoutAt;
  return typeof timeoutAt === 'number' ? timeoutAt : undefined;
}

/** The input a wait step persists when it starts. */
export function waitInput(target: SignalTarget, ctx: Parameters<NonNullable<SignalTarget['timeoutAt']>>[0], now: number): WaitInput {
  return target.timeoutAt === undefined ? { signal: target.signal } : { signal: target.signal, timeoutAt: target.timeoutAt(ctx, now) };
}

/** The output of a sleep that woke at `now`. */
export function sleepOutput(record: StepRecord, now: number): SleepOutput {
  return { dueAt: sleepDueAt(record), wokeAt: now };
}

/** The signal ids the workflow's completed waits took: those are never delivered again. */
export function consumedSignalIds(steps: Iterable<StepRecord>, waits: readonly StepDefinition[]): Set<string> {
  const taken = new Set<string>();
  const names = new Set(waits.map((w) => w.name));
  for (const record of steps) {
    if (!names.has(record.name) || record.status !== StepStatus.Completed) continue;
    const output = record.output as Partial<SignalReceived<unknown>> | undefined;
    if (output?.received === true && typeof output.signalId === 'string') taken.add(output.signalId);
  }
  return taken;
}

/**
 * The signals a run has read and no wait took yet, in arrival order: what its waits are matched against. Bounded by
 * the store's limit of signals per workflow.
 */
export class SignalInbox {
  #signals: StoredSignal[] = [];

  /** Adds signals read from the store, skipping the ids already taken (by a completed wait) or already here. */
  add(signals: readonly StoredSignal[], taken: ReadonlySet<string>): void {
    for (const signal of signals) {
      if (taken.has(signal.signalId) || this.#signals.some((s) => s.signalId === signal.signalId)) continue;
      this.#signals.push(signal);
    }
  }

  /**
   * Takes the first signal for `target` sent by `notAfter` (when set) whose payload passes its schema, as the wait's
   * output; undefined if none.
   */
  take(target: SignalTarget, now: number, notAfter: number | undefined, onInvalid: (signal: StoredSignal, error: unknown) => void): SignalReceived<unknown> | undefined {
    for (let i = 0; i < this.#signals.length; i += 1) {
      const signal = this.#signals[i]!;
      if (signal.name !== target.signal || (notAfter !== undefined && signal.sentAt > notAfter)) continue;
      this.#signals.splice(i, 1);
      const parsed = target.schema.safeParse(signal.payload);
      // Checked when sent; a definition whose schema changed since can refuse it: it is dropped, not delivered.
      if (!parsed.success) {
        onInvalid(signal, parsed.error);
        i -= 1;
        continue;
      }
      return { received: true, signalId: signal.signalId, payload: parsed.data, receivedAt: now };
    }
    return undefined;
  }
}

/** The output of a wait that timed out with `onTimeout: 'continue'`. */
export function timedOut(now: number): SignalTimedOut {
  return { received: false, timedOutAt: now };
}

/** The error of a wait that timed out with `onTimeout: 'fail'` (final: a wait is not retried). */
export function waitTimeoutError(step: StepDefinition, target: SignalTarget, timeoutAt: number): OnexError {
  return new OnexError(ErrorCode.Timeout, `Step '${step.name}' got no signal '${target.signal}' before its timeout`, {
    retryable: false,
    context: { step: step.name, signal: target.signal, timeoutAt },
  });
}
