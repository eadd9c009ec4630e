import type { z } from 'zod';
import type { Schema } from '../contract/contract.js';
import type { CallContext } from './call-context.js';

/**
 * One link of a call chain: sees the input and the context, and calls `next` to go on (with the same input or
 * another), or answers without calling it (a cache, a breaker that is open), or throws. Nodes, effect operations and
 * workflow steps all take `interceptors: [...]` of this one shape; the first in the list is the outermost.
 *
 * The `next` that {@link composeInterceptors} hands on also takes a context, which the rest of the chain then sees
 * instead of `ctx`. A kind whose context an interceptor may replace says so in its own type (a node's
 * {@link NodeInterceptor}: `next(input, withSignal(ctx, signal))`); this generic shape leaves it out, so an
 * interceptor written for a context fits any chain whose context extends it.
 *
 * @example
 * ```ts
 * import type { Interceptor } from '@onex/core';
 * const timing: Interceptor<unknown, unknown, { readonly correlationId: string }> = async (input, ctx, next) => {
 *   const started = performance.now();
 *   try {
 *     return await next(input);
 *   } finally {
 *     console.log(ctx.correlationId, `${(performance.now() - started).toFixed(1)} ms`);
 *   }
 * };
 * ```
 */
export type Interceptor<TInput, TOutput, TContext> = (input: TInput, ctx: TContext, next: (input: TInput) => Promise<TOutput>) => Promise<TOutput>;

/**
 * Composes interceptors around `terminal` once, at construction, into one function: calling it runs
 * `interceptors[0]`, whose `next` runs `interceptors[1]`, … and the last one's `next` runs `terminal`. With no
 * interceptors the answer is `terminal` itself, so an unintercepted path costs nothing.
 *
 * @example
 * ```ts
 * import { composeInterceptors } from '@onex/core';
 * const run = composeInterceptors<number, number, undefined>(
 *   [async (n, _ctx, next) => (await next(n + 1)) * 10],
 *   async (n) => n,
 * );
 * await run(1, undefined); // 20
 * ```
 */
export function composeInterceptors<TInput, TOutput, TContext>(
  interceptors: readonly Interceptor<TInput, TOutput, TContext>[],
  terminal: (input: TInput, ctx: TContext) => Promise<TOutput>,
): (input: TInput, ctx: TContext) => Promise<TOutput> {
  let run = terminal;
  for (let i = interceptors.length - 1; i >= 0; i -= 1) {
    const interceptor = interceptors[i] as Interceptor<TInput, TOutput, TContext>;
    const next = run;
    // `next` takes an optional context for the rest of the chain (see NodeInterceptor); without one, the same `ctx`.
    const forward = (ctx: TContext) => (nextInput: TInput, nextCtx: TContext = ctx) => next(nextInput, nextCtx);
    run = (input, ctx) => interceptor(input, ctx, forward(ctx));
  }
  return run;
}

/**
 * An interceptor that fits the calls of every node: generic in the input and output, so it can only pass them on
 * (or fail, or answer with what `next` answered). Cross-cutting behaviour — timing, logging, a circuit breaker
 * ({@link circuitBreakerInterceptor}) — is written this way and shared by nodes of any contract.
 *
 * @example
 * ```ts
 * import type { CallInterceptor } from '@onex/core';
 * const timing: CallInterceptor = async (input, ctx, next) => {
 *   const started = performance.now();
 *   try {
 *     return await next(input);
 *   } finally {
 *     ctx.logger.info({ ms: performance.now() - started }, 'call took');
 *   }
 * };
 * ```
 */
export type CallInterceptor = <TInput, TOutput>(
  input: TInput,
  ctx: CallContext,
  next: (input: TInput, ctx?: CallContext) => Promise<TOutput>,
) => Promise<TOutput>;

/**
 * An interceptor of one node's calls, typed by its contract: it sees the validated input (`z.output` of the input
 * schema) and answers what `process` answers (`z.input` of the output schema, validated after the chain). It is an
 * {@link Interceptor} whose `next` may also be given the context for the rest of the chain — e.g. the same call with
 * a signal that also aborts at a breaker's timeout (`next(input, withSignal(ctx, signal))`).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { NodeInterceptor } from '@onex/core';
 * const input = z.object({ name: z.string() });
 * const output = z.object({ greeting: z.string() });
 * const trim: NodeInterceptor<typeof input, typeof output> = (call, _ctx, next) => next({ name: call.name.trim() });
 * ```
 */
export type NodeInterceptor<TInput extends Schema, TOutput extends Schema> = (
  input: z.output<TInput>,
  ctx: CallContext,
  next: (input: z.output<TInput>, ctx?: CallContext) => Promise<z.input<TOutput>>,
) => Promise<z.input<TOutput>>;
