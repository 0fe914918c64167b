/**
 * One push, end to end: what Loki's distributor and ingester answer for it, and what is stored.
 *
 * Partial rejection, as found in Loki 3's source (`distributor.pushWithResolver`,
 * `ingester.instance.Push`, `stream.Push`) and its "Enforce rate limits and push request
 * validation" docs, which say of each validation reason that the sample is discarded and of the
 * request only that the offending stream is named in the response body:
 * 1. Entries (or whole streams) that fail validation are dropped; the valid ones go on. The
 *    dropped ones are described in one text: messages grouped as `N errors like: <msg>; ...`.
 * 2. If nothing valid is left, the answer is 400 with that text (204 if there was nothing to
 *    validate, 422 if the request had no streams at all).
 * 3. The tenant's `ingestion_rate_mb` is checked against the valid bytes only; over it, the whole
 *    push gets 429 `rate_limited` and nothing is stored, validation messages or not.
 * 4. The ingester stores what it accepts. If it reports an error (the last stream's, see
 *    store.ts), that error is the answer (400 or 429) and the validation text is lost.
 * 5. Otherwise the answer is 400 with the validation text if anything was dropped, else 204.
 * So a 400 does not mean "nothing stored": the valid entries of it are kept, and a client that
 * retries the whole batch relies on duplicate detection for them. This server does the same.
 */
import type { DecodedPush } from './decode.ts';
import { LokiHttpError } from './http.ts';
import { bytesPerMb } from './limits.ts';
import type { LokiLimits } from './limits.ts';
import { LokiErrors, Reasons, groupedErrors } from './messages.ts';
import type { LokiStore } from './store.ts';
import { entryBytes, parseStreamLabels, validateStreams } from './validate.ts';
import type { Discard } from './validate.ts';

export interface PushOutcome {
  /** 204 on success; otherwise the status and text Loki would answer. */
  readonly status: number;
  readonly text: string;
  readonly stored: number;
  readonly duplicates: number;
  readonly discards: readonly Discard[];
}

function tryParseLabels(push: DecodedPush, limits: LokiLimits): Map<string, string>[] | LokiHttpError {
  try {
    return parseStreamLabels(push.streams, limits);
  } catch (error) {
    if (error instanceof LokiHttpError) return error;
    throw error;
  }
}

/** Runs one decoded push through validation, rate limits and the store; never throws for bad input. */
export function pushToLoki(push: DecodedPush, tenant: string, limits: LokiLimits, store: LokiStore, nowMs: number): PushOutcome {
  if (push.streams.length === 0) {
    return { status: 422, text: LokiErrors.missingStreams(), stored: 0, duplicates: 0, discards: [] };
  }
  const parsed = tryParseLabels(push, limits);
  if (parsed instanceof LokiHttpError) {
    const entries = push.streams.flatMap((stream) => stream.entries);
    const bytes = entries.reduce((sum, entry) => sum + entryBytes(entry), 0);
    const discards = [{ reason: Reasons.INVALID_LABELS, entries: entries.length, bytes }];
    return { status: parsed.status, text: parsed.message, stored: 0, duplicates: 0, discards };
  }

  const nowNs = BigInt(nowMs) * 1_000_000n;
  const validated = validateStreams(push.streams, parsed, limits, nowNs);
  const validationText = validated.errors.length > 0 ? groupedErrors(validated.errors) : '';
  if (validated.streams.length === 0) {
    return { status: validationText === '' ? 204 : 400, text: validationText, stored: 0, duplicates: 0, discards: validated.discards };
  }

  const lines = validated.streams.reduce((sum, stream) => sum + stream.entries.length, 0);
  const bytes = validated.streams.reduce((sum, stream) => sum + stream.bytes, 0);
  if (!store.tenant(tenant, nowMs).limiter.allowN(bytes, nowMs)) {
    return {
      status: 429,
      text: LokiErrors.rateLimited(tenant, limits.ingestionRateMb * bytesPerMb, lines, bytes),
      stored: 0,
      duplicates: 0,
      discards: [...validated.discards, { reason: Reasons.RATE_LIMITED, entries: lines, bytes }],
    };
  }

  const ingested = store.ingest(tenant, validated.streams, nowMs);
  const discards = [...validated.discards, ...ingested.discards];
  const base = { stored: ingested.stored, duplicates: ingested.duplicates, discards };
  if (ingested.error !== undefined) return { ...base, status: ingested.error.status, text: ingested.error.message };
  return { ...base, status: validationText === '' ? 204 : 400, text: validationText };
}
