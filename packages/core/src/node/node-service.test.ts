import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { createSilentLogger } from '../logging/logger.js';
import { withSignal, type CallContext } from './call-context.js';
import type { CallInterceptor } from './interceptor.js';
import { NodeKind } from './node-kind.js';
import { LifecycleStatus, NodeService, type ComponentHealth, type NodeServiceOptions } from './node-service.js';

const contract = defineContract({
  name: 'echo',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ text: z.string(), delayMs: z.number().int().min(0).default(0), fail: z.string().optional() }),
  output: z.object({ text: z.string(), correlationId: z.string() }),
  config: z.object({ prefix: z.string().default('') }),
});

type Contract = typeof contract;

class Echo extends NodeService<Contract['input'], Contract['output'], Contract['config']> {
  initialized = 0;
  stopped = 0;
  aborted = 0;
  healthOf: ComponentHealth = { status: 'healthy' };

  constructor(options: NodeServiceOptions<Contract['config']> = {}) {
    super(contract, { logger: createSilentLogger(), ...options });
  }

  protected override async onInitialize(): Promise<void> {
    this.initialized += 1;
  }

  protected override async onShutdown(): Promise<void> {
    this.stopped += 1;
  }

  protected override async componentHealth(): Promise<Record<string, ComponentHealth>> {
    return { store: this.healthOf };
  }

  protected async process(input: z.output<Contract['input']>, ctx: CallContext): Promise<z.input<Contract['output']>> {
    ctx.logger.debug({ text: input.text }, 'echo');
    if (input.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, input.delayMs);
        ctx.signal.addEventListener('abort', () => {
          this.aborted += 1;
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (input.fail === 'onex') throw new OnexError(ErrorCode.Conflict, 'already exists');
    if (input.fail === 'foreign') throw new Error('connection to postgres://app:s3cret@db failed');
    if (input.fail === 'contract') return { text: 42 } as unknown as { text: string; correlationId: string };
    return { text: `${this.config.prefix}${input.text}`, correlationId: ctx.correlationId };
  }
}

async function ready(options?: NodeServiceOptions<Contract['config']>): Promise<Echo> {
  const node = new Echo(options);
  await node.initialize();
  return node;
}

describe('NodeService', () => {
  it('validates config in the constructor', () => {
    expect(new Echo({ config: { prefix: '> ' } }).config.prefix).toBe('> ');
    expect(() => new Echo({ config: { prefix: 5 } as unknown as { prefix: string } })).toThrow(/prefix/);
  });

  it('runs the lifecycle', async () => {
    const node = new Echo();
    expect(node.status).toBe(LifecycleStatus.Created);
    const early = await node.handle({ text: 'x' });
    expect(early.ok ? null : early.error.code).toBe(ErrorCode.Lifecycle);
    await node.initialize();
    await node.initialize();
    expect(node.initialized).toBe(1);
    expect(node.status).toBe(LifecycleStatus.Ready);
    await node.shutdown();
    expect(node.status).toBe(LifecycleStatus.Stopped);
    expect(node.stopped).toBe(1);
    const late = await node.handle({ text: 'x' });
    expect(late.ok ? null : late.error.code).toBe(ErrorCode.Lifecycle);
  });

  it('returns typed output and passes the correlation id', async () => {
    const node = await ready({ config: { prefix: '+' } });
    const r = await node.handle({ text: 'hi' }, { correlationId: 'corr-1' });
    expect(r).toEqual({ ok: true, value: { text: '+hi', correlationId: 'corr-1' } });
  });

  it('rejects bad input with VALIDATION naming the field, without calling process', async () => {
    const node = await ready();
    const r = await node.handle({ text: 7 }, { correlationId: 'c' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(ErrorCode.Validation);
    expect(r.error.message).toContain('text');
    expect(r.error.correlationId).toBe('c');
    expect(node.metrics().failuresByCode).toEqual({ VALIDATION: 1 });
  });

  it('reports output that breaks the contract as CONTRACT', async () => {
    const node = await ready();
    const r = await node.handle({ text: 'x', fail: 'contract' });
    expect(r.ok ? null : r.error.code).toBe(ErrorCode.Contract);
  });

  it('keeps OnexErrors and hides foreign errors behind INTERNAL', async () => {
    const node = await ready();
    const a = await node.handle({ text: 'x', fail: 'onex' });
    expect(a.ok ? null : a.error.code).toBe(ErrorCode.Conflict);
    const b = await node.handle({ text: 'x', fail: 'foreign' });
    expect(b.ok).toBe(false);
    if (b.ok) return;
    expect(b.error.code).toBe(ErrorCode.Internal);
    expect(b.error.message).not.toContain('s3cret');
  });

  it('aborts process at the deadline and answers TIMEOUT', async () => {
    const node = await ready();
    const started = Date.now();
    const r = await node.handle({ text: 'x', delayMs: 60_000 }, { timeoutMs: 50 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.ok ? null : r.error.code).toBe(ErrorCode.Timeout);
    expect(node.aborted).toBe(1);
  });

  it('cancels when the caller aborts', async () => {
    const node = await ready();
    const controller = new AbortController();
    const pending = node.handle({ text: 'x', delayMs: 5000 }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const r = await pending;
    expect(r.ok ? null : r.error.code).toBe(ErrorCode.Cancelled);
  });

  it('fails fast with OVERLOADED past maxConcurrency', async () => {
    const node = await ready({ maxConcurrency: 2 });
    const slow = [node.handle({ text: 'a', delayMs: 100 }), node.handle({ text: 'b', delayMs: 100 })];
    const third = await node.handle({ text: 'c' });
    expect(third.ok ? null : third.error.code).toBe(ErrorCode.Overloaded);
    expect((await Promise.all(slow)).every((r) => r.ok)).toBe(true);
  });

  it('drains in-flight calls on shutdown', async () => {
    const node = await ready();
    const pending = node.handle({ text: 'x', delayMs: 100 });
    await new Promise((r) => setTimeout(r, 10));
    await node.shutdown();
    expect((await pending).ok).toBe(true);
    expect(node.stopped).toBe(1);
  });

  it('reports health and bounded metrics', async () => {
    const node = await ready({ maxConcurrency: 10 });
    for (let i = 0; i < 20; i += 1) await node.handle({ text: String(i) });
    await node.handle({ text: 1 });
    const m = node.metrics();
    expect(m).toMatchObject({ calls: 21, successes: 20, failures: 1, node: 'echo' });
    expect(m.latency.p99Ms).toBeGreaterThan(0);
    const h = await node.health();
    expect(h).toMatchObject({ status: 'healthy', lifecycle: 'ready', capacity: { inFlight: 0, maxConcurrency: 10 } });
    expect(h.components['store']).toEqual({ status: 'healthy' });
    node.healthOf = { status: 'unhealthy', detail: 'disk full' };
    expect((await node.health()).status).toBe('unhealthy');
  });
});

describe('NodeService interceptors', () => {
  type Options = NodeServiceOptions<Contract['config'], Contract['input'], Contract['output']>;
  class Intercepted extends NodeService<Contract['input'], Contract['output'], Contract['config']> {
    readonly seen: string[] = [];
    constructor(options: Options) {
      super(contract, { logger: createSilentLogger(), ...options });
    }
    protected async process(input: z.output<Contract['input']>, ctx: CallContext): Promise<z.input<Contract['output']>> {
      this.seen.push(input.text);
      if (input.fail === 'contract') return { text: 42 } as unknown as { text: string; correlationId: string };
      if (input.delayMs > 0) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        this.seen.push(`aborted:${String(ctx.signal.reason)}`);
      }
      return { text: input.text, correlationId: ctx.correlationId };
    }
  }

  async function node(options: Options): Promise<Intercepted> {
    const made = new Intercepted(options);
    await made.initialize();
    return made;
  }

  it('runs them around process in order, the first outermost, each seeing what the previous passed on', async () => {
    const order: string[] = [];
    const n = await node({
      interceptors: [
        async (input, _ctx, next) => {
          order.push(`a:${input.text}`);
          const out = await next({ ...input, text: `${input.text}+a` });
          order.push(`a<${out.text}`);
          return { ...out, text: `${out.text}!` };
        },
        async (input, _ctx, next) => {
          order.push(`b:${input.text}`);
          return next({ ...input, text: `${input.text}+b` });
        },
      ],
    });
    const r = await n.handle({ text: 'x' }, { correlationId: 'c-1' });
    expect(r).toEqual({ ok: true, value: { text: 'x+a+b!', correlationId: 'c-1' } });
    expect(order).toEqual(['a:x', 'b:x+a', 'a<x+a+b']);
    expect(n.seen).toEqual(['x+a+b']);
  });

  it('lets one answer without process, and still validates what it answers against the contract', async () => {
    const cached = await node({ interceptors: [async (_input, ctx) => ({ text: 'cached', correlationId: ctx.correlationId })] });
    expect(await cached.handle({ text: 'x' }, { correlationId: 'c-2' })).toEqual({ ok: true, value: { text: 'cached', correlationId: 'c-2' } });
    expect(cached.seen).toEqual([]);
    const broken = await node({ interceptors: [async () => ({ text: 42 }) as unknown as { text: string; correlationId: string }] });
    const r = await broken.handle({ text: 'x' });
    expect(r.ok ? null : r.error.code).toBe(ErrorCode.Contract);
  });

  it('answers what one throws as a failed result, and never lets it see an invalid input', async () => {
    let calls = 0;
    const n = await node({
      interceptors: [
        async () => {
          calls += 1;
          throw new OnexError(ErrorCode.Forbidden, 'not you');
        },
      ],
    });
    const refused = await n.handle({ text: 'x' });
    expect(refused.ok ? null : refused.error.code).toBe(ErrorCode.Forbidden);
    const invalid = await n.handle({ text: 1 });
    expect(invalid.ok ? null : invalid.error.code).toBe(ErrorCode.Validation);
    expect(calls).toBe(1);
  });

  it('hands process the context an interceptor passes to next', async () => {
    const n = await node({
      interceptors: [
        (input, ctx, next) => {
          const controller = new AbortController();
          setTimeout(() => controller.abort('interceptor'), 0);
          return next(input, withSignal(ctx, AbortSignal.any([ctx.signal, controller.signal])));
        },
      ],
    });
    const r = await n.handle({ text: 'slow', delayMs: 1 }, { timeoutMs: 60_000 });
    expect(r.ok).toBe(true);
    expect(n.seen).toEqual(['slow', 'aborted:interceptor']);
  });

  it('accepts interceptors written for every node (CallInterceptor)', async () => {
    const calls: string[] = [];
    const tag: CallInterceptor = async (input, ctx, next) => {
      calls.push(ctx.correlationId);
      return next(input);
    };
    const typed = await node({ interceptors: [tag] });
    const untyped = new Echo({ interceptors: [tag] });
    await untyped.initialize();
    await typed.handle({ text: 'a' }, { correlationId: 'c-typed' });
    await untyped.handle({ text: 'b' }, { correlationId: 'c-untyped' });
    expect(calls).toEqual(['c-typed', 'c-untyped']);
  });
});
