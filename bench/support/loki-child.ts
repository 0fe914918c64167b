/**
 * The Loki-compatible test server (test/support/loki) in a process of its own, so the log worker
 * and the raw accept-rate client both reach it over loopback from elsewhere, as they would reach
 * Loki. Rate limits are off: Loki's defaults (4 MB/s per tenant) would be what gets measured.
 */
import { startLokiServer } from '../../test/support/loki/index.ts';
import { serve } from './rpc.ts';

const loki = await startLokiServer({ limits: { ingestionRateMb: 0, perStreamRateLimit: 0 } });

const handlers = {
  url: () => Promise.resolve(loki.url),
  stats: () => {
    const stats = loki.stats();
    return Promise.resolve({ acceptedEntries: stats.acceptedEntries, pushes: stats.pushesReceived, rejected: [...stats.rejectedEntries.values()].reduce((a, b) => a + b, 0) });
  },
  /** Forgets stored lines, so a long run does not grow this process without bound. */
  reset: () => Promise.resolve(void loki.reset()),
};

export type LokiChild = typeof handlers;

serve(handlers, () => loki.close());
