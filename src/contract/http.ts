/**
 * Kitsune's HTTP contract in TypeScript: the bodies the API sends and the codes of its errors.
 * The API answers with these types and the typed client (src/client) reads them, so the two cannot
 * drift apart without the compiler noticing. Nothing here imports anything: the client takes the
 * types (erased) and the one constant below, and stays free of server code.
 */

/** Every error code the API sends, with its HTTP status. The list is closed: a new code is a contract change. */
export const ApiErrorCodes = {
  invalid_json: 400,
  json_too_deep: 400,
  forbidden_key: 400,
  invalid_request: 400,
  idempotency_key_mismatch: 400,
  unknown_command: 422,
  unknown_version: 422,
  invalid_payload: 422,
  invalid_log: 422,
  log_message_too_long: 422,
  batch_rejected: 422,
  batch_too_large: 413,
  body_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  logs_in_loki: 404,
  method_not_allowed: 405,
  dlq_busy: 409,
  request_timeout: 408,
  uri_too_long: 414,
  headers_too_large: 431,
  rate_limited: 429,
  broker_unavailable: 503,
  console_not_built: 503,
  internal_error: 500,
} as const;

export type ApiErrorCode = keyof typeof ApiErrorCodes;

export interface FieldError {
  /** JSON Pointer of the field at fault (see ApiProblem.field). */
  field: string;
  message: string;
  /** This item's own code, where items differ: a batch whose every command was rejected. */
  code?: ApiErrorCode;
}

/** Where a field is: the JSON body, a query or path parameter, or a header. */
export type FieldLocation = 'body' | 'query' | 'path' | 'header';

export interface ApiProblem {
  code: ApiErrorCode;
  message: string;
  /** JSON Pointer of the first field at fault, when one is: into the body, or `/<name>` of a parameter or header. */
  field?: string;
  /** Where `field` is. (Default: body) */
  in?: FieldLocation;
  /** Every field at fault (schema validation reports all of them). */
  errors?: FieldError[];
  /**
   * broker_unavailable: the event that may have been written anyway, and the key that retries it
   * safely (the caller's, or the one Kitsune generated). A retry with it is the same event.
   */
  id?: string;
  idempotency_key?: string;
  /** The same for each item of a batch. */
  events?: Array<{ index: number; id: string; idempotency_key: string }>;
}

/** The one shape of every error answer, 4xx and 5xx alike. */
export interface ErrorBody {
  error: ApiProblem;
}

/** 202 from POST /execute: the event is durable on the broker. */
export interface Accepted {
  id: string;
  status: 'accepted';
  idempotency_key: string;
  links: { self: string };
}

/** One item of a batch's answer, in the order sent. */
export type BatchItem = ({ index: number } & Accepted) | { index: number; status: 'rejected'; error: ApiProblem };

/** 202 (every command accepted) or 207 (some rejected) from POST /execute/batch. */
export interface BatchAccepted {
  accepted: number;
  rejected: number;
  results: BatchItem[];
}

/** The failure a dead-lettered event carries. */
export interface EventFailure {
  reason?: string;
  code?: string;
  sqlstate?: string | null;
}

/** GET /events/:id: `pending` until the DB worker stored an outcome. */
export interface EventView {
  id: string;
  status: 'pending' | 'succeeded' | 'dead_lettered';
  command?: string;
  version?: string;
  source?: string;
  idempotency_key?: string;
  result?: { rows: Array<Record<string, unknown>>; rows_affected: number } | null;
  error?: EventFailure | null;
  attempts?: number;
  /** Later deliveries with the same key and a different payload, recorded and not applied. */
  conflicts?: number;
  completed_at?: string;
}

/** One line, as GET /logs answers it. */
export interface LogView {
  event_id: string;
  /** The event's timestamp (when the API accepted the command), ISO 8601 UTC. */
  timestamp: string;
  level: string;
  command: string;
  version: string;
  source: string;
  message: string;
  idempotency_key: string;
  trace_id: string | null;
}

/** GET /logs: newest first, one page. */
export interface LogPage {
  logs: LogView[];
  /** Pass as `cursor` for the next (older) page; null when this page is the last. */
  next_cursor: string | null;
}
