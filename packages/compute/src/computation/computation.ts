import { ErrorCode, OnexError, type Logger, type Schema } from '@onex/core';
import type { z } from 'zod';

/**
 * What a computation sees of the call besides its input. There is deliberately no I/O handle here: a computation
 * is a pure function of its input.
 *
 * @example
 * ```ts
 * const compute = (input: number[], ctx: ComputeContext) => {
 *   ctx.signal.throwIfAborted(); // long loops may check for the deadline
 *   return input.reduce((a, b) => a + b, 0);
 * };
 * ```
 */
export interface ComputeContext {
  /** Name of the computation being run. */
  readonly computation: string;
  /** Correlation id of the call. Never let it change the result: results may be cached. */
  readonly correlationId: string;
  /** Aborted when the call's deadline passes or the caller cancels; long computations should check it. */
  readonly signal: AbortSignal;
  /** The call's logger (bound to the correlation id). */
  readonly logger: Logger;
}

/**
 * Result-cache settings of one computation. Both fields are optional: `cache: {}` turns the cache on with the
 * built-in defaults (1 000 entries, no expiry).
 *
 * @example
 * ```ts
 * const cache: ComputationCacheOptions = { maxEntries: 10_000, ttlMs: 5 * 60_000 };
 * ```
 */
export interface ComputationCacheOptions {
  /** Most results held; the least recently used is evicted past it. Default 1 000. */
  readonly maxEntries?: number;
  /** How long a result is served after it was computed, ms. Default `Infinity`: a pure result never goes stale. */
  readonly ttlMs?: number;
}

/**
 * What {@link defineComputation} takes.
 *
 * @example
 * ```ts
 * const definition: ComputationDefinition<'double', z.ZodNumber, z.ZodNumber> = {
 *   name: 'double', input: z.number(), output: z.number(), compute: (n) => n * 2,
 * };
 * ```
 */
export interface ComputationDefinition<TName extends string, TInput extends Schema, TOutput extends Schema> {
  /** Name the computation is called by: a letter, then letters, digits, `.`, `_` or `-` (at most 128). */
  readonly name: TName;
  /** One sentence for people. */
  readonly description?: string;
  /** Schema of the input; the computation receives the parsed value (defaults applied, unknown keys stripped). */
  readonly input: TInput;
  /** Schema of the output; a result that breaks it fails the call with `CONTRACT`. */
  readonly output: TOutput;
  /** The transform. Must be pure: same input, same output, no I/O. May return a promise (e.g. to yield). */
  compute(input: z.output<TInput>, ctx: ComputeContext): z.input<TOutput> | Promise<z.input<TOutput>>;
  /**
   * Caches results by a hash of the parsed input, with these settings (they replace the node definition's
   * `defaults.cache` whole; fields left out take the built-in defaults). Off by default (unless the node's `defaults.cache` turns it on;
   * `false` keeps it off then): the node cannot tell a pure computation from one that only looks pure, so caching
   * is the author's promise. Cached results are deep-frozen.
   */
  readonly cache?: ComputationCacheOptions | false;
  /**
   * Runs slower than this (ms) are logged as `SLOW_COMPUTATION` warnings. Default: the node definition's
   * `defaults.slowThresholdMs`, else 100.
   */
  readonly slowThresholdMs?: number;
}

/**
 * A named, typed, validated transform, made by {@link defineComputation} and registered on a `NodeCompute`.
 *
 * @example
 * ```ts
 * const double: Computation<'double', z.ZodNumber, z.ZodNumber> = defineComputation({
 *   name: 'double', input: z.number(), output: z.number(), compute: (n) => n * 2,
 * });
 * ```
 */
export interface Computation<TName extends string = string, TInput extends Schema = Schema, TOutput extends Schema = Schema> {
  readonly name: TName;
  readonly description: string | undefined;
  readonly input: TInput;
  readonly output: TOutput;
  /**
   * Own cache settings, as given (checked): `false` turns the cache off, `undefined` leaves it to the node
   * definition's `defaults.cache` (off when there is none).
   */
  readonly cache: ComputationCacheOptions | false | undefined;
  /** Own slow threshold, ms, when the definition gave one (else the node definition's default). */
  readonly slowThresholdMs: number | undefined;
  compute(input: z.output<TInput>, ctx: ComputeContext): z.input<TOutput> | Promise<z.input<TOutput>>;
}

/**
 * Any computation, whatever its name and schemas.
 *
 * @example
 * ```ts
 * const registry: readonly AnyComputation[] = [double, add];
 * ```
 */
export type AnyComputation = Computation<string, Schema, Schema>;

/**
 * The input type a computation accepts (before parsing).
 *
 * @example
 * ```ts
 * type In = ComputationInput<typeof add>; // { a: number; b: number }
 * ```
 */
export type ComputationInput<C extends AnyComputation> = z.input<C['input']>;

/**
 * The output type a computation produces (after parsing).
 *
 * @example
 * ```ts
 * type Out = ComputationOutput<typeof add>; // { sum: number }
 * ```
 */
export type ComputationOutput<C extends AnyComputation> = z.output<C['output']>;

/**
 * The names of a list of computations.
 *
 * @example
 * ```ts
 * type Names = ComputationName<[typeof add, typeof double]>; // 'add' | 'double'
 * ```
 */
export type ComputationName<T extends readonly AnyComputation[]> = T[number]['name'];

/**
 * The computation called `TName` in a list.
 *
 * @example
 * ```ts
 * type Add = ComputationNamed<[typeof add, typeof double], 'add'>; // typeof add
 * ```
 */
export type ComputationNamed<T extends readonly AnyComputation[], TName extends string> = Extract<T[number], { readonly name: TName }>;

const NAME = /^[A-Za-z][A-Za-z0-9._-]{0,127}$/;

function definitionError(name: string, message: string): OnexError {
  return new OnexError(ErrorCode.Contract, `Invalid computation '${name}': ${message}`, { context: { computation: name } });
}

/**
 * What is wrong with a slow threshold, or `undefined` when it is valid (absent, or a number >= 0; `Infinity` turns
 * the warning off).
 *
 * @internal Shared with the node definition's `defaults`.
 */
export function slowThresholdProblem(threshold: number | undefined): string | undefined {
  return threshold === undefined || threshold >= 0 ? undefined : `slowThresholdMs must be >= 0 (got ${String(threshold)})`;
}

/**
 * What is wrong with cache settings, or `undefined` when they are valid.
 *
 * @internal Shared with the node definition's `defaults`.
 */
export function cacheOptionsProblem(cache: ComputationCacheOptions): string | undefined {
  const { maxEntries, ttlMs } = cache;
  if (maxEntries !== undefined && (!Number.isInteger(maxEntries) || maxEntries < 1)) return `cache.maxEntries must be a positive integer (got ${String(maxEntries)})`;
  if (ttlMs !== undefined && !(ttlMs > 0)) return `cache.ttlMs must be > 0 (got ${String(ttlMs)})`;
  return undefined;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && typeof (value as { safeParse?: unknown }).safeParse === 'function';
}

/**
 * Defines a computation: a name, zod schemas for its input and output, the pure function between them, and
 * optionally a result cache and a slow-run threshold (each overriding the node definition's `defaults`). Types are
 * inferred from the schemas.
 *
 * @throws OnexError `CONTRACT` when the name, schemas or options are invalid.
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineComputation } from '@onex/compute';
 * export const add = defineComputation({
 *   name: 'add',
 *   input: z.object({ a: z.number(), b: z.number() }),
 *   output: z.object({ sum: z.number() }),
 *   compute: ({ a, b }) => ({ sum: a + b }),
 *   cache: { maxEntries: 500, ttlMs: 60_000 },
 *   slowThresholdMs: 5,
 * });
 * ```
 */
export function defineComputation<const TName extends string, TInput extends Schema, TOutput extends Schema>(
  definition: ComputationDefinition<TName, TInput, TOutput>,
): Computation<TName, TInput, TOutput> {
  const { name } = definition;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw definitionError(String(name).slice(0, 128), 'name must be a letter followed by up to 127 letters, digits, ".", "_" or "-"');
  }
  if (!isSchema(definition.input) || !isSchema(definition.output)) throw definitionError(name, 'input and output must be zod schemas');
  if (typeof definition.compute !== 'function') throw definitionError(name, 'compute must be a function');
  const threshold = definition.slowThresholdMs;
  const thresholdProblem = slowThresholdProblem(threshold);
  if (thresholdProblem !== undefined) throw definitionError(name, thresholdProblem);
  let cache: ComputationCacheOptions | false | undefined = definition.cache;
  if (cache !== undefined && cache !== false) {
    const problem = cacheOptionsProblem(cache);
    if (problem !== undefined) throw definitionError(name, problem);
    cache = Object.freeze({ ...(cache.maxEntries === undefined ? {} : { maxEntries: cache.maxEntries }), ...(cache.ttlMs === undefined ? {} : { ttlMs: cache.ttlMs }) });
  }
  return Object.freeze({
    name,
    description: definition.description,
    input: definition.input,
    output: definition.output,
    cache,
    slowThresholdMs: threshold,
    compute: (input: z.output<TInput>, ctx: ComputeContext) => definition.compute(input, ctx),
  });
}
