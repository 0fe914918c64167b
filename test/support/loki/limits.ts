/**
 * The subset of Loki's `limits_config` (and two ingester settings) that the test server enforces.
 * Names are Loki's, camel-cased; sizes are bytes and durations milliseconds. Defaults are Loki 3's
 * documented defaults, so a test that does not override a limit sees what a stock Loki would do.
 */
export interface LokiLimits {
  /** `max_line_size`: longest accepted line in bytes; 0 = no limit. (Default: 256KB) */
  maxLineSize: number;
  /** `max_label_names_per_series`; a `service_name` label is not counted. (Default: 15) */
  maxLabelNamesPerSeries: number;
  /** `max_label_name_length`, in bytes. (Default: 1024) */
  maxLabelNameLength: number;
  /** `max_label_value_length`, in bytes. (Default: 2048) */
  maxLabelValueLength: number;
  /** `reject_old_samples`. (Default: true) */
  rejectOldSamples: boolean;
  /** `reject_old_samples_max_age`. (Default: 168h, one week) */
  rejectOldSamplesMaxAgeMs: number;
  /** `creation_grace_period`: how far in the future a timestamp may be. (Default: 10m) */
  creationGracePeriodMs: number;
  /** Ingester `max_chunk_age`; out-of-order entries are accepted within half of it. (Default: 2h) */
  maxChunkAgeMs: number;
  /** `unordered_writes`; false brings back pre-2.4 `out_of_order` rejections. (Default: true) */
  unorderedWrites: boolean;
  /** `ingestion_rate_mb`, per tenant; 0 = no limit. (Default: 4) */
  ingestionRateMb: number;
  /** `ingestion_burst_size_mb`, per tenant. (Default: 6) */
  ingestionBurstSizeMb: number;
  /** `per_stream_rate_limit`, bytes per second; 0 = no limit. (Default: 3MB) */
  perStreamRateLimit: number;
  /** `per_stream_rate_limit_burst`, bytes. (Default: 15MB) */
  perStreamRateLimitBurst: number;
  /**
   * `shard_streams.enabled`. When on, Loki's ingester rate-limits a stream's part of a push as a
   * whole (all or none); when off, entry by entry. Sharding itself is not emulated. (Default: true)
   */
  shardStreamsEnabled: boolean;
  /** `max_global_streams_per_user`: streams a tenant may have; 0 = no limit. (Default: 5000) */
  maxGlobalStreamsPerUser: number;
  /** `allow_structured_metadata`. (Default: true) */
  allowStructuredMetadata: boolean;
  /** `max_structured_metadata_size`: names plus values, in bytes; 0 = no limit. (Default: 64KB) */
  maxStructuredMetadataSize: number;
  /** `max_structured_metadata_entries_count`; 0 = no limit. (Default: 128) */
  maxStructuredMetadataEntriesCount: number;
  /** `max_entries_limit_per_query`: highest `limit` a query may ask for. (Default: 5000) */
  maxEntriesLimitPerQuery: number;
  /**
   * `discover_service_name`: with no `service_name` label, Loki copies the first of these labels
   * that the stream has into `service_name`, or sets `unknown_service`. [] turns it off.
   * (Default: Loki's list, see below)
   */
  discoverServiceName: readonly string[];
  /** `-distributor.max-recv-msg-size`: largest (decompressed) push body. (Default: 100MB) */
  maxRecvMsgSize: number;
  /** Ingester `max_returned_stream_errors`: entries named in one out-of-order error. (Default: 10) */
  maxReturnedStreamErrors: number;
}

const KB = 1024;
const MB = 1024 * KB;
const hour = 3_600_000;

export const defaultLokiLimits = {
  maxLineSize: 256 * KB,
  maxLabelNamesPerSeries: 15,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  rejectOldSamples: true,
  rejectOldSamplesMaxAgeMs: 168 * hour,
  creationGracePeriodMs: 10 * 60_000,
  maxChunkAgeMs: 2 * hour,
  unorderedWrites: true,
  ingestionRateMb: 4,
  ingestionBurstSizeMb: 6,
  perStreamRateLimit: 3 * MB,
  perStreamRateLimitBurst: 15 * MB,
  shardStreamsEnabled: true,
  maxGlobalStreamsPerUser: 5000,
  allowStructuredMetadata: true,
  maxStructuredMetadataSize: 64 * KB,
  maxStructuredMetadataEntriesCount: 128,
  maxEntriesLimitPerQuery: 5000,
  discoverServiceName: [
    'service',
    'app',
    'application',
    'app_name',
    'name',
    'app_kubernetes_io_name',
    'container',
    'container_name',
    'k8s_container_name',
    'component',
    'workload',
    'job',
    'k8s_job_name',
  ],
  maxRecvMsgSize: 100 * MB,
  maxReturnedStreamErrors: 10,
} as const satisfies LokiLimits;

/** Loki's `ingestion_rate_mb` is MiB: `rate * (1 << 20)` bytes per second. */
export const bytesPerMb = MB;

export function resolveLimits(overrides: Partial<LokiLimits> = {}): LokiLimits {
  const limits: LokiLimits = { ...defaultLokiLimits, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value === 'number' && !(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`loki test server: limit ${name} must be a finite number >= 0, got ${value}`);
    }
  }
  return limits;
}
