import type { NodeContract, RetryPolicyOptions } from '@onex/core';
import type { z } from 'zod';
import type { AnyWorkflowDefinition, CompensationContext, PeerRef, StepInputContext, StepInterceptor, WorkflowInputOf } from './definition.js';

/**
 * What every step and compensation of a workflow gets unless it sets its own: given once in `defineWorkflow`'s
 * `defaults`. A step's own `timeoutMs` or `retry` replaces the default whole (a step's `retry: { maxAttempts: 10 }`
 * is 10 attempts with core's backoff defaults, not merged with `defaults.retry`); so does a compensation's.
 * Interceptors add up: the defaults' wrap the step's own. Nested-workflow steps take none of these (the child
 * workflow has its own).
 *
 * @example
 * ```ts
 * import type { WorkflowDefaults } from '@onex/orchestrator';
 * const defaults: WorkflowDefaults = {
 *   timeoutMs: 2_000,
 *   retry: { maxAttempts: 4, initialDelayMs: 50, maxDelayMs: 500 },
 *   compensation: { retry: { maxAttempts: 30, maxDelayMs: 2_000 }, timeoutMs: 2_000 },
 * };
 * ```
 */
export interface WorkflowDefaults {
  /** Per-attempt timeout of a step's call, ms. Default: none (the workflow's deadline bounds it). */
  readonly timeoutMs?: number;
  /** Retry policy of a step. Default 3 attempts, 50 ms to 2 s backoff. */
  readonly retry?: RetryPolicyOptions;
  /** Interceptors of every step's calls, outermost first; a step's own run inside them. */
  readonly interceptors?: readonly StepInterceptor[];
  /** Defaults of the compensations. */
  readonly compensation?: {
    /** Retry policy of a compensation. Default 5 attempts, 50 ms to 2 s backoff. */
    readonly retry?: RetryPolicyOptions;
    /** Per-attempt timeout of a compensation call, ms. */
    readonly timeoutMs?: number;
  };
}

/**
 * What `defineWorkflow` takes: the workflow's identity, its schemas, its deadline and the defaults of its steps.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { WorkflowHeader } from '@onex/orchestrator';
 * const Input = z.object({ orderId: z.string() });
 * const Output = z.object({ ok: z.boolean() });
 * const header: WorkflowHeader<typeof Input, typeof Output> = {
 *   type: 'ship-order', version: '1.0.0', input: Input, output: Output, timeoutMs: 30_000, defaults: { timeoutMs: 2_000 },
 * };
 * ```
 */
export interface WorkflowHeader<TInputSchema extends z.ZodType, TOutputSchema extends z.ZodType> {
  /** Workflow type, kebab-case. */
  readonly type: string;
  /** Semantic version; type + version is the registry key. */
  readonly version: string;
  readonly input: TInputSchema;
  readonly output: TOutputSchema;
  /** Default whole-workflow deadline, ms. */
  readonly timeoutMs?: number;
  /** What every step and compensation gets unless it sets its own. */
  readonly defaults?: WorkflowDefaults;
}

/** A call that undoes a completed step; `TMapped` is what its mapper returns, checked against the target's input. */
export interface CompensationSpec<TInput, TDeps, TOutput, CC extends NodeContract = NodeContract, TMapped = z.input<CC['input']>> {
  readonly target: PeerRef<CC>;
  readonly input: (ctx: CompensationContext<TInput, TDeps, TOutput>) => TMapped;
  /** Retry policy of the compensation. Default: the workflow's `defaults.compensation.retry`, else 5 attempts. */
  readonly retry?: RetryPolicyOptions;
  /** Per-attempt timeout of the compensation call, ms. Default: the workflow's `defaults.compensation.timeoutMs`. */
  readonly timeoutMs?: number;
}

/**
 * Options of one step targeting a peer node. `TMapped` (and the compensation's `TCompMapped`) are what the mappers
 * return, inferred as `const` and checked against the target's input schema, so literals stay literal
 * (`operation: 'reserve'` needs no `as const`). `TWhen` (what `when` answers; `never` without a `when`) and
 * `TContinue` record whether the step can be absent from the workflow's result.
 */
export interface PeerStepSpec<
  TInput,
  TDeps,
  C extends NodeContract,
  TDepNames extends string,
  TMapped = z.input<C['input']>,
  CC extends NodeContract = NodeContract,
  TCompMapped = z.input<CC['input']>,
  TWhen extends boolean = never,
  TContinue extends boolean = false,
> {
  readonly target: PeerRef<C>;
  readonly dependsOn?: readonly TDepNames[];
  readonly input: (ctx: StepInputContext<TInput, TDeps>) => TMapped;
  /** Per-attempt timeout, ms: the peer call is aborted (and told so through its deadline header). Default: the workflow's `defaults.timeoutMs`. */
  readonly timeoutMs?: number;
  /** Retry policy of the step (core's retry module). Default: the workflow's `defaults.retry`, else 3 attempts. */
  readonly retry?: RetryPolicyOptions;
  /** Interceptors of this step's calls, inside the workflow's `defaults.interceptors`. */
  readonly interceptors?: readonly StepInterceptor<z.input<C['input']>, z.output<C['output']>>[];
  /** Undoes the step when a later step fails for good (saga). */
  readonly compensate?: CompensationSpec<TInput, TDeps, z.output<C['output']>, CC, TCompMapped>;
  /** Runs the step only when this returns true; otherwise it is `skipped` (and so are its dependents). */
  readonly when?: (ctx: StepInputContext<TInput, TDeps>) => TWhen;
  /** A failure of this step does not fail the workflow; its dependents are skipped. */
  readonly continueOnError?: TContinue;
}

/** Options of one step that runs a nested workflow in the same orchestrator. */
export interface WorkflowStepSpec<
  TInput,
  TDeps,
  W extends AnyWorkflowDefinition,
  TDepNames extends string,
  TWhen extends boolean = never,
  TContinue extends boolean = false,
> {
  readonly workflow: W;
  readonly dependsOn?: readonly TDepNames[];
  readonly input: (ctx: StepInputContext<TInput, TDeps>) => WorkflowInputOf<W>;
  /** Deadline of the child workflow, ms from its start (bounded by the parent's deadline). */
  readonly timeoutMs?: number;
  /** Runs the child only when this returns true; otherwise the step is `skipped` (and so are its dependents). */
  readonly when?: (ctx: StepInputContext<TInput, TDeps>) => TWhen;
  /** A failure of the child does not fail the workflow; the step's dependents are skipped. */
  readonly continueOnError?: TContinue;
}

/**
 * When a durable sleep wakes: a fixed value, or one computed from the step's context (the workflow input and the
 * outputs of the steps it depends on) when the step starts. Computed once and persisted: a resumed or taken-over
 * workflow keeps the wake-up time it had.
 */
export type SleepTime<TInput, TDeps, TValue> = TValue | ((ctx: StepInputContext<TInput, TDeps>) => TValue);

/**
 * How long a sleep step sleeps: `ms` from the moment it starts, or `until` a date (a `Date` or epoch ms). A wake-up
 * time already past wakes at once.
 *
 * @example
 * ```ts
 * import type { SleepDuration } from '@onex/orchestrator';
 * const twoDays: SleepDuration<{ deliverBy: string }, object> = { ms: 48 * 3_600_000 };
 * const untilDelivery: SleepDuration<{ deliverBy: string }, object> = { until: ({ input }) => new Date(input.deliverBy) };
 * ```
 */
export type SleepDuration<TInput, TDeps> =
  | { readonly ms: SleepTime<TInput, TDeps, number>; readonly until?: never }
  | { readonly until: SleepTime<TInput, TDeps, Date | number>; readonly ms?: never };

/** Options of a durable sleep step: how long, and, as for every step, its dependencies and an optional `when`. */
export type SleepStepSpec<TInput, TDeps, TDepNames extends string, TWhen extends boolean = never> = SleepDuration<TInput, TDeps> & {
  readonly dependsOn?: readonly TDepNames[];
  /** Sleeps only when this returns true; otherwise the step is `skipped` (and so are its dependents). */
  readonly when?: (ctx: StepInputContext<TInput, TDeps>) => TWhen;
};

/**
 * What a sleep step outputs, as later steps' mappers and `.returns` see it: when it was due to wake and when it
 * did (later after downtime, or when the instance was busy), epoch ms.
 *
 * @example
 * ```ts
 * import type { SleepOutput } from '@onex/orchestrator';
 * const lateBy = (woke: SleepOutput) => woke.wokeAt - woke.dueAt;
 * ```
 */
export interface SleepOutput {
  readonly dueAt: number;
  readonly wokeAt: number;
}

/**
 * Options of a wait-for-signal step (`.waitFor`): the signal it waits for (default: the step's name), the zod schema
 * of its payload, an optional timeout (ms from when the step starts; a function sees the input and the
 * dependencies' outputs) and what a timeout does (`fail`, the default, or `continue`), plus, as for every step, its
 * dependencies and an optional `when`.
 *
 * @example
 * ```ts
 * import type { WaitStepSpec } from '@onex/orchestrator';
 * import { z } from 'zod';
 * const Shipped = z.object({ trackingId: z.string() });
 * const spec: WaitStepSpec<{ orderId: string }, object, never, typeof Shipped, 'continue'> = {
 *   signal: 'shipped', schema: Shipped, timeoutMs: 48 * 3_600_000, onTimeout: 'continue',
 * };
 * ```
 */
export interface WaitStepSpec<TInput, TDeps, TDepNames extends string, TSchema extends z.ZodType, TOnTimeout extends 'fail' | 'continue', TWhen extends boolean = never> {
  /** The signal's name (letters, digits, `_`, `-`, `.`; up to 64). Default: the step's name. */
  readonly signal?: string;
  /** What a signal's payload must be: checked when it is sent (a bad one is refused, nothing stored). */
  readonly schema: TSchema;
  /** How long to wait, ms from when the step starts. Default: no timeout (the workflow's deadline still holds). */
  readonly timeoutMs?: SleepTime<TInput, TDeps, number>;
  /** What a timeout does: `fail` the step with `TIMEOUT` (default; the saga compensates) or `continue`. */
  readonly onTimeout?: TOnTimeout;
  readonly dependsOn?: readonly TDepNames[];
  /** Waits only when this returns true; otherwise the step is `skipped` (and so are its dependents). */
  readonly when?: (ctx: StepInputContext<TInput, TDeps>) => TWhen;
}

/**
 * What a wait step outputs when its signal came: the signal's id, its payload (typed by the wait's schema) and when
 * the wait received it, epoch ms.
 *
 * @example
 * ```ts
 * import type { SignalReceived } from '@onex/orchestrator';
 * const tracking = (shipped: SignalReceived<{ trackingId: string }>) => shipped.payload.trackingId;
 * ```
 */
export interface SignalReceived<TPayload> {
  readonly received: true;
  readonly signalId: string;
  readonly payload: TPayload;
  readonly receivedAt: number;
}

/**
 * What a wait step with `onTimeout: 'continue'` outputs when no signal came in time.
 *
 * @example
 * ```ts
 * import type { SignalTimedOut } from '@onex/orchestrator';
 * const late: SignalTimedOut = { received: false, timedOutAt: Date.now() };
 * ```
 */
export interface SignalTimedOut {
  readonly received: false;
  readonly timedOutAt: number;
}

/**
 * The output of a wait step: {@link SignalReceived}, or with `onTimeout: 'continue'` also {@link SignalTimedOut}, so
 * later steps branch on `received`.
 */
export type WaitOutput<TPayload, TOnTimeout extends 'fail' | 'continue'> = 'continue' extends TOnTimeout ? SignalReceived<TPayload> | SignalTimedOut : SignalReceived<TPayload>;

/**
 * True when a step can be absent from a completed workflow's steps: it has a `when`, or `continueOnError` (unless
 * literally `false`), or it depends on a step that can be absent (a skipped dependency skips its dependents).
 */
export type CanBeAbsent<TWhen extends boolean, TContinue extends boolean, TDeps extends string, TOptional extends string> = [TWhen] extends [never]
  ? true extends TContinue
    ? true
    : [TDeps & TOptional] extends [never]
      ? false
      : true
  : true;

/**
 * The outputs of a completed workflow's steps as `.returns` sees them: a step that can be absent (see
 * {@link CanBeAbsent}) is optional, every other one is there.
 *
 * @example
 * ```ts
 * import type { WorkflowSteps } from '@onex/orchestrator';
 * type Steps = WorkflowSteps<{ price: { cents: number }; gift: { note: string } }, 'gift'>;
 * const steps: Steps = { price: { cents: 100 } }; // `gift` may be absent, `price` may not
 * ```
 */
export type WorkflowSteps<TSteps, TOptional extends string> = {
  readonly [K in keyof TSteps as K extends TOptional ? never : K]: TSteps[K];
} & { readonly [K in keyof TSteps as K extends TOptional ? K : never]?: TSteps[K] } extends infer S
  ? { readonly [K in keyof S]: S[K] }
  : never;
