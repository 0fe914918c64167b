/**
 * What the server saw, for tests to assert on, and the few Loki metrics it exports on /metrics
 * under Loki's names (`loki_discarded_samples_total`, `loki_discarded_bytes_total`,
 * `loki_distributor_lines_received_total`), with only the `reason` and `tenant` labels.
 */
import type { Discard } from './validate.ts';

export interface LokiStats {
  /** Every POST to the push endpoint, faulted ones included. */
  readonly pushesReceived: number;
  /** Push answers by HTTP status; a hung push counts once it is answered. */
  readonly responses: ReadonlyMap<number, number>;
  /** Entries stored. */
  readonly acceptedEntries: number;
  /** Entries dropped as duplicates of stored ones (not an error in Loki). */
  readonly duplicateEntries: number;
  /** Entries discarded, by Loki's reason (`line_too_long`, `too_far_behind`, ...). */
  readonly rejectedEntries: ReadonlyMap<string, number>;
  /** Pushes answered (or held) by a scripted fault. */
  readonly faultsApplied: number;
  readonly streams: number;
  /** Push bodies as received, before decompression. */
  readonly bytesReceived: number;
}

interface Counted {
  entries: number;
  bytes: number;
}

function bump<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class StatsRecorder {
  #pushes = 0;
  #bytes = 0;
  #accepted = 0;
  #duplicates = 0;
  readonly #responses = new Map<number, number>();
  /** tenant → reason → counts. */
  readonly #discarded = new Map<string, Map<string, Counted>>();
  readonly #linesReceived = new Map<string, number>();

  pushReceived(wireBytes: number): void {
    this.#pushes += 1;
    this.#bytes += wireBytes;
  }

  answered(status: number): void {
    bump(this.#responses, status);
  }

  outcome(tenant: string, received: number, stored: number, duplicates: number, discards: readonly Discard[]): void {
    bump(this.#linesReceived, tenant, received);
    this.#accepted += stored;
    this.#duplicates += duplicates;
    let byReason = this.#discarded.get(tenant);
    if (byReason === undefined) {
      byReason = new Map();
      this.#discarded.set(tenant, byReason);
    }
    for (const discard of discards) {
      const counted = byReason.get(discard.reason) ?? { entries: 0, bytes: 0 };
      counted.entries += discard.entries;
      counted.bytes += discard.bytes;
      byReason.set(discard.reason, counted);
    }
  }

  snapshot(faultsApplied: number, streams: number): LokiStats {
    const rejected = new Map<string, number>();
    for (const byReason of this.#discarded.values()) {
      for (const [reason, counted] of byReason) if (counted.entries > 0) bump(rejected, reason, counted.entries);
    }
    return {
      pushesReceived: this.#pushes,
      responses: new Map(this.#responses),
      acceptedEntries: this.#accepted,
      duplicateEntries: this.#duplicates,
      rejectedEntries: rejected,
      faultsApplied,
      streams,
      bytesReceived: this.#bytes,
    };
  }

  /** Prometheus text exposition of the Loki metrics named above. */
  metricsText(): string {
    const lines = ['# TYPE loki_discarded_samples_total counter'];
    const bytes = ['# TYPE loki_discarded_bytes_total counter'];
    for (const [tenant, byReason] of this.#discarded) {
      for (const [reason, counted] of byReason) {
        const labels = `{reason="${escapeLabel(reason)}",tenant="${escapeLabel(tenant)}"}`;
        lines.push(`loki_discarded_samples_total${labels} ${counted.entries}`);
        bytes.push(`loki_discarded_bytes_total${labels} ${counted.bytes}`);
      }
    }
    const received = ['# TYPE loki_distributor_lines_received_total counter'];
    for (const [tenant, count] of this.#linesReceived) {
      received.push(`loki_distributor_lines_received_total{tenant="${escapeLabel(tenant)}"} ${count}`);
    }
    return `${[...lines, ...bytes, ...received].join('\n')}\n`;
  }

  reset(): void {
    this.#pushes = 0;
    this.#bytes = 0;
    this.#accepted = 0;
    this.#duplicates = 0;
    this.#responses.clear();
    this.#discarded.clear();
    this.#linesReceived.clear();
  }
}
