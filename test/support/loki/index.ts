/**
 * A Loki-compatible HTTP server for tests: Loki's push API (JSON), its validation limits and
 * partial rejections, tenants, `query_range`, and scripted faults. Start one per test and close
 * it: `const loki = await startLokiServer(); t.after(() => loki.close());`.
 * What it implements, and where it departs from Loki: docs/loki-test-server.md.
 */
export { startLokiServer } from './server.ts';
export type { LokiServerOptions, LokiTestServer } from './server.ts';
export { defaultLokiLimits } from './limits.ts';
export type { LokiLimits } from './limits.ts';
export { FaultKinds } from './faults.ts';
export type { HangFault, LokiFault, LokiFaults, RejectFault, StatusFault } from './faults.ts';
export { Reasons } from './messages.ts';
export type { Reason } from './messages.ts';
export type { LokiStats } from './stats.ts';
export type { StoredEntry } from './store.ts';
export type { AcceptRate, AcceptRateOptions } from './bench.ts';
export { noAuthTenant } from './tenant.ts';
