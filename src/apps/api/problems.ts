/**
 * The API's error answers: a stable `code` from the closed list below, the HTTP status, a message
 * for people, and the field at fault as a JSON Pointer into the request body.
 */
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
  batch_too_large: 413,
  body_too_large: 413,
  unsupported_media_type: 415,
  request_timeout: 408,
  headers_too_large: 431,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  logs_in_loki: 404,
  method_not_allowed: 405,
  dlq_busy: 409,
  rate_limited: 429,
  broker_unavailable: 503,
  not_ready: 503,
  console_not_built: 503,
  internal_error: 500,
} as const;

export type ApiErrorCode = keyof typeof ApiErrorCodes;

export interface FieldError {
  field: string;
  message: string;
}

export interface ApiProblem {
  code: ApiErrorCode;
  message: string;
  /** JSON Pointer of the first field at fault, when one is. */
  field?: string;
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

export class ApiError extends Error {
  readonly problem: ApiProblem;
  readonly statusCode: number;
  /** Seconds for a Retry-After header (429 and 503). */
  readonly retryAfterSeconds: number | undefined;
  /** A Location header: where the event the error is about can be looked up. */
  readonly location: string | undefined;

  constructor(problem: ApiProblem, options: { retryAfterSeconds?: number; location?: string; cause?: unknown } = {}) {
    super(problem.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.problem = problem;
    this.statusCode = ApiErrorCodes[problem.code];
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.location = options.location;
  }
}

export const problem = (code: ApiErrorCode, message: string, field?: string, errors?: FieldError[]): ApiError =>
  new ApiError({ code, message, ...(field === undefined ? {} : { field }), ...(errors === undefined ? {} : { errors }) });

/** Body of an error answer: `{ error: { code, message, field?, errors? } }`. */
export const errorBody = (p: ApiProblem): { error: ApiProblem } => ({ error: p });
