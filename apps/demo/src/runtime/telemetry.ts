import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** The tracing of one demo process, once registered: flush and stop it on the way out. */
export interface DemoTelemetry {
  /** True when spans are exported over OTLP (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set). */
  readonly exporting: boolean;
  /** Exports the spans still buffered, then stops the provider. */
  shutdown(): Promise<void>;
}

/**
 * Registers the OpenTelemetry SDK in a demo node process: a `NodeTracerProvider` (AsyncLocalStorage context, the W3C
 * trace-context propagator) whose spans the ONEX packages report through `@opentelemetry/api`. Log lines then carry
 * `trace_id` and `span_id` and every HTTP hop sends `traceparent`, so one order is one trace across the processes.
 *
 * Spans are exported over OTLP/HTTP (protobuf-free JSON, batched) when `OTEL_EXPORTER_OTLP_ENDPOINT` (e.g.
 * `http://127.0.0.1:4318`) or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; the exporter reads its other
 * `OTEL_EXPORTER_OTLP_*` variables itself (headers, timeout). `OTEL_SDK_DISABLED=true` registers nothing: the
 * packages' spans are then no-ops. The service name is `OTEL_SERVICE_NAME`, else the process's name.
 *
 * @example
 * ```ts
 * const telemetry = startTelemetry('pricing');
 * // … serve the node …
 * await telemetry?.shutdown();
 * ```
 */
export function startTelemetry(processName: string, env: NodeJS.ProcessEnv = process.env): DemoTelemetry | undefined {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return undefined;
  const exporting = nonEmpty(env['OTEL_EXPORTER_OTLP_ENDPOINT']) || nonEmpty(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  const spanProcessors: SpanProcessor[] = exporting ? [new BatchSpanProcessor(new OTLPTraceExporter())] : [];
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        'service.name': nonEmpty(env['OTEL_SERVICE_NAME']) ? env['OTEL_SERVICE_NAME'] : processName,
        'service.namespace': 'onex-demo',
        'service.instance.id': `${processName}-${process.pid}`,
      }),
    ),
    spanProcessors,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return { exporting, shutdown: () => provider.shutdown() };
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}
