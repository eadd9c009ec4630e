import { describe, expect, it } from 'vitest';
import { composeInterceptors, type Interceptor } from './interceptor.js';

describe('composeInterceptors', () => {
  it('runs the first interceptor outermost, each seeing what the previous passed on', async () => {
    const order: string[] = [];
    const tag =
      (name: string): Interceptor<string, string, { id: number }> =>
      async (input, ctx, next) => {
        order.push(`${name}>${input}#${ctx.id}`);
        const out = await next(`${input}${name}`);
        order.push(`${name}<${out}`);
        return `${out}${name}`;
      };
    const run = composeInterceptors([tag('a'), tag('b')], async (input) => `[${input}]`);
    await expect(run('x', { id: 1 })).resolves.toBe('[xab]ba');
    expect(order).toEqual(['a>x#1', 'b>xa#1', 'b<[xab]', 'a<[xab]b']);
  });

  it('lets an interceptor answer without calling next, and answers terminal itself when there are none', async () => {
    let calls = 0;
    const terminal = async (n: number): Promise<number> => {
      calls += 1;
      return n;
    };
    expect(composeInterceptors([], terminal)).toBe(terminal);
    const cached = composeInterceptors<number, number, undefined>([async () => 42], terminal);
    await expect(cached(1, undefined)).resolves.toBe(42);
    expect(calls).toBe(0);
  });

  it('hands the rest of the chain the context an interceptor passes to next, else its own', async () => {
    const seen: number[] = [];
    // The generic shape does not type the context argument of next; a node's NodeInterceptor does.
    const narrow = ((input, ctx, next) => (next as (input: string, ctx: { id: number }) => Promise<string>)(input, { id: ctx.id + 10 })) satisfies Interceptor<
      string,
      string,
      { id: number }
    >;
    const look: Interceptor<string, string, { id: number }> = (input, ctx, next) => {
      seen.push(ctx.id);
      return next(input);
    };
    const run = composeInterceptors([look, narrow, look], async (input, ctx) => `${input}#${ctx.id}`);
    await expect(run('x', { id: 1 })).resolves.toBe('x#11');
    expect(seen).toEqual([1, 11]);
  });

  it('propagates a throw from inside the chain to the caller', async () => {
    const run = composeInterceptors<number, number, undefined>([async (n, _c, next) => next(n)], async () => {
      throw new Error('down');
    });
    await expect(run(1, undefined)).rejects.toThrow('down');
  });
});
