/**
 * What the Loki push client carries: entries of one stream (a label set), each with a nanosecond
 * timestamp, a line and structured metadata. The shape is Loki's push API's, so nothing is lost
 * or invented between the caller and the wire.
 */

/** Stream labels. Keep them few and bounded; ids belong in `LokiEntry.metadata`. */
export type LokiLabels = Readonly<Record<string, string>>;

export interface LokiEntry {
  /** Unix epoch nanoseconds. A redelivered entry must carry the same value for Loki to dedupe it. */
  readonly ts: bigint;
  readonly line: string;
  /** Structured metadata (Loki >= 2.9 / 3.x): indexed-free key/value pairs beside the line. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** What became of one submitted entry. */
export type EntryOutcome =
  | { readonly accepted: true }
  /** Loki refused the entry on its own (400/413): it will never be accepted as it is. */
  | { readonly accepted: false; readonly error: Error };

export const acceptedOutcome: EntryOutcome = Object.freeze({ accepted: true });

const streamKeys = new WeakMap<LokiLabels, string>();

/**
 * The identity of a stream: its labels sorted by name. Two label objects with the same pairs in a
 * different order are the same stream, as in Loki. Remembered per labels object (they are
 * read-only), so a caller that reuses one object per stream pays for the sort once.
 */
export function streamKey(labels: LokiLabels): string {
  let key = streamKeys.get(labels);
  if (key === undefined) {
    key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    streamKeys.set(labels, key);
  }
  return key;
}

/**
 * Bytes Loki counts for an entry against its size and rate limits: the line plus the names and
 * values of its structured metadata. Used to cut batches; the JSON and gzip framing is not counted.
 */
export function entryBytes(entry: LokiEntry): number {
  let bytes = Buffer.byteLength(entry.line, 'utf8');
  const metadata = entry.metadata;
  for (const name in metadata) bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(metadata[name]!, 'utf8');
  return bytes;
}
