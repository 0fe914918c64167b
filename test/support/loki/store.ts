/**
 * The ingester's side of a push, and the data it keeps: tenants, their streams and entries, in
 * memory, forever (no retention, no chunk flushing).
 *
 * What Loki's ingester does, and this store with it, per stream of a push:
 * - An entry with the same timestamp and line as one already in the stream is a duplicate: it is
 *   dropped silently and the push still succeeds. Loki only guarantees this against the last
 *   line and the entries of the in-memory chunk; here it holds for the stream's whole life, which
 *   is the same thing while no chunk is flushed. The first entry's structured metadata is kept.
 * - Out-of-order writes (Loki >= 2.4, `unordered_writes`) are accepted unless older than the
 *   stream's newest entry minus `max_chunk_age / 2` (1h by default): `too_far_behind`. With
 *   `unordered_writes: false`, anything older than the newest entry is `out_of_order`.
 * - `per_stream_rate_limit`: with `shard_streams.enabled` (Loki 3's default) the stream's part of
 *   the push is allowed or refused as a whole; otherwise entry by entry.
 * - `max_global_streams_per_user`: creating one stream too many is `stream_limit` (429).
 * - The other entries of the stream are stored. The error (400 for out-of-order entries, 429 for a
 *   rate limit) names up to `max_returned_stream_errors` entries. Across streams, Loki's
 *   `instance.Push` returns what happened to the LAST stream of the request only, so an earlier
 *   stream's rejections are not reported if the last stream went through. This store does the
 *   same; the rejections still count in stats().
 */
import type { PushEntry } from './decode.ts';
import { LokiHttpError } from './http.ts';
import { bytesPerMb } from './limits.ts';
import type { LokiLimits } from './limits.ts';
import { LokiErrors, Reasons, goTimeString } from './messages.ts';
import type { Reason } from './messages.ts';
import { TokenBucket } from './ratelimit.ts';
import { entryBytes } from './validate.ts';
import type { Discard, ValidStream } from './validate.ts';

/** One stored log entry, as tests read it. */
export interface StoredEntry {
  readonly tenant: string;
  /** Stream labels, `service_name` included when Loki would have added it. */
  readonly labels: Readonly<Record<string, string>>;
  /** Unix epoch nanoseconds. */
  readonly ts: bigint;
  readonly line: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface StoredRow {
  readonly ts: bigint;
  readonly line: string;
  readonly metadata: ReadonlyMap<string, string>;
  /** Order of arrival across the whole store; breaks timestamp ties as Loki's write order does. */
  readonly seq: number;
}

export class StoredStream {
  readonly labels: ReadonlyMap<string, string>;
  readonly labelsRecord: Readonly<Record<string, string>>;
  readonly key: string;
  readonly rows: StoredRow[] = [];
  readonly limiter: TokenBucket;
  highestTs: bigint | undefined;
  readonly #linesAt = new Map<bigint, Set<string>>();

  constructor(labels: ReadonlyMap<string, string>, key: string, limiter: TokenBucket) {
    this.labels = labels;
    this.labelsRecord = Object.freeze(Object.fromEntries(labels));
    this.key = key;
    this.limiter = limiter;
  }

  has(ts: bigint, line: string): boolean {
    return this.#linesAt.get(ts)?.has(line) === true;
  }

  add(row: StoredRow): void {
    this.rows.push(row);
    let lines = this.#linesAt.get(row.ts);
    if (lines === undefined) {
      lines = new Set();
      this.#linesAt.set(row.ts, lines);
    }
    lines.add(row.line);
    if (this.highestTs === undefined || row.ts > this.highestTs) this.highestTs = row.ts;
  }
}

export class TenantData {
  readonly streams = new Map<string, StoredStream>();
  readonly limiter: TokenBucket;

  constructor(limiter: TokenBucket) {
    this.limiter = limiter;
  }
}

export interface IngestResult {
  readonly stored: number;
  readonly duplicates: number;
  readonly discards: readonly Discard[];
  /** What the request is answered with: the last stream's error, or none. */
  readonly error: LokiHttpError | undefined;
}

interface Failed {
  readonly entry: PushEntry;
  readonly reason: Reason;
  readonly message: string;
}

const nsPerMs = 1_000_000n;

export class LokiStore {
  readonly #limits: LokiLimits;
  readonly #tenants = new Map<string, TenantData>();
  #seq = 0;

  constructor(limits: LokiLimits) {
    this.#limits = limits;
  }

  tenant(id: string, nowMs: number): TenantData {
    let data = this.#tenants.get(id);
    if (data === undefined) {
      const { ingestionRateMb, ingestionBurstSizeMb } = this.#limits;
      data = new TenantData(new TokenBucket(ingestionRateMb * bytesPerMb, ingestionBurstSizeMb * bytesPerMb, nowMs));
      this.#tenants.set(id, data);
    }
    return data;
  }

  /** The tenant's streams, or none; reading never creates a tenant. */
  streamsOf(id: string): Iterable<StoredStream> {
    return this.#tenants.get(id)?.streams.values() ?? [];
  }

  tenantIds(): string[] {
    return [...this.#tenants.keys()];
  }

  streamCount(): number {
    let count = 0;
    for (const data of this.#tenants.values()) count += data.streams.size;
    return count;
  }

  /** Everything stored, oldest first (ties in arrival order); one tenant's, or all. */
  entries(tenant?: string): StoredEntry[] {
    const ids = tenant === undefined ? this.tenantIds() : [tenant];
    const rows: { tenant: string; stream: StoredStream; row: StoredRow }[] = [];
    for (const id of ids) {
      for (const stream of this.streamsOf(id)) for (const row of stream.rows) rows.push({ tenant: id, stream, row });
    }
    rows.sort((a, b) => (a.row.ts < b.row.ts ? -1 : a.row.ts > b.row.ts ? 1 : a.row.seq - b.row.seq));
    return rows.map(({ tenant: id, stream, row }) => ({
      tenant: id,
      labels: stream.labelsRecord,
      ts: row.ts,
      line: row.line,
      metadata: Object.freeze(Object.fromEntries(row.metadata)),
    }));
  }

  reset(): void {
    this.#tenants.clear();
  }

  dropTenant(id: string): void {
    this.#tenants.delete(id);
  }

  /** Stores what the distributor let through, stream by stream, as Loki's ingester does. */
  ingest(tenantId: string, streams: readonly ValidStream[], nowMs: number): IngestResult {
    const tenant = this.tenant(tenantId, nowMs);
    const discards: Discard[] = [];
    let stored = 0;
    let duplicates = 0;
    let error: LokiHttpError | undefined;
    for (const pushed of streams) {
      let stream = tenant.streams.get(pushed.key);
      if (stream === undefined) {
        const max = this.#limits.maxGlobalStreamsPerUser;
        if (max !== 0 && tenant.streams.size >= max) {
          discards.push({ reason: Reasons.STREAM_LIMIT, entries: pushed.entries.length, bytes: pushed.bytes });
          error = new LokiHttpError(429, LokiErrors.streamLimit(pushed.key, tenantId));
          continue;
        }
        const { perStreamRateLimit, perStreamRateLimitBurst } = this.#limits;
        stream = new StoredStream(pushed.labels, pushed.key, new TokenBucket(perStreamRateLimit, perStreamRateLimitBurst, nowMs));
        tenant.streams.set(pushed.key, stream);
      }
      const outcome = this.#pushStream(stream, pushed.entries, nowMs);
      stored += outcome.stored;
      duplicates += outcome.duplicates;
      for (const failed of outcome.failed) discards.push({ reason: failed.reason, entries: 1, bytes: entryBytes(failed.entry) });
      // Loki overwrites the error with each stream's result, success included.
      error = outcome.failed.length > 0 ? this.#streamError(tenantId, stream, outcome.reported, pushed.entries.length) : undefined;
    }
    return { stored, duplicates, discards, error };
  }

  #pushStream(
    stream: StoredStream,
    entries: readonly PushEntry[],
    nowMs: number,
  ): { stored: number; duplicates: number; failed: Failed[]; reported: Failed[] } {
    const limits = this.#limits;
    const wholeStream = limits.shardStreamsEnabled;
    const window = (BigInt(limits.maxChunkAgeMs) * nsPerMs) / 2n;
    const failed: Failed[] = [];
    const accepted: PushEntry[] = [];
    const batch = new Map<bigint, Set<string>>();
    let highest = stream.highestTs;
    let duplicates = 0;
    for (const entry of entries) {
      if (stream.has(entry.ts, entry.line) || batch.get(entry.ts)?.has(entry.line) === true) {
        duplicates += 1;
        continue;
      }
      const bytes = entryBytes(entry);
      if (!wholeStream && !stream.limiter.allowN(bytes, nowMs)) {
        failed.push({ entry, reason: Reasons.PER_STREAM_RATE_LIMIT, message: LokiErrors.streamRateLimited(limits.perStreamRateLimit, stream.key, bytes) });
        continue;
      }
      if (highest !== undefined && entry.ts < highest - window) {
        failed.push({ entry, reason: Reasons.TOO_FAR_BEHIND, message: LokiErrors.tooFarBehind(entry.ts, highest - window) });
        continue;
      }
      if (!limits.unorderedWrites && highest !== undefined && entry.ts < highest) {
        failed.push({ entry, reason: Reasons.OUT_OF_ORDER, message: LokiErrors.outOfOrder() });
        continue;
      }
      accepted.push(entry);
      const lines = batch.get(entry.ts) ?? new Set<string>();
      lines.add(entry.line);
      batch.set(entry.ts, lines);
      if (highest === undefined || entry.ts > highest) highest = entry.ts;
    }
    if (wholeStream && accepted.length > 0) {
      const bytes = accepted.reduce((sum, entry) => sum + entryBytes(entry), 0);
      if (!stream.limiter.allowN(bytes, nowMs)) {
        // Loki reports only the rate-limited entries then, and stores nothing of this stream.
        const limited = accepted.map((entry) => ({
          entry,
          reason: Reasons.PER_STREAM_RATE_LIMIT,
          message: LokiErrors.streamRateLimited(limits.perStreamRateLimit, stream.key, entryBytes(entry)),
        }));
        return { stored: 0, duplicates, failed: [...failed, ...limited], reported: limited };
      }
    }
    for (const entry of accepted) {
      this.#seq += 1;
      stream.add({ ts: entry.ts, line: entry.line, metadata: entry.metadata, seq: this.#seq });
    }
    return { stored: accepted.length, duplicates, failed, reported: failed };
  }

  /** `errorForFailedEntries` in Loki's stream.go: status from the last failure, entries listed. */
  #streamError(tenantId: string, stream: StoredStream, reported: readonly Failed[], total: number): LokiHttpError {
    const last = reported[reported.length - 1];
    const status = last?.reason === Reasons.PER_STREAM_RATE_LIMIT ? 429 : 400;
    const listed = reported
      .slice(0, this.#limits.maxReturnedStreamErrors || reported.length)
      .map((failed) => `entry with timestamp ${goTimeString(failed.entry.ts)} ignored, reason: '${failed.message}',\n`);
    return new LokiHttpError(
      status,
      `${listed.join('')}user '${tenantId}', total ignored: ${reported.length} out of ${total} for stream: ${stream.key}`,
    );
  }
}
