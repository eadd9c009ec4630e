import {
  abortReasonToOnexError,
  createSilentLogger,
  ErrorCode,
  NodeService,
  OnexError,
  sleep,
  type CallContext,
  type CallerIdentity,
  type NodeContract,
  type NodeServiceOptions,
  type Schema,
} from '@onex/core';
import { onAbort } from '@onex/core/internal';
import type { z } from 'zod';

/**
 * How a call to a {@link ScriptedPeer} ended, as far as the peer saw it.
 *
 * @example
 * ```ts
 * const aborted = payments.calls.filter((call) => call.outcome === ScriptedOutcome.Aborted).length;
 * ```
 */
export const ScriptedOutcome = {
  /** Still running (a `hang`, a `delay`). */
  Pending: 'pending',
  /** Answered with a value. */
  Ok: 'ok',
  /** Answered with an error (a scripted `fail`, or an output that broke the contract). */
  Failed: 'failed',
  /** Given up by the caller: its deadline passed or it cancelled. */
  Aborted: 'aborted',
} as const;
/** One of the {@link ScriptedOutcome} values. */
export type ScriptedOutcome = (typeof ScriptedOutcome)[keyof typeof ScriptedOutcome];

/**
 * One call a {@link ScriptedPeer} received, in arrival order.
 *
 * @example
 * ```ts
 * const [first] = payments.calls;
 * console.log(first?.idempotencyKey, first?.outcome); // 'wf-1:charge' 'failed'
 * ```
 */
export interface ScriptedCall<TInput> {
  /** 1 for the first call the peer received. */
  readonly n: number;
  /** The validated input. */
  readonly input: TInput;
  readonly correlationId: string;
  readonly idempotencyKey: string | undefined;
  readonly caller: CallerIdentity | undefined;
  /** The call's deadline, epoch ms. */
  readonly deadlineAt: number | undefined;
  /** When it arrived, by the peer's clock (epoch ms). */
  readonly at: number;
  /** How it ended: updated when it does. */
  readonly outcome: ScriptedOutcome;
}

/**
 * Options of a {@link ScriptedPeer}: the node options of any `NodeService`, with a silent logger by default.
 *
 * @example
 * ```ts
 * const options: ScriptedPeerOptions<typeof paymentsContract.config> = { defaultTimeoutMs: 5_000 };
 * ```
 */
export type ScriptedPeerOptions<TConfig extends Schema> = NodeServiceOptions<TConfig>;

/** What a {@link ScriptedPeer} answers one call with. */
type ScriptedAnswer<TInput, TOutput> =
  | { readonly kind: 'ok'; readonly value: TOutput }
  | { readonly kind: 'fail'; readonly code: ErrorCode; readonly options: ScriptedFailure }
  | { readonly kind: 'hang' }
  | { readonly kind: 'delay'; readonly ms: number; readonly value: TOutput }
  | { readonly kind: 'respond'; readonly respond: (input: TInput, ctx: CallContext) => TOutput | Promise<TOutput> };

/**
 * How a scripted failure looks: its message and retry hints (by default those of its code).
 *
 * @example
 * ```ts
 * peer.fail(ErrorCode.RateLimited, { retryAfterMs: 1_000 });
 * ```
 */
export interface ScriptedFailure {
  /** Default: `<peer> scripted <code> (call <n>)`. */
  readonly message?: string;
  /** Overrides the code's default retryability. */
  readonly retryable?: boolean;
  readonly retryAfterMs?: number;
}

type MutableCall<TInput> = { -readonly [K in keyof ScriptedCall<TInput>]: ScriptedCall<TInput>[K] };

/**
 * A real node of any contract whose answers follow a script — to stand in for a peer in a test: `ok(value)`,
 * `fail(code)`, `hang()` (until the caller's deadline or cancellation), `delay(ms, value)`, `timesThenOk(n, value)`,
 * `respond(fn)`. Each call takes the next answer; once the script is used up the last answer repeats, and an
 * answer added later is the next one given (so a test can make a peer fail on cue). It records every call it got
 * ({@link ScriptedPeer.calls}): input, idempotency key, correlation id, caller, deadline, and how it ended.
 *
 * It is a `NodeService`: the calls are validated against the contract (input and output), have deadlines, and can
 * be served over HTTP (`startNode(peer, { serve: true })`) or called in-process, and waits follow a fake clock.
 *
 * @example
 * ```ts
 * import { ErrorCode } from '@onex/core';
 * import { ScriptedPeer, startNode } from '@onex/testing';
 *
 * const payments = new ScriptedPeer(paymentsContract).timesThenOk(2, { result: { chargeId: 'ch-1' } });
 * await using started = await startNode(payments);
 * (await started.client.call({ operation: 'charge', input: { cents: 500 } })).ok; // false: UNAVAILABLE
 * payments.calls.length; // 1
 * ```
 */
export class ScriptedPeer<TInput extends Schema, TOutput extends Schema, TConfig extends Schema> extends NodeService<TInput, TOutput, TConfig> {
  readonly #script: ScriptedAnswer<z.output<TInput>, z.input<TOutput>>[] = [];
  #last: ScriptedAnswer<z.output<TInput>, z.input<TOutput>> | undefined;
  readonly #calls: MutableCall<z.output<TInput>>[] = [];

  constructor(contract: NodeContract<TInput, TOutput, TConfig>, options: ScriptedPeerOptions<TConfig> = {}) {
    super(contract, { logger: createSilentLogger(), ...options });
  }

  /** Every call received, in arrival order. */
  get calls(): readonly ScriptedCall<z.output<TInput>>[] {
    return this.#calls;
  }

  /** Answers not given yet (the last one given repeats once they are used up). */
  get remaining(): number {
    return this.#script.length;
  }

  /** Adds an answer: `value`, validated against the contract's output schema. */
  ok(value: z.input<TOutput>): this {
    return this.#add({ kind: 'ok', value });
  }

  /** Adds an answer: an `OnexError` of `code` (retryable as the code is, unless `options.retryable` says otherwise). */
  fail(code: ErrorCode, options: ScriptedFailure = {}): this {
    return this.#add({ kind: 'fail', code, options });
  }

  /** Adds an answer: none at all, until the call is aborted (its deadline, or the caller cancelling). */
  hang(): this {
    return this.#add({ kind: 'hang' });
  }

  /** Adds an answer: `value`, after `ms` (on the node's timers, so a fake clock decides when). Aborted calls stop waiting. */
  delay(ms: number, value: z.input<TOutput>): this {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new OnexError(ErrorCode.Validation, `delay(ms) needs a finite ms >= 0 (got ${ms})`);
    return this.#add({ kind: 'delay', ms, value });
  }

  /** Adds `n` failures with `code` (default `UNAVAILABLE`, retryable), then `value`. */
  timesThenOk(n: number, value: z.input<TOutput>, code: ErrorCode = ErrorCode.Unavailable): this {
    if (!(Number.isInteger(n) && n >= 0)) throw new OnexError(ErrorCode.Validation, `timesThenOk(n) needs an integer n >= 0 (got ${n})`);
    for (let i = 0; i < n; i++) this.fail(code);
    return this.ok(value);
  }

  /** Adds an answer computed from the call: what `respond` returns, or the error it throws. */
  respond(respond: (input: z.output<TInput>, ctx: CallContext) => z.input<TOutput> | Promise<z.input<TOutput>>): this {
    return this.#add({ kind: 'respond', respond });
  }

  /** Forgets the script and the calls received. */
  reset(): this {
    this.#script.length = 0;
    this.#last = undefined;
    this.#calls.length = 0;
    return this;
  }

  protected async process(input: z.output<TInput>, ctx: CallContext): Promise<z.input<TOutput>> {
    const call: MutableCall<z.output<TInput>> = {
      n: this.#calls.length + 1,
      input,
      correlationId: ctx.correlationId,
      idempotencyKey: ctx.idempotencyKey,
      caller: ctx.caller,
      deadlineAt: ctx.deadlineAt,
      at: this.clock.now(),
      outcome: ScriptedOutcome.Pending,
    };
    this.#calls.push(call);
    const answer = this.#script.shift() ?? this.#last;
    this.#last = answer;
    try {
      const value = await this.#answer(answer, call.n, input, ctx);
      call.outcome = ScriptedOutcome.Ok;
      return value;
    } catch (error) {
      call.outcome = ctx.signal.aborted ? ScriptedOutcome.Aborted : ScriptedOutcome.Failed;
      throw error;
    }
  }

  async #answer(
    answer: ScriptedAnswer<z.output<TInput>, z.input<TOutput>> | undefined,
    n: number,
    input: z.output<TInput>,
    ctx: CallContext,
  ): Promise<z.input<TOutput>> {
    if (answer === undefined) throw new OnexError(ErrorCode.Internal, `Scripted peer '${this.name}' has no answer scripted`);
    switch (answer.kind) {
      case 'ok':
        return answer.value;
      case 'fail':
        throw new OnexError(answer.code, answer.options.message ?? `${this.name} scripted ${answer.code} (call ${n})`, {
          correlationId: ctx.correlationId,
          ...(answer.options.retryable === undefined ? {} : { retryable: answer.options.retryable }),
          ...(answer.options.retryAfterMs === undefined ? {} : { retryAfterMs: answer.options.retryAfterMs }),
        });
      case 'hang':
        return new Promise<never>((_, reject) => {
          onAbort(ctx.signal, () => reject(abortReasonToOnexError(ctx.signal, ctx.correlationId)));
        });
      case 'delay':
        await sleep(answer.ms, ctx.signal);
        return answer.value;
      case 'respond':
        return answer.respond(input, ctx);
    }
  }

  #add(answer: ScriptedAnswer<z.output<TInput>, z.input<TOutput>>): this {
    this.#script.push(answer);
    return this;
  }
}
