import { ErrorCode, OnexError, RetryPolicy, type NodeContract, type RetryPolicyOptions } from '@onex/core';
import type { z } from 'zod';

/**
 * A reference to a peer node by its registered name, carrying its contract so step inputs and outputs are typed.
 *
 * @example
 * ```ts
 * const pricing = peer('pricing', pricingContract);
 * ```
 */
export interface PeerRef<C extends NodeContract = NodeContract> {
  readonly peer: string;
  readonly contract: C;
}

/** Makes a {@link PeerRef}. */
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

/** A call that undoes a completed step; `TMapped` is what its mapper returns, checked against the target's input. */
export interface CompensationSpec<TInput, TDeps, TOutput, CC extends NodeContract = NodeContract, TMapped = z.input<CC['input']>> {
  readonly target: PeerRef<CC>;
  readonly input: (ctx: CompensationContext<TInput, TDeps, TOutput>) => TMapped;
  /** Retry policy of the compensation (default: 5 attempts). */
  readonly retry?: RetryPolicyOptions;
  /** Per-attempt timeout of the compensation call, ms. */
  readonly timeoutMs?: number;
}

/**
 * Options of one step targeting a peer node. `TMapped` (and the compensation's `TCompMapped`) are what the mappers
 * return, inferred as `const` and checked against the target's input schema, so literals stay literal
 * (`operation: 'reserve'` needs no `as const`).
 */
export interface PeerStepSpec<
  TInput,
  TDeps,
  C extends NodeContract,
  TDepNames extends string,
  TMapped = z.input<C['input']>,
  CC extends NodeContract = NodeContract,
  TCompMapped = z.input<CC['input']>,
> {
  readonly target: PeerRef<C>;
  readonly dependsOn?: readonly TDepNames[];
  readonly input: (ctx: StepInputContext<TInput, TDeps>) => TMapped;
  /** Per-attempt timeout, ms: the peer call is aborted (and told so through its deadline header). */
  readonly timeoutMs?: number;
  /** Retry policy of the step (core's retry module). Default: 3 attempts. */
  readonly retry?: RetryPolicyOptions;
  /** Undoes the step when a later step fails for good (saga). */
  readonly compensate?: CompensationSpec<TInput, TDeps, z.output<C['output']>, CC, TCompMapped>;
  /** Runs the step only when this returns true; otherwise it is `skipped` (and so are its dependents). */
  readonly when?: (ctx: StepInputContext<TInput, TDeps>) => boolean;
  /** A failure of this step does not fail the workflow; its dependents are skipped. */
  readonly continueOnError?: boolean;
}

/** Options of one step that runs a nested workflow in the same orchestrator. */
export interface WorkflowStepSpec<TInput, TDeps, W extends AnyWorkflowDefinition, TDepNames extends string> {
  readonly workflow: W;
  readonly dependsOn?: readonly TDepNames[];
  readonly input: (ctx: StepInputContext<TInput, TDeps>) => WorkflowInputOf<W>;
  readonly timeoutMs?: number;
  readonly when?: (ctx: StepInputContext<TInput, TDeps>) => boolean;
  readonly continueOnError?: boolean;
}

/** Where a step sends its call. */
export type StepTarget =
  | { readonly kind: 'peer'; readonly peer: string; readonly contract: NodeContract }
  | { readonly kind: 'workflow'; readonly workflow: AnyWorkflowDefinition };

/** A compensation as the engine runs it. */
export interface CompensationDefinition {
  readonly peer: string;
  readonly contract: NodeContract;
  readonly input: (ctx: CompensationContext<unknown, Record<string, unknown>, unknown>) => unknown;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number | undefined;
}

/** A step as the engine runs it: the untyped view of what the builder collected. */
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
}

/** A complete, validated workflow definition. */
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

/** What {@link defineWorkflow} takes. */
export interface WorkflowHeader<TInputSchema extends z.ZodType, TOutputSchema extends z.ZodType> {
  /** Workflow type, kebab-case. */
  readonly type: string;
  /** Semantic version; type + version is the registry key. */
  readonly version: string;
  readonly input: TInputSchema;
  readonly output: TOutputSchema;
  /** Default whole-workflow deadline, ms. */
  readonly timeoutMs?: number;
}

const DEFAULT_STEP_RETRY: RetryPolicyOptions = { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 2_000 };
const DEFAULT_COMPENSATION_RETRY: RetryPolicyOptions = { maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 2_000 };
const NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

function definitionError(type: string, message: string, step?: string): OnexError {
  return new OnexError(ErrorCode.Contract, `Invalid workflow '${type}': ${message}`, {
    context: step === undefined ? { workflow: type } : { workflow: type, step },
  });
}

/**
 * Builds a workflow step by step. Each `step` adds a named step whose `input` mapper sees, typed, the workflow
 * input and the outputs of the steps it `dependsOn`; `returns` closes the definition.
 */
export class WorkflowBuilder<TInputSchema extends z.ZodType, TOutputSchema extends z.ZodType, TSteps extends Record<string, unknown>> {
  readonly #header: WorkflowHeader<TInputSchema, TOutputSchema>;
  readonly #steps: readonly StepDefinition[];

  /** @internal use {@link defineWorkflow}. */
  constructor(header: WorkflowHeader<TInputSchema, TOutputSchema>, steps: readonly StepDefinition[]) {
    this.#header = header;
    this.#steps = steps;
  }

  /** Adds a step that calls a peer node. */
  step<
    const TName extends string,
    C extends NodeContract,
    const TMapped extends z.input<C['input']>,
    const TDep extends keyof TSteps & string = never,
    CC extends NodeContract = NodeContract,
    const TCompMapped extends z.input<CC['input']> = z.input<CC['input']>,
  >(
    name: TName,
    spec: PeerStepSpec<z.output<TInputSchema>, Pick<TSteps, TDep>, C, TDep, TMapped, CC, TCompMapped>,
  ): WorkflowBuilder<TInputSchema, TOutputSchema, TSteps & { readonly [K in TName]: z.output<C['output']> }> {
    const compensate = spec.compensate;
    const step: StepDefinition = {
      name,
      target: { kind: 'peer', peer: spec.target.peer, contract: spec.target.contract },
      dependsOn: spec.dependsOn ?? [],
      input: spec.input as StepDefinition['input'],
      timeoutMs: spec.timeoutMs,
      retry: new RetryPolicy(spec.retry ?? DEFAULT_STEP_RETRY),
      compensate:
        compensate === undefined
          ? undefined
          : {
              peer: compensate.target.peer,
              contract: compensate.target.contract,
              input: compensate.input as CompensationDefinition['input'],
              retry: new RetryPolicy(compensate.retry ?? DEFAULT_COMPENSATION_RETRY),
              timeoutMs: compensate.timeoutMs,
            },
      when: spec.when as StepDefinition['when'],
      continueOnError: spec.continueOnError ?? false,
    };
    return new WorkflowBuilder(this.#header, [...this.#steps, step]);
  }

  /** Adds a step that runs another workflow (registered in the same orchestrator) as a child. */
  subworkflow<const TName extends string, W extends AnyWorkflowDefinition, const TDep extends keyof TSteps & string = never>(
    name: TName,
    spec: WorkflowStepSpec<z.output<TInputSchema>, Pick<TSteps, TDep>, W, TDep>,
  ): WorkflowBuilder<TInputSchema, TOutputSchema, TSteps & { readonly [K in TName]: WorkflowOutputOf<W> }> {
    const step: StepDefinition = {
      name,
      target: { kind: 'workflow', workflow: spec.workflow },
      dependsOn: spec.dependsOn ?? [],
      input: spec.input as StepDefinition['input'],
      timeoutMs: spec.timeoutMs,
      // The child workflow retries its own steps; the step itself runs once.
      retry: new RetryPolicy({ maxAttempts: 1 }),
      compensate: undefined,
      when: spec.when as StepDefinition['when'],
      continueOnError: spec.continueOnError ?? false,
    };
    return new WorkflowBuilder(this.#header, [...this.#steps, step]);
  }

  /**
   * Closes the definition with the mapper that builds the workflow's output. Steps that were skipped or failed
   * with `continueOnError` are absent from `steps`.
   */
  returns(
    result: (ctx: { readonly workflowId: string; readonly input: z.output<TInputSchema>; readonly steps: Partial<TSteps> }) => z.input<TOutputSchema>,
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

/**
 * Starts a workflow definition. Chain `.step(...)` for each step and close with `.returns(...)`.
 *
 * @example
 * ```ts
 * const fulfil = defineWorkflow({ type: 'fulfil', version: '1.0.0', input: Order, output: Receipt })
 *   .step('price', { target: peer('pricing', pricing), input: ({ input }) => ({ items: input.items }) })
 *   .step('charge', {
 *     target: peer('payments', payments), dependsOn: ['price'],
 *     input: ({ input, steps }) => ({ orderId: input.id, amount: steps.price.total }),
 *     compensate: { target: peer('payments', refunds), input: ({ output }) => ({ chargeId: output.chargeId }) },
 *   })
 *   .returns(({ steps }) => ({ chargeId: steps.charge?.chargeId ?? null }));
 * ```
 */
export function defineWorkflow<TInputSchema extends z.ZodType, TOutputSchema extends z.ZodType>(
  header: WorkflowHeader<TInputSchema, TOutputSchema>,
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
): WorkflowBuilder<TInputSchema, TOutputSchema, {}> {
  if (!/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/.test(header.type)) throw definitionError(header.type, 'type must be kebab-case');
  if (!/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/.test(header.version)) throw definitionError(header.type, `version '${header.version}' is not semantic`);
  return new WorkflowBuilder(header, []);
}

/**
 * Checks a definition: step names valid and unique, dependencies known, no cycles. Errors name the step.
 * Runs in `returns()`, and again on registration for definitions built by hand.
 */
export function validateWorkflowDefinition(definition: AnyWorkflowDefinition): void {
  const names = new Set<string>();
  for (const step of definition.steps) {
    if (!NAME.test(step.name)) throw definitionError(definition.type, `step name '${step.name}' is invalid`, step.name);
    if (names.has(step.name)) throw definitionError(definition.type, `duplicate step '${step.name}'`, step.name);
    names.add(step.name);
  }
  if (definition.steps.length === 0) throw definitionError(definition.type, 'a workflow needs at least one step');
  for (const step of definition.steps) {
    for (const dep of step.dependsOn) {
      if (!names.has(dep)) throw definitionError(definition.type, `step '${step.name}' depends on unknown step '${dep}'`, step.name);
      if (dep === step.name) throw definitionError(definition.type, `step '${step.name}' depends on itself`, step.name);
    }
  }
  // Kahn's algorithm: whatever is left once no step is free is on a cycle.
  const remaining = new Map(definition.steps.map((s) => [s.name, new Set(s.dependsOn)]));
  let progressed = true;
  while (progressed && remaining.size > 0) {
    progressed = false;
    for (const [name, deps] of remaining) {
      if (deps.size === 0) {
        remaining.delete(name);
        for (const other of remaining.values()) other.delete(name);
        progressed = true;
      }
    }
  }
  if (remaining.size > 0) {
    const cycle = [...remaining.keys()];
    throw definitionError(definition.type, `dependency cycle through steps ${cycle.map((s) => `'${s}'`).join(', ')}`, cycle[0]);
  }
}
