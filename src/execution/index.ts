/**
 * The batch executor: runs polled batches of db-events on PostgreSQL exactly once in effect. Used
 * by the DB worker and by `kitsune dlq replay --dry-run`; it knows neither.
 */
export { executeBatch } from './execute-batch.ts';
export { DatabaseUnavailableError, EventRetryError } from './outcome.ts';
export { OutcomeStatuses, rowsJsonOf, type ExecuteOptions, type FailureInfo, type Outcome, type OutcomeStatus } from './types.ts';
