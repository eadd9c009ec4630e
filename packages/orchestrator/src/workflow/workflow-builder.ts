import { composeInterceptors, ErrorCode, OnexError, RetryPolicy, type NodeContract, type RetryPolicyOptions } from '@onex/core';
import type { z } from 'zod';
import type {
  AnyWorkflowDefinition,
  CompensationDefinition,
  StepCall,
  StepCallContext,
  StepDefinition,
  StepInputContext,
  StepInterceptor,
  WorkflowDefinition,
  WorkflowOutputOf,
} from './definition.js';
import type {
  CanBeAbsent,
  PeerStepSpec,
  SleepOutput,
  SleepStepSpec,
  SleepTime,
  WaitOutput,
  WaitStepSpec,
  WorkflowHeader,
  WorkflowStepSpec,
  WorkflowSteps,
} from './step-spec.js';
import { definitionError, validateWorkflowDefinition } from './validate-definition.js';

const DEFAULT_STEP_RETRY: RetryPolicyOptions = { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 2_000 };
const DEFAULT_COMPENSATION_RETRY: RetryPolicyOptions = { maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 2_000 };
// The child workflow retries its own steps; the step itself runs once.
const CHILD_STEP_RETRY = new RetryPolicy({ maxAttempts: 1 });

/** No step yet (a mapped type over no key: the empty object type without `{}`). */
type NoSteps = { readonly [K in never]: never };

/**
 * The call the terminal of a step's chain makes, carried by the attempt's context past the interceptors (a symbol
 * key: an interceptor that hands on `{ ...ctx, … }` keeps it).
 */
const SEND = Symbol('send');
type SendingContext = StepCallContext & { readonly [SEND]: (input: unknown) => Promise<unknown> };

const sendDirectly: StepCall = (input, _ctx, send) => send(input);

function sendOf(ctx: StepCallContext): (input: unknown) => Promise<unknown> {
  const send = (ctx as Partial<SendingContext>)[SEND];
  if (send === undefined) {
    throw new OnexError(ErrorCode.Internal, `A step interceptor of '${ctx.step}' handed on a context of its own: pass on { ...ctx, … }`, { context: { step: ctx.step } });
  }
  return send;
}

/** Composes a step's interceptors once: each attempt then runs the chain around its own `send`. */
function stepCall(interceptors: readonly StepInterceptor[]): StepCall {
  if (interceptors.length === 0) return sendDirectly;
  const chain = composeInterceptors<unknown, unknown, StepCallContext>(interceptors, (input, ctx) => sendOf(ctx)(input));
  return (input, ctx, send) => {
    const sending: SendingContext = { ...ctx, [SEND]: send };
    return chain(input, sending);
  };
}

/**
 * Builds a workflow step by step. Each `step` adds a named step whose `input` mapper sees, typed, the workflow
 * input and the outputs of the steps it `dependsOn`; `returns` closes the definition. `TSteps` holds every step's
 * output, `TOptional` the names of the steps that can be absent from a completed workflow.
 *
 * @example
 * ```ts
 * import { defineContract, NodeKind } from '@onex/core';
 * import { defineWorkflow, peer } from '@onex/orchestrator';
 * import { z } from 'zod';
 *
 * const double = peer('double', defineContract({
 *   name: 'double', kind: NodeKind.Compute, version: '1.0.0', input: z.number(), output: z.number(),
 * }));
 * const builder = defineWorkflow({ type: 'twice', version: '1.0.0', input: z.number(), output: z.number() })
 *   .step('once', { target: double, input: ({ input }) => input })
 *   .step('again', { target: double, dependsOn: ['once'], input: ({ steps }) => steps.once });
 * const twice = builder.returns(({ steps }) => steps.again);
 * ```
 */
export class WorkflowBuilder<
  TInputSchema extends z.ZodType,
  TOutputSchema extends z.ZodType,
  TSteps extends Record<string, unknown>,
  TOptional extends string = never,
> {
  readonly #header: WorkflowHeader<TInputSchema, TOutputSchema>;
  readonly #steps: readonly StepDefinition[];

  /** @internal use {@link defineWorkflow}. */
  constructor(header: WorkflowHeader<TInputSchema, TOutputSchema>, steps: readonly StepDefinition[]) {
    this.#header = header;
    this.#steps = steps;
  }

  /**
   * Adds a step that calls a peer node. Its `timeoutMs`, `retry` and compensation settings default to the
   * workflow's `defaults`.
   */
  step<
    const TName extends string,
    C extends NodeContract,
    const TMapped extends z.input<C['input']>,
    const TDep extends keyof TSteps & string = never,
    CC extends NodeContract = NodeContract,
    const TCompMapped extends z.input<CC['input']> = z.input<CC['input']>,
    TWhen extends boolean = never,
    const TContinue extends boolean = false,
  >(
    name: TName,
    spec: PeerStepSpec<z.output<TInputSchema>, Pick<TSteps, TDep>, C, TDep, TMapped, CC, TCompMapped, TWhen, TContinue>,
  ): WorkflowBuilder<
    TInputSchema,
    TOutputSchema,
    TSteps & { readonly [K in TName]: z.output<C['output']> },
    TOptional | (CanBeAbsent<TWhen, TContinue, TDep, TOptional> extends true ? TName : never)
  > {
    const defaults = this.#header.defaults ?? {};
    const compensate = spec.compensate;
    const own = (spec.interceptors ?? []) as unknown as readonly StepInterceptor[];
    const step: StepDefinition = {
      name,
      target: { kind: 'peer', peer: spec.target.peer, contract: spec.target.contract },
      dependsOn: spec.dependsOn ?? [],
      input: spec.input as StepDefinition['input'],
      timeoutMs: spec.timeoutMs ?? defaults.timeoutMs,
      retry: new RetryPolicy(spec.retry ?? defaults.retry ?? DEFAULT_STEP_RETRY),
      compensate:
        compensate === undefined
          ? undefined
          : {
              peer: compensate.target.peer,
              contract: compensate.target.contract,
              input: compensate.input as CompensationDefinition['input'],
              retry: new RetryPolicy(compensate.retry ?? defaults.compensation?.retry ?? DEFAULT_COMPENSATION_RETRY),
              timeoutMs: compensate.timeoutMs ?? defaults.compensation?.timeoutMs,
            },
      when: spec.when as StepDefinition['when'],
      continueOnError: spec.continueOnError ?? false,
      call: stepCall([...(defaults.interceptors ?? []), ...own]),
    };
    return new WorkflowBuilder(this.#header, [...this.#steps, step]);
  }

  /**
   * Adds a step that runs another workflow (registered in the same orchestrator) as a child. The workflow's
   * `defaults` do not apply: the child's steps have their own.
   */
  subworkflow<
    const TName extends string,
    W extends AnyWorkflowDefinition,
    const TDep extends keyof TSteps & string = never,
    TWhen extends boolean = never,
    const TContinue extends boolean = false,
  >(
    name: TName,
    spec: WorkflowStepSpec<z.output<TInputSchema>, Pick<TSteps, TDep>, W, TDep, TWhen, TContinue>,
  ): WorkflowBuilder<
    TInputSchema,
    TOutputSchema,
    TSteps & { readonly [K in TName]: WorkflowOutputOf<W> },
    TOptional | (CanBeAbsent<TWhen, TContinue, TDep, TOptional> extends true ? TName : never)
  > {
    const step: StepDefinition = {
      name,
      target: { kind: 'workflow', workflow: spec.workflow },
      dependsOn: spec.dependsOn ?? [],
      input: spec.input as StepDefinition['input'],
      timeoutMs: spec.timeoutMs,
      retry: CHILD_STEP_RETRY,
      compensate: undefined,
      when: spec.when as StepDefinition['when'],
      continueOnError: spec.continueOnError ?? false,
      call: sendDirectly,
    };
    return new WorkflowBuilder(this.#header, [...this.#steps, step]);
  }

  /**
   * Adds a durable sleep: the step waits `ms` from when it starts, or `until` a date, then completes with
   * {@link SleepOutput}. The wake-up time is computed once (a function sees the input and the dependencies' outputs)
   * and persisted; while nothing else of the workflow runs, the engine parks it in the store until then, holding no
   * run, promise or timer of its own: the instance's one wake-up timer claims it when due, here or on any instance,
   * after a restart too (at once when the time passed meanwhile). A workflow deadline still ends it on time.
   *
   * @throws OnexError `CONTRACT` when a fixed `ms` is not a finite number >= 0 or a fixed `until` is not a valid date.
   * @example
   * ```ts
   * import { defineWorkflow } from '@onex/orchestrator';
   * import { z } from 'zod';
   *
   * const remind = defineWorkflow({ type: 'remind', version: '1.0.0', input: z.object({ dueAt: z.number() }), output: z.number() })
   *   .sleep('cooldown', { ms: 48 * 3_600_000 })
   *   .sleep('due', { dependsOn: ['cooldown'], until: ({ input }) => input.dueAt })
   *   .returns(({ steps }) => steps.due.wokeAt);
   * ```
   */
  sleep<const TName extends string, const TDep extends keyof TSteps & string = never, TWhen extends boolean = never>(
    name: TName,
    spec: SleepStepSpec<z.output<TInputSchema>, Pick<TSteps, TDep>, TDep, TWhen>,
  ): WorkflowBuilder<
    TInputSchema,
    TOutputSchema,
    TSteps & { readonly [K in TName]: SleepOutput },
    TOptional | (CanBeAbsent<TWhen, false, TDep, TOptional> extends true ? TName : never)
  > {
    const type = this.#header.type;
    const wakeAt = sleepWakeAt(type, name, spec as unknown as SleepStepSpec<unknown, Record<string, unknown>, string, boolean>);
    const step: StepDefinition = {
      name,
      target: { kind: 'sleep', wakeAt },
      dependsOn: spec.dependsOn ?? [],
      input: () => undefined,
      timeoutMs: undefined,
      retry: CHILD_STEP_RETRY,
      compensate: undefined,
      when: spec.when as StepDefinition['when'],
      continueOnError: false,
      call: sendDirectly,
    };
    return new WorkflowBuilder(this.#header, [...this.#steps, step]);
  }

  /**
   * Adds a wait for a signal: the step completes with the first signal of that name sent to the workflow
   * (`orchestrator.signal(id, name, payload)` or `POST /v1/workflows/:id/signals/:name`), its payload typed by
   * `schema` in later steps' mappers. Signals are durable and deduplicated by their id: one sent before the workflow
   * reaches the wait is kept for it, and each signal is delivered to one wait. While nothing else of the workflow
   * runs, it is parked in the store as a sleep is (no run, promise or timer of its own), and a signal makes it due.
   * With `timeoutMs`, a timeout fails the step with `TIMEOUT` (the saga compensates), or, with
   * `onTimeout: 'continue'`, completes it `{ received: false, timedOutAt }` for later steps to branch on.
   *
   * @throws OnexError `CONTRACT` when the signal name is invalid or a fixed `timeoutMs` is not a finite number >= 0.
   * @example
   * ```ts
   * import { defineWorkflow } from '@onex/orchestrator';
   * import { z } from 'zod';
   *
   * const ship = defineWorkflow({ type: 'ship', version: '1.0.0', input: z.object({ orderId: z.string() }), output: z.string() })
   *   .waitFor('shipped', { schema: z.object({ trackingId: z.string() }), timeoutMs: 48 * 3_600_000, onTimeout: 'continue' })
   *   .returns(({ steps }) => (steps.shipped.received ? steps.shipped.payload.trackingId : 'not shipped'));
   * ```
   */
  waitFor<
    const TName extends string,
    TSchema extends z.ZodType,
    const TOnTimeout extends 'fail' | 'continue' = 'fail',
    const TDep extends keyof TSteps & string = never,
    TWhen extends boolean = never,
  >(
    name: TName,
    spec: WaitStepSpec<z.output<TInputSchema>, Pick<TSteps, TDep>, TDep, TSchema, TOnTimeout, TWhen>,
  ): WorkflowBuilder<
    TInputSchema,
    TOutputSchema,
    TSteps & { readonly [K in TName]: WaitOutput<z.output<TSchema>, TOnTimeout> },
    TOptional | (CanBeAbsent<TWhen, false, TDep, TOptional> extends true ? TName : never)
  > {
    const type = this.#header.type;
    const signal = spec.signal ?? name;
    if (!SIGNAL_NAME.test(signal)) throw definitionError(type, `signal name '${signal}' is invalid (letters, digits, '_', '-', '.'; up to 64)`, name);
    const onTimeout = spec.onTimeout ?? 'fail';
    if (onTimeout !== 'fail' && onTimeout !== 'continue') throw definitionError(type, `onTimeout must be 'fail' or 'continue' (got ${String(onTimeout)})`, name);
    const timeoutMs = spec.timeoutMs;
    const timeoutAt =
      timeoutMs === undefined
        ? undefined
        : sleepWakeAt(type, name, { ms: timeoutMs } as unknown as SleepStepSpec<unknown, Record<string, unknown>, string, boolean>, 'timeoutMs');
    const step: StepDefinition = {
      name,
      target: { kind: 'signal', signal, schema: spec.schema, timeoutAt, onTimeout },
      dependsOn: spec.dependsOn ?? [],
      input: () => undefined,
      timeoutMs: undefined,
      retry: CHILD_STEP_RETRY,
      compensate: undefined,
      when: spec.when as StepDefinition['when'],
      continueOnError: false,
      call: sendDirectly,
    };
    return new WorkflowBuilder(this.#header, [...this.#steps, step]);
  }

  /**
   * Closes the definition with the mapper that builds the workflow's output. It runs once every step is done, so
   * `steps` holds every step's output, typed; only a step that can be absent — one with `when` or
   * `continueOnError`, or one depending on such a step — is optional.
   *
   * @throws OnexError `CONTRACT` when the steps do not form a valid DAG (see {@link validateWorkflowDefinition}).
   */
  returns(
    result: (ctx: {
      readonly workflowId: string;
      readonly input: z.output<TInputSchema>;
      readonly steps: WorkflowSteps<TSteps, TOptional>;
    }) => z.input<TOutputSchema>,
  ): WorkflowDefinition<TInputSchema, TOutputSchema> {
    const definition: WorkflowDefinition<TInputSchema, TOutputSchema> = {
      type: this.#header.type,
      version: this.#header.version,
      input: this.#header.input,
      output: this.#header.output,
      steps: this.#steps,
      result: result as WorkflowDefinition['result'],
      timeoutMs: this.#header.timeoutMs,
    };
    validateWorkflowDefinition(definition);
    return definition;
  }
}

/** What a signal may be called: as step names, plus '.' (e.g. `warehouse.shipped`). */
const SIGNAL_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$/;

/** The wake-up time of a sleep step as the engine computes it, checked where it can be (a fixed value) at once. */
function sleepWakeAt(
  type: string,
  name: string,
  spec: SleepStepSpec<unknown, Record<string, unknown>, string, boolean>,
  msName = 'ms',
): (ctx: StepInputContext<unknown, Record<string, unknown>>, now: number) => number {
  const valueOf = <T>(time: SleepTime<unknown, Record<string, unknown>, T>, ctx: StepInputContext<unknown, Record<string, unknown>>): T =>
    typeof time === 'function' ? (time as (c: StepInputContext<unknown, Record<string, unknown>>) => T)(ctx) : time;
  const check = (at: number, what: string): number => {
    if (!Number.isFinite(at)) throw new OnexError(ErrorCode.Validation, `Step '${name}' of '${type}': ${what}`, { context: { workflow: type, step: name } });
    return at;
  };
  if (spec.ms !== undefined) {
    const ms = spec.ms;
    if (typeof ms !== 'function' && !(Number.isFinite(ms) && ms >= 0)) throw definitionError(type, `'${msName}' must be a finite number >= 0 (got ${String(ms)})`, name);
    return (ctx, now) => {
      const value = valueOf(ms, ctx);
      return now + Math.max(0, check(typeof value === 'number' ? value : Number.NaN, `'${msName}' answered ${String(value)}, not a finite number`));
    };
  }
  const until = spec.until;
  if (until === undefined) throw definitionError(type, "a sleep needs 'ms' or 'until'", name);
  if (typeof until !== 'function' && !Number.isFinite(until instanceof Date ? until.getTime() : until)) throw definitionError(type, "sleep 'until' is not a valid date", name);
  return (ctx) => {
    const value = valueOf(until, ctx);
    const at = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Number.NaN;
    return check(at, `'until' answered ${String(value)}, not a valid date`);
  };
}

/**
 * Starts a workflow definition. Chain `.step(...)` for each step and close with `.returns(...)`. What most steps
 * share — their timeout, retry policy, interceptors, and their compensations' retry policy and timeout — goes once
 * in `defaults`; a step sets its own only where it differs.
 *
 * @throws OnexError `CONTRACT` when `type` is not kebab-case or `version` is not semantic.
 * @example
 * ```ts
 * import { defineContract, NodeKind } from '@onex/core';
 * import { defineWorkflow, peer } from '@onex/orchestrator';
 * import { z } from 'zod';
 *
 * const Order = z.object({ id: z.string(), items: z.array(z.string()) });
 * const Receipt = z.object({ chargeId: z.string() });
 * const pricing = defineContract({ name: 'pricing', kind: NodeKind.Compute, version: '1.0.0',
 *   input: z.object({ items: z.array(z.string()) }), output: z.object({ total: z.int() }) });
 * const payments = defineContract({ name: 'payments', kind: NodeKind.Effect, version: '1.0.0',
 *   input: z.object({ orderId: z.string(), amount: z.int() }), output: z.object({ chargeId: z.string() }) });
 * const refunds = defineContract({ name: 'refunds', kind: NodeKind.Effect, version: '1.0.0',
 *   input: z.object({ chargeId: z.string().optional() }), output: z.object({ refunded: z.boolean() }) });
 *
 * const fulfil = defineWorkflow({
 *   type: 'fulfil', version: '1.0.0', input: Order, output: Receipt,
 *   defaults: { timeoutMs: 2_000, retry: { maxAttempts: 4 } },
 * })
 *   .step('price', { target: peer('pricing', pricing), input: ({ input }) => ({ items: input.items }) })
 *   .step('charge', {
 *     target: peer('payments', payments), dependsOn: ['price'],
 *     input: ({ input, steps }) => ({ orderId: input.id, amount: steps.price.total }),
 *     compensate: { target: peer('payments', refunds), input: ({ output }) => ({ chargeId: output?.chargeId }) },
 *   })
 *   .returns(({ steps }) => ({ chargeId: steps.charge.chargeId }));
 * ```
 */
export function defineWorkflow<TInputSchema extends z.ZodType, TOutputSchema extends z.ZodType>(
  header: WorkflowHeader<TInputSchema, TOutputSchema>,
): WorkflowBuilder<TInputSchema, TOutputSchema, NoSteps> {
  if (!/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/.test(header.type)) throw definitionError(header.type, 'type must be kebab-case');
  if (!/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/.test(header.version)) throw definitionError(header.type, `version '${header.version}' is not semantic`);
  return new WorkflowBuilder(header, []);
}
