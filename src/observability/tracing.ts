/**
 * OpenTelemetry tracing: off unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT
 * or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), then every span goes through a batch processor to an
 * OTLP/HTTP exporter. The SDK reads the other standard variables itself: OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_EXPORTER_OTLP_(TRACES_)HEADERS,
 * _TIMEOUT, _COMPRESSION, OTEL_BSP_*, OTEL_PROPAGATORS.
 *
 * Kitsune's code creates spans through @opentelemetry/api only. While tracing is off no provider
 * is registered and the instrumentation is not installed at all (tracingActive() is false), so
 * the off state costs nothing per request.
 */
import { trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface TracingOptions {
  /** OTLP over HTTP, as OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says. */
  protocol: 'http/protobuf' | 'http/json';
  /** service.name unless OTEL_SERVICE_NAME says otherwise. */
  serviceName: string;
  role: string;
}

export interface Tracing {
  /** Exports what is buffered and stops; idempotent. */
  shutdown(): Promise<void>;
}

let active = false;

/** True once startTracing() ran in this process: instrumentation only installs itself then. */
export function tracingActive(): boolean {
  return active;
}

/** Kitsune's tracer (a no-op until startTracing() registers the provider). */
export function tracer(): Tracer {
  return trace.getTracer('kitsune');
}

export function startTracing(options: TracingOptions): Tracing {
  // Later resources win: Kitsune's defaults, then what the environment says.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': options.serviceName, 'kitsune.role': options.role }))
    .merge(detectResources({ detectors: [envDetector] }));
  const exporter = options.protocol === 'http/json' ? new OtlpJsonExporter() : new OtlpProtoExporter();
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  provider.register();
  active = true;
  let stopping: Promise<void> | undefined;
  return {
    shutdown: () =>
      (stopping ??= provider.shutdown().finally(() => {
        active = false;
      })),
  };
}
