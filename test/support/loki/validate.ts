/**
 * The distributor's side of a push: label parsing, `service_name` discovery, and the per-stream
 * and per-entry validation of Loki's `limits_config`, in Loki 3's order.
 *
 * What Loki does, and this file with it:
 * - The push parser parses every stream's labels first; one unparsable label set fails the whole
 *   request with 400 `couldn't parse labels: ...` and nothing is stored. Label names must match
 *   `[a-zA-Z_][a-zA-Z0-9_]*`; Loki's docs also call `__`-prefixed names reserved and list them
 *   under `invalid_labels`, so they are refused here too (Loki's code may let some through).
 *   Empty label values are dropped, as Prometheus' label builder does.
 * - The parser then adds `service_name` from the first `discover_service_name` label present, or
 *   `unknown_service`; so with the default list a stream never lacks labels.
 * - The distributor then validates each stream (missing labels, label count without
 *   `service_name`, name and value length) and each entry (too old, too new, line too long,
 *   structured metadata), keeps the valid entries and collects one message per rejection.
 */
import type { PushEntry, PushStream } from './decode.ts';
import { LokiHttpError } from './http.ts';
import type { LokiLimits } from './limits.ts';
import { LokiErrors, Reasons, labelsString } from './messages.ts';
import type { Reason } from './messages.ts';

const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const serviceNameLabel = 'service_name';
const unknownService = 'unknown_service';
const nsPerMs = 1_000_000n;

/** A stream that passed the distributor, with only its valid entries. */
export interface ValidStream {
  readonly labels: ReadonlyMap<string, string>;
  /** `labelsString(labels)`: the stream's identity. */
  readonly key: string;
  readonly entries: readonly PushEntry[];
  /** Lines plus structured metadata, in bytes: what the rate limiters count. */
  readonly bytes: number;
}

export interface Discard {
  readonly reason: Reason;
  readonly entries: number;
  readonly bytes: number;
}

export interface DistributorResult {
  readonly streams: readonly ValidStream[];
  /** One message per rejected stream or entry, for the 400 body. */
  readonly errors: readonly string[];
  readonly discards: readonly Discard[];
}

export function metadataBytes(metadata: ReadonlyMap<string, string>): number {
  let bytes = 0;
  for (const [name, value] of metadata) bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  return bytes;
}

export function entryBytes(entry: PushEntry): number {
  return Buffer.byteLength(entry.line) + metadataBytes(entry.metadata);
}

function entriesBytes(entries: readonly PushEntry[]): number {
  return entries.reduce((sum, entry) => sum + entryBytes(entry), 0);
}

/** Labels in name order, as Prometheus keeps them; answers and entries() list them so. */
export function sortedLabels(labels: ReadonlyMap<string, string>): Map<string, string> {
  return new Map([...labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function labelProblem(name: string): string | undefined {
  if (!labelNamePattern.test(name)) return `invalid label name ${JSON.stringify(name)}: must match [a-zA-Z_][a-zA-Z0-9_]*`;
  if (name.startsWith('__')) return `invalid label name ${JSON.stringify(name)}: names starting with __ are reserved`;
  return undefined;
}

/** The push parser's label step, for every stream; throws 400 for the whole request. */
export function parseStreamLabels(streams: readonly PushStream[], limits: LokiLimits): Map<string, string>[] {
  return streams.map((stream) => {
    for (const name of stream.labels.keys()) {
      const problem = labelProblem(name);
      if (problem !== undefined) {
        throw new LokiHttpError(400, `couldn't parse labels: ${LokiErrors.invalidLabels(labelsString(stream.labels), problem)}`);
      }
    }
    const labels = new Map([...stream.labels].filter(([, value]) => value !== ''));
    if (!labels.has(serviceNameLabel) && limits.discoverServiceName.length > 0) {
      const found = limits.discoverServiceName.find((name) => (labels.get(name) ?? '') !== '');
      labels.set(serviceNameLabel, found === undefined ? unknownService : (labels.get(found) ?? unknownService));
    }
    return sortedLabels(labels);
  });
}

function streamProblem(labels: ReadonlyMap<string, string>, key: string, limits: LokiLimits): { reason: Reason; message: string } | undefined {
  if (labels.size === 0) return { reason: Reasons.MISSING_LABELS, message: LokiErrors.missingLabels() };
  const counted = labels.size - (labels.has(serviceNameLabel) ? 1 : 0);
  if (counted > limits.maxLabelNamesPerSeries) {
    return { reason: Reasons.MAX_LABEL_NAMES_PER_SERIES, message: LokiErrors.maxLabelNames(key, counted, limits.maxLabelNamesPerSeries) };
  }
  for (const name of [...labels.keys()].sort()) {
    const value = labels.get(name) ?? '';
    if (Buffer.byteLength(name) > limits.maxLabelNameLength) {
      return { reason: Reasons.LABEL_NAME_TOO_LONG, message: LokiErrors.labelNameTooLong(key, name) };
    }
    if (Buffer.byteLength(value) > limits.maxLabelValueLength) {
      return { reason: Reasons.LABEL_VALUE_TOO_LONG, message: LokiErrors.labelValueTooLong(key, value) };
    }
  }
  return undefined;
}

function entryProblem(entry: PushEntry, key: string, limits: LokiLimits, nowNs: bigint): { reason: Reason; message: string } | undefined {
  const oldest = nowNs - BigInt(limits.rejectOldSamplesMaxAgeMs) * nsPerMs;
  if (limits.rejectOldSamples && entry.ts < oldest) {
    return { reason: Reasons.GREATER_THAN_MAX_SAMPLE_AGE, message: LokiErrors.tooOld(key, entry.ts, oldest) };
  }
  if (entry.ts > nowNs + BigInt(limits.creationGracePeriodMs) * nsPerMs) {
    return { reason: Reasons.TOO_FAR_IN_FUTURE, message: LokiErrors.tooNew(key, entry.ts) };
  }
  const length = Buffer.byteLength(entry.line);
  if (limits.maxLineSize !== 0 && length > limits.maxLineSize) {
    return { reason: Reasons.LINE_TOO_LONG, message: LokiErrors.lineTooLong(limits.maxLineSize, key, length) };
  }
  if (entry.metadata.size === 0) return undefined;
  if (!limits.allowStructuredMetadata) {
    return { reason: Reasons.DISALLOWED_STRUCTURED_METADATA, message: LokiErrors.disallowedMetadata(key) };
  }
  const size = metadataBytes(entry.metadata);
  if (limits.maxStructuredMetadataSize !== 0 && size > limits.maxStructuredMetadataSize) {
    return { reason: Reasons.STRUCTURED_METADATA_TOO_LARGE, message: LokiErrors.metadataTooLarge(key, size, limits.maxStructuredMetadataSize) };
  }
  const count = entry.metadata.size;
  if (limits.maxStructuredMetadataEntriesCount !== 0 && count > limits.maxStructuredMetadataEntriesCount) {
    return { reason: Reasons.STRUCTURED_METADATA_TOO_MANY, message: LokiErrors.metadataTooMany(key, count, limits.maxStructuredMetadataEntriesCount) };
  }
  return undefined;
}

/** Validates parsed streams; never throws. Streams without entries are skipped, as in Loki. */
export function validateStreams(
  streams: readonly PushStream[],
  parsedLabels: readonly ReadonlyMap<string, string>[],
  limits: LokiLimits,
  nowNs: bigint,
): DistributorResult {
  const valid: ValidStream[] = [];
  const errors: string[] = [];
  const discards: Discard[] = [];
  streams.forEach((stream, i) => {
    if (stream.entries.length === 0) return;
    const labels = parsedLabels[i] ?? new Map<string, string>();
    const key = labelsString(labels);
    const problem = streamProblem(labels, key, limits);
    if (problem !== undefined) {
      errors.push(problem.message);
      discards.push({ reason: problem.reason, entries: stream.entries.length, bytes: entriesBytes(stream.entries) });
      return;
    }
    const kept: PushEntry[] = [];
    let bytes = 0;
    for (const entry of stream.entries) {
      const rejection = entryProblem(entry, key, limits, nowNs);
      if (rejection === undefined) {
        kept.push(entry);
        bytes += entryBytes(entry);
        continue;
      }
      errors.push(rejection.message);
      discards.push({ reason: rejection.reason, entries: 1, bytes: entryBytes(entry) });
    }
    if (kept.length > 0) valid.push({ labels, key, entries: kept, bytes });
  });
  return { streams: valid, errors, discards };
}
