import type { Interceptor, NodeContract, RetryPolicy } from '@onex/core';
import type { z } from 'zod';

/**
 * A reference to a peer node by its registered name, carrying its contract so step inputs and outputs are typed.
 *
 * @example
 * ```ts
 * import { defineContract, NodeKind } from '@onex/core';
 * import { peer } from '@onex/orchestrator';
 * import { z } from 'zod';
 *
 * const pricingContract = defineContract({
 *   name: 'pricing', kind: NodeKind.Compute, version: '1.0.0',
 *   input: z.object({ sku: z.string() }), output: z.object({ cents: z.int() }),
 * });
 * const pricing = peer('pricing', pricingContract);
 * ```
 */
export interface PeerRef<C extends NodeContract = NodeContract> {
  readonly peer: string;
  readonly contract: C;
}

/**
 * Makes a {@link PeerRef}: the name the orchestrator knows the peer by (a key of its `peers` option) and the
 * contract that types the steps calling it.
 *
 * @example
 * ```ts
 * import { defineContract, NodeKind } from '@onex/core';
 * import { peer } from '@onex/orchestrator';
 * import { z } from 'zod';
 *
 * const echo = peer('echo', defineContract({
 *   name: 'echo', kind: NodeKind.Compute, version: '1.0.0', input: z.string(), output: z.string(),
 * }));
 * ```
 */
export function peer<C extends NodeContract>(name: string, contract: C): PeerRef<C> {
  return { peer: name, contract };
}

/** What a step's mappers see: the workflow input and the outputs of the steps it depends on. */
export interface StepInputContext<TInput, TDeps> {
  readonly workflowId: string;
  readonly input: TInput;
  readonly steps: TDeps;
}

/** What a compensation's mapper sees: the step's own context plus the output it produced. */
export interface CompensationContext<TInput, TDeps, TOutput> extends StepInputContext<TInput, TDeps> {
  /**
   * What the step produced; `undefined` when its last attempt got no answer (timeout, cancelled, peer unavailable)
   * and so may or may not have taken effect — the compensation must then be safe either way.
   */
  readonly output: TOutput | undefined;
}

/**
 * What a step interceptor sees of the attempt it wraps. One context per attempt; `attempt` counts every attempt of
 * the step, also those of an earlier run before a crash or a takeover.
 *
 * @example
 * ```ts
 * import type { StepCallContext } from '@onex/orchestrator';
 * const label = (ctx: StepCallContext) => `${ctx.workflowId}/${ctx.step}#${ctx.attempt}`;
 * ```
 */
export interface StepCallContext {
  readonly workflowId: string;
  /** The step's name. */
  readonly step: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The peer the step calls. */
  readonly peer: string;
  /** The key the call carries, `<workflowId>:<step>`: the same for every attempt. */
  readonly idempotencyKey: string;
  readonly correlationId: string;
  /** Aborted when the workflow stops or the run halts. */
  readonly signal: AbortSignal;
  /** When this attempt must be done, epoch ms (the step's timeout or the workflow's deadline, the earlier). */
  readonly deadlineAt?: number;
}

/**
 * An interceptor of a workflow step's calls (core's {@link Interceptor} shape): it wraps every attempt, outside the
 * peer's circuit breaker and inside the step's retries — what it throws is the attempt's failure, retried per the
 * step's policy. The workflow's `defaults.interceptors` come first (outermost), then the step's own. A step's own
 * are typed by its peer's contract; write a reusable one generic, so it fits any step. One that hands the rest of
 * the chain a context of its own builds it from the one it got (`{ ...ctx, … }`).
 *
 * @example
 * ```ts
 * import type { StepInterceptor } from '@onex/orchestrator';
 * function traced<TInput, TOutput>(): StepInterceptor<TInput, TOutput> {
 *   return async (input, ctx, next) => {
 *     console.log(`${ctx.step} attempt ${ctx.attempt}`);
 *     return next(input);
 *   };
 * }
 * const forDefaults: StepInterceptor = traced();
 * ```
 */
export type StepInterceptor<TInput = unknown, TOutput = unknown> = Interceptor<TInput, TOutput, StepCallContext>;

/**
 * A step's call chain as the engine runs it: its interceptors composed once, when the definition was built, around
 * `send` (the call to the peer, breaker included).
 */
export type StepCall = (input: unknown, ctx: StepCallContext, send: (input: unknown) => Promise<unknown>) => Promise<unknown>;

/**
 * Where a step sends its call, or, for a durable sleep, when it wakes: `wakeAt` answers the wake-up time, epoch ms,
 * from the step's context (computed once, when the step starts, and persisted).
 */
export type StepTarget =
  | { readonly kind: 'peer'; readonly peer: string; readonly contract: NodeContract }
  | { readonly kind: 'workflow'; readonly workflow: AnyWorkflowDefinition }
  | { readonly kind: 'sleep'; readonly wakeAt: (ctx: StepInputContext<unknown, Record<string, unknown>>, now: number) => number }
  | SignalTarget;

/**
 * Where a wait-for-signal step waits: the signal's name, the schema its payload must pass (checked when the signal is
 * sent), when the wait times out (computed once, when the step starts, and persisted; undefined: never), and what a
 * timeout does: `fail` fails the step with `TIMEOUT` (the saga runs), `continue` completes it `{ received: false }`.
 */
export interface SignalTarget {
  readonly kind: 'signal';
  readonly signal: string;
  readonly schema: z.ZodType;
  readonly timeoutAt: ((ctx: StepInputContext<unknown, Record<string, unknown>>, now: number) => number) | undefined;
  readonly onTimeout: 'fail' | 'continue';
}

/** A compensation as the engine runs it. */
export interface CompensationDefinition {
  readonly peer: string;
  readonly contract: NodeContract;
  readonly input: (ctx: CompensationContext<unknown, Record<string, unknown>, unknown>) => unknown;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number | undefined;
}

/** A step as the engine runs it: the untyped view of what the builder collected, defaults applied. */
export interface StepDefinition {
  readonly name: string;
  readonly target: StepTarget;
  readonly dependsOn: readonly string[];
  readonly input: (ctx: StepInputContext<unknown, Record<string, unknown>>) => unknown;
  readonly timeoutMs: number | undefined;
  readonly retry: RetryPolicy;
  readonly compensate: CompensationDefinition | undefined;
  readonly when: ((ctx: StepInputContext<unknown, Record<string, unknown>>) => boolean) | undefined;
  readonly continueOnError: boolean;
  /** The interceptors of each attempt's call (peer steps), composed. */
  readonly call: StepCall;
}

/**
 * A complete, validated workflow definition: a pure value, registered with an orchestrator (`defineOrchestrator`)
 * and started by value (`start(definition, input)`, typed) or by its type (`start('type', input)`).
 */
export interface WorkflowDefinition<TInputSchema extends z.ZodType = z.ZodType, TOutputSchema extends z.ZodType = z.ZodType> {
  readonly type: string;
  readonly version: string;
  readonly input: TInputSchema;
  readonly output: TOutputSchema;
  /** Steps in definition order; the engine runs them as a DAG. */
  readonly steps: readonly StepDefinition[];
  /** Builds the workflow's output from its input and the outputs of completed steps. */
  readonly result: (ctx: { readonly workflowId: string; readonly input: unknown; readonly steps: Readonly<Record<string, unknown>> }) => unknown;
  /** Whole-workflow deadline, ms from start, unless the start call sets one. */
  readonly timeoutMs: number | undefined;
}

/** Any workflow definition. */
export type AnyWorkflowDefinition = WorkflowDefinition<z.ZodType, z.ZodType>;
/** The input type a workflow accepts. */
export type WorkflowInputOf<W extends AnyWorkflowDefinition> = z.input<W['input']>;
/** The output type a workflow produces. */
export type WorkflowOutputOf<W extends AnyWorkflowDefinition> = z.output<W['output']>;
