/**
 * The Loki sink: turns each line into a Loki entry and hands it to the batcher.
 *
 * - Labels: `service`, `level`, `command`, `source` only (bounded: the registry's commands, six
 *   levels, the callers' sources). Ids never become labels: each would be a stream of its own.
 * - Structured metadata: `event_id`, `idempotency_key`, `trace_id`, `span_id` (query with
 *   `| event_id="…"`); Grafana's Loki data source links trace_id to the trace.
 * - Timestamp: the event's metadata.timestamp, never the time of the push.
 * - Line: `{"msg":…,"event_id":…}`. The id is in the line as well as in the metadata because Loki
 *   drops an entry as a duplicate when timestamp AND line match one it has, metadata ignored:
 *   two different events with the same message in the same millisecond and stream would
 *   otherwise collapse into one. With the id in it, only a redelivery of the same event matches.
 */
import type { BackoffPolicy } from '../../backoff.ts';
import { LokiBatcher, LokiClient, LokiFailures, type LokiCompression, type LokiLabels, type PushRetryInfo, type StreamEntry } from '../../loki/index.ts';
import { traceLokiPushes } from '../../observability/loki-tracing.ts';
import type { LogLine } from './log-line.ts';
import type { LogWorkerMetrics } from './metrics.ts';
import { DeadLetterReasons, type LogSink, type SinkRejection } from './sink.ts';

export interface LokiSinkOptions {
  /** LOKI_URL */
  url: string;
  /** KITSUNE_LOKI_TENANT, sent as X-Scope-OrgID. (Default: not sent) */
  tenant?: string | undefined;
  /** KITSUNE_SERVICE_NAME: the `service` label. */
  serviceName: string;
  /** KITSUNE_LOKI_BATCH_BYTES (Default: 1_048_576) */
  batchBytes?: number;
  /** KITSUNE_LOKI_BATCH_WAIT_MS (Default: 1_000 ms) */
  batchWaitMs?: number;
  /** KITSUNE_LOKI_TIMEOUT_MS (Default: 10_000 ms) */
  timeoutMs?: number;
  /** KITSUNE_LOKI_COMPRESSION (Default: 'gzip') */
  compression?: LokiCompression;
  /** (Default: 8) */
  maxConcurrentPushes?: number;
  /** (Default: 250 ms doubling to 10 s, full jitter) */
  backoff?: Partial<BackoffPolicy>;
  metrics?: LogWorkerMetrics;
  /** Told of each failed push before the wait, for logs; must not throw. (Default: none) */
  onRetry?: (info: PushRetryInfo) => void;
}

const nsPerMs = 1_000_000n;

/** Most label sets kept for reuse; sources come from callers, so past this the set starts afresh. */
const maxLabelSets = 4_096;

/**
 * One frozen labels object per stream (level, command, source), reused for every line of it, so
 * the batcher finds the stream by the object (streamKey remembers it) instead of sorting and
 * encoding the labels of every line.
 */
export class LabelSets {
  readonly #serviceName: string;
  readonly #sets = new Map<string, Map<string, Map<string, LokiLabels>>>();
  #size = 0;

  constructor(serviceName: string) {
    this.#serviceName = serviceName;
  }

  of(level: string, command: string, source: string): LokiLabels {
    let byCommand = this.#sets.get(level);
    if (byCommand === undefined) this.#sets.set(level, (byCommand = new Map<string, Map<string, LokiLabels>>()));
    let bySource = byCommand.get(command);
    if (bySource === undefined) byCommand.set(command, (bySource = new Map<string, LokiLabels>()));
    let labels = bySource.get(source);
    if (labels === undefined) {
      if (this.#size >= maxLabelSets) {
        this.#sets.clear();
        this.#size = 0;
        return this.of(level, command, source);
      }
      labels = Object.freeze({ service: this.#serviceName, level, command, source });
      bySource.set(source, labels);
      this.#size++;
    }
    return labels;
  }
}

/** The Loki entry of `line`: a pure function of the line, so a redelivery is byte-identical. */
export function lokiEntryOf(line: LogLine, labelSets: LabelSets): StreamEntry {
  const { eventId, idempotencyKey, traceId, spanId } = line;
  // One object literal per case, so every line's metadata has one of two shapes.
  const metadata: Record<string, string> =
    traceId !== undefined && spanId !== undefined
      ? { event_id: eventId, idempotency_key: idempotencyKey, trace_id: traceId, span_id: spanId }
      : { event_id: eventId, idempotency_key: idempotencyKey };
  if (traceId !== undefined && spanId === undefined) metadata.trace_id = traceId;
  if (spanId !== undefined && traceId === undefined) metadata.span_id = spanId;
  return {
    labels: labelSets.of(line.level, line.command, line.source),
    entry: {
      ts: BigInt(line.timestampMs) * nsPerMs,
      // What JSON.stringify({ msg, event_id }) writes, without building the object and walking it.
      line: `{"msg":${JSON.stringify(line.message)},"event_id":${JSON.stringify(eventId)}}`,
      metadata,
    },
  };
}

export function createLokiSink(options: LokiSinkOptions): LogSink {
  const { metrics, serviceName, onRetry } = options;
  const labelSets = new LabelSets(serviceName);
  const batcher = new LokiBatcher({
    pusher: traceLokiPushes(new LokiClient({ url: options.url, tenant: options.tenant, timeoutMs: options.timeoutMs, compression: options.compression }), options.url),
    batchBytes: options.batchBytes,
    batchWaitMs: options.batchWaitMs,
    maxConcurrentPushes: options.maxConcurrentPushes,
    backoff: options.backoff,
    onPush: metrics?.pushed,
    onRetry: (info) => {
      metrics?.retried(info);
      onRetry?.(info);
    },
  });
  return {
    name: 'loki',
    async write(lines: readonly LogLine[]): Promise<SinkRejection[]> {
      const outcomes = await batcher.submit(lines.map((line) => lokiEntryOf(line, labelSets)));
      const rejections: SinkRejection[] = [];
      outcomes.forEach((outcome, index) => {
        if (outcome.accepted) return;
        const failure = (outcome.error as { failure?: unknown }).failure;
        const reason = failure === LokiFailures.tooLarge ? DeadLetterReasons.tooLargeForLoki : DeadLetterReasons.rejectedByLoki;
        rejections.push({ index, reason, error: outcome.error });
      });
      return rejections;
    },
    flush: () => batcher.flush(),
    close: () => batcher.close(),
  };
}
