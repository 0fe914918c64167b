/**
 * Loki's discard reasons (the `reason` label of `loki_discarded_samples_total`) and its error
 * texts, worded as in Loki 3's `pkg/validation/validate.go`, `pkg/ingester/stream.go` and
 * `pkg/chunkenc`, with Go's formatting of times, label sets and byte sizes reproduced. Clients
 * must not parse these texts (Loki does not promise them); they are here so a human reading a
 * test failure sees what Loki would have said.
 */
export const Reasons = {
  LINE_TOO_LONG: 'line_too_long',
  INVALID_LABELS: 'invalid_labels',
  MISSING_LABELS: 'missing_labels',
  MAX_LABEL_NAMES_PER_SERIES: 'max_label_names_per_series',
  LABEL_NAME_TOO_LONG: 'label_name_too_long',
  LABEL_VALUE_TOO_LONG: 'label_value_too_long',
  GREATER_THAN_MAX_SAMPLE_AGE: 'greater_than_max_sample_age',
  TOO_FAR_IN_FUTURE: 'too_far_in_future',
  TOO_FAR_BEHIND: 'too_far_behind',
  OUT_OF_ORDER: 'out_of_order',
  RATE_LIMITED: 'rate_limited',
  PER_STREAM_RATE_LIMIT: 'per_stream_rate_limit',
  STREAM_LIMIT: 'stream_limit',
  DISALLOWED_STRUCTURED_METADATA: 'disallowed_structured_metadata',
  STRUCTURED_METADATA_TOO_LARGE: 'structured_metadata_too_large',
  STRUCTURED_METADATA_TOO_MANY: 'structured_metadata_too_many',
} as const;

export type Reason = (typeof Reasons)[keyof typeof Reasons];

/** Prometheus `labels.Labels.String()`: sorted by name, values quoted, `, ` between pairs. */
export function labelsString(labels: ReadonlyMap<string, string>): string {
  const pairs = [...labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${pairs.map(([name, value]) => `${name}=${JSON.stringify(value)}`).join(', ')}}`;
}

const nsPerSecond = 1_000_000_000n;

function utcParts(ns: bigint): { date: Date; fraction: bigint } {
  let seconds = ns / nsPerSecond;
  let fraction = ns % nsPerSecond;
  if (fraction < 0n) {
    fraction += nsPerSecond;
    seconds -= 1n;
  }
  return { date: new Date(Number(seconds) * 1000), fraction };
}

/** Go's `t.Format(time.RFC3339)` for a UTC time: whole seconds, `Z`. */
export function goRfc3339(ns: bigint): string {
  return utcParts(ns).date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Go's `t.String()` for a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC`. */
export function goTimeString(ns: bigint): string {
  const { date, fraction } = utcParts(ns);
  const base = date.toISOString().slice(0, 19).replace('T', ' ');
  const digits = fraction === 0n ? '' : `.${fraction.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${base}${digits} +0000 UTC`;
}

/** `flagext.ByteSize.String()`, i.e. alecthomas/units Base2Bytes: `3MiB`, `1KiB476B`, `0B`. */
export function goByteSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;
  if (bytes === 0) return '0B';
  let rest = Math.floor(bytes);
  const parts: string[] = [];
  for (const unit of units) {
    const part = rest % 1024;
    if (part !== 0) parts.unshift(`${part}${unit}`);
    rest = Math.floor(rest / 1024);
    if (rest === 0) break;
  }
  return parts.join('');
}

/** Texts of Loki's rejections, one function per reason. */
export const LokiErrors = {
  lineTooLong: (max: number, stream: string, length: number) =>
    `Max entry size '${max}' bytes exceeded for stream '${stream}' while adding an entry with length '${length}' bytes`,
  invalidLabels: (stream: string, detail: string) => `Error parsing labels '${stream}' with error: ${detail}`,
  missingLabels: () => 'error at least one label pair is required per stream',
  maxLabelNames: (stream: string, count: number, limit: number) =>
    `entry for stream '${stream}' has ${count} label names; limit ${limit}`,
  labelNameTooLong: (stream: string, name: string) => `stream '${stream}' has label name too long: '${name}'`,
  labelValueTooLong: (stream: string, value: string) => `stream '${stream}' has label value too long: '${value}'`,
  tooOld: (stream: string, ts: bigint, oldest: bigint) =>
    `entry for stream '${stream}' has timestamp too old: ${goRfc3339(ts)}, oldest acceptable timestamp is: ${goRfc3339(oldest)}`,
  tooNew: (stream: string, ts: bigint) => `entry for stream '${stream}' has timestamp too new: ${goRfc3339(ts)}`,
  disallowedMetadata: (stream: string) =>
    `stream '${stream}' includes structured metadata, but this feature is disallowed. Please see \`limits_config.allow_structured_metadata\` or contact your Loki administrator to enable it.`,
  metadataTooLarge: (stream: string, size: number, limit: number) =>
    `stream '${stream}' has structured metadata too large: '${size}' bytes, limit: '${limit}' bytes. Please see \`limits_config.max_structured_metadata_size\` or contact your Loki administrator to increase it.`,
  metadataTooMany: (stream: string, count: number, limit: number) =>
    `stream '${stream}' has too many structured metadata labels: '${count}', limit: '${limit}'. Please see \`limits_config.max_structured_metadata_entries_count\` or contact your Loki administrator to increase it.`,
  rateLimited: (tenant: string, limit: number, lines: number, bytes: number) =>
    `Ingestion rate limit exceeded for user ${tenant} (limit: ${Math.floor(limit)} bytes/sec) while attempting to ingest '${lines}' lines totaling '${bytes}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased`,
  streamRateLimited: (limit: number, stream: string, bytes: number) =>
    `Per stream rate limit exceeded (limit: ${goByteSize(limit)}/sec) while attempting to ingest for stream '${stream}' totaling ${goByteSize(bytes)}, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased`,
  streamLimit: (stream: string, tenant: string) =>
    `Maximum active stream limit exceeded when trying to create stream ${stream}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: '${tenant}'`,
  tooFarBehind: (ts: bigint, cutoff: bigint) =>
    `entry too far behind, entry timestamp is: ${goRfc3339(ts)}, oldest acceptable timestamp is: ${goRfc3339(cutoff)}`,
  outOfOrder: () => 'entry out of order',
  missingStreams: () => 'error at least one valid stream is required for ingestion',
  bodyTooLarge: (size: number, limit: number) => `request body too large: ${size} bytes, limit: ${limit} bytes`,
} as const;

/**
 * `util.GroupedErrors.Error()` from Loki's distributor: identical messages are folded into
 * `N errors like: <message>`, groups joined with `; `. Go ranges over a map here, so Loki's group
 * order is random; first-seen order is used instead.
 */
export function groupedErrors(messages: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const message of messages) counts.set(message, (counts.get(message) ?? 0) + 1);
  const many = counts.size > 1;
  return [...counts].map(([message, n]) => (many || n > 1 ? `${n} errors like: ${message}` : message)).join('; ');
}
