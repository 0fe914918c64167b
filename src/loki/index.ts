/**
 * Kitsune's Loki push client: `LokiClient` sends one stream per request (gzip JSON), and
 * `LokiBatcher` batches per stream, retries what is transient and bisects what Loki refuses.
 *
 *   const batcher = new LokiBatcher({ pusher: new LokiClient({ url, tenant }) });
 *   const outcomes = await batcher.submit([{ labels, entry }]);   // one outcome per entry
 */
export { LokiBatcher, batcherDefaults } from './batcher.ts';
export type { LokiBatcherOptions, PushInfo, PushRetryInfo, StreamEntry } from './batcher.ts';
export { LokiClient, encodePushBody, lokiClientDefaults, maxRetryAfterMs, parseRetryAfter } from './client.ts';
export type { LokiClientOptions, LokiCompression, LokiPusher } from './client.ts';
export { LokiFailures, LokiPushError } from './errors.ts';
export type { LokiFailure } from './errors.ts';
export { entryBytes, streamKey } from './types.ts';
export type { EntryOutcome, LokiEntry, LokiLabels } from './types.ts';
