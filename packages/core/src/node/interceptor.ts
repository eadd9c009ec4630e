/**
 * One link of a call chain: sees the input and the context, and calls `next` to go on (with the same input or
 * another), or answers without calling it (a cache, a breaker that is open), or throws. Nodes, effect operations and
 * workflow steps all take `interceptors: [...]` of this one shape; the first in the list is the outermost.
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
    run = (input, ctx) => interceptor(input, ctx, (nextInput) => next(nextInput, ctx));
  }
  return run;
}
