import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { context, propagation, ProxyTracerProvider, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createInProcessClient,
  createLogger,
  createNodeClient,
  createSilentLogger,
  defineContract,
  ErrorCode,
  NodeKind,
  NodeService,
  OnexAttribute,
  OnexError,
  serveNode,
  type CallContext,
  type Logger,
} from '../src/index.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
afterEach(() => exporter.reset());
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

class LineStream extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    for (const line of chunk.toString().split('\n')) if (line !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    callback();
  }
}

const greeter = defineContract({
  name: 'greeter',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ name: z.string() }),
  output: z.object({ greeting: z.string() }),
});

class Greeter extends NodeService<typeof greeter.input, typeof greeter.output, typeof greeter.config> {
  constructor(logger: Logger = createSilentLogger()) {
    super(greeter, { logger });
  }
  protected async process(input: { name: string }, ctx: CallContext): Promise<{ greeting: string }> {
    ctx.logger.info('greeting');
    if (input.name === 'nobody') throw new OnexError(ErrorCode.NotFound, 'No such person: nobody');
    return { greeting: `Hello ${input.name}` };
  }
}

const byName = (name: string): ReadableSpan => {
  const span = exporter.getFinishedSpans().find((s) => s.name === name);
  if (span === undefined) throw new Error(`no span '${name}' in ${exporter.getFinishedSpans().map((s) => s.name).join(', ')}`);
  return span;
};

describe('tracing in core', () => {
  it('puts the trace and span ids of the active span on log lines, and none outside a span', () => {
    const out = new LineStream();
    const logger = createLogger({ name: 'traced', destination: out });
    logger.info('outside');
    const span = trace.getTracer('test').startSpan('work');
    context.with(trace.setSpan(context.active(), span), () => {
      logger.info('inside');
      logger.child({ correlationId: 'c-1' }).warn('inside, child');
    });
    span.end();
    const { traceId, spanId } = span.spanContext();
    expect(out.lines[0]).not.toHaveProperty('trace_id');
    expect(out.lines[0]).not.toHaveProperty('span_id');
    // The sanitizer leaves the ids alone: they are not secrets.
    expect(out.lines[1]).toMatchObject({ msg: 'inside', trace_id: traceId, span_id: spanId });
    expect(out.lines[2]).toMatchObject({ msg: 'inside, child', correlationId: 'c-1', trace_id: traceId, span_id: spanId });
  });

  it('writes span ids of decimal digits as they are, though the sanitizer would take one for a card number', () => {
    const out = new LineStream();
    const logger = createLogger({ destination: out });
    // 5552125253792176 passes the Luhn check: as a logged field, the sanitizer masks it.
    const digits = new BasicTracerProvider({ idGenerator: { generateTraceId: () => '4111111111111111abcdefabcdefabcd', generateSpanId: () => '5552125253792176' } });
    const span = digits.getTracer('test').startSpan('work');
    context.with(trace.setSpan(context.active(), span), () => logger.info({ card: '5552125253792176' }, 'inside'));
    span.end();
    expect(out.lines[0]).toMatchObject({ card: '[REDACTED]', trace_id: '4111111111111111abcdefabcdefabcd', span_id: '5552125253792176' });
  });

  it('traces an HTTP call: a client span, then the served node’s server span as its child in the same trace', async () => {
    const out = new LineStream();
    const served = await serveNode(new Greeter(createLogger({ name: 'greeter', destination: out })));
    const client = createNodeClient(served.url, greeter);
    try {
      const r = await client.call({ name: 'Ada' }, { idempotencyKey: 'greet-ada', correlationId: 'corr-1' });
      expect(r.ok).toBe(true);
      const call = byName('call greeter');
      const processed = byName('process greeter');
      expect(call.kind).toBe(SpanKind.CLIENT);
      expect(processed.kind).toBe(SpanKind.SERVER);
      expect(processed.spanContext().traceId).toBe(call.spanContext().traceId);
      expect(processed.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
      expect(processed.parentSpanContext?.isRemote).toBe(true);
      expect(call.attributes).toMatchObject({ [OnexAttribute.Node]: 'greeter', [OnexAttribute.IdempotencyKey]: 'greet-ada', 'server.address': '127.0.0.1' });
      expect(processed.attributes).toMatchObject({ [OnexAttribute.Node]: 'greeter', [OnexAttribute.IdempotencyKey]: 'greet-ada', [OnexAttribute.CorrelationId]: 'corr-1' });
      // The node's log line, written in process(), carries the server span's ids.
      const line = out.lines.find((l) => l['msg'] === 'greeting');
      expect(line).toMatchObject({ trace_id: processed.spanContext().traceId, span_id: processed.spanContext().spanId });
    } finally {
      await client.close();
      await served.close();
    }
  });

  it('continues the caller’s trace and marks failures ERROR with the ONEX code', async () => {
    const served = await serveNode(new Greeter());
    const client = createNodeClient(served.url, greeter);
    const outer = trace.getTracer('test').startSpan('caller');
    try {
      const r = await context.with(trace.setSpan(context.active(), outer), () => client.call({ name: 'nobody' }));
      expect(r.ok).toBe(false);
      outer.end();
      const call = byName('call greeter');
      const processed = byName('process greeter');
      expect(call.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
      expect(new Set([call, processed].map((s) => s.spanContext().traceId))).toEqual(new Set([outer.spanContext().traceId]));
      for (const span of [call, processed]) {
        expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: ErrorCode.NotFound });
        expect(span.attributes[OnexAttribute.ErrorCode]).toBe(ErrorCode.NotFound);
      }
    } finally {
      await client.close();
      await served.close();
    }
  });

  it('traces an in-process call the same way (the process span is internal, a child of the call span)', async () => {
    const node = new Greeter();
    await node.initialize();
    const client = createInProcessClient(node);
    await client.call({ name: 'Ada' });
    const call = byName('call greeter');
    const processed = byName('process greeter');
    expect(processed.kind).toBe(SpanKind.INTERNAL);
    expect(processed.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
    expect(processed.spanContext().traceId).toBe(call.spanContext().traceId);
    await node.shutdown();
  });

  it('sends no traceparent and makes no span with a no-op tracer provider', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ greeting: 'hi' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const noop = createNodeClient(url, greeter, { tracerProvider: new ProxyTracerProvider() });
    const traced = createNodeClient(url, greeter);
    try {
      await noop.call({ name: 'Ada' });
      await traced.call({ name: 'Ada' });
      expect(seen[0]).not.toHaveProperty('traceparent');
      expect(seen[1]?.['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['call greeter']);
    } finally {
      await noop.close();
      await traced.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
