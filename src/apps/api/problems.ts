/**
 * The API's error answers: a stable `code` from the contract's closed list, the HTTP status, a
 * message for people, and the field at fault as a JSON Pointer.
 */
import { ApiErrorCodes, type ApiErrorCode, type ApiProblem, type ErrorBody, type FieldError, type FieldLocation } from '../../contract/http.ts';

export { ApiErrorCodes, type ApiErrorCode, type ApiProblem, type FieldError } from '../../contract/http.ts';

export class ApiError extends Error {
  readonly problem: ApiProblem;
  readonly statusCode: number;
  /** Seconds for a Retry-After header (429 and 503). */
  readonly retryAfterSeconds: number | undefined;
  /** A Location header: where the event the error is about can be looked up. */
  readonly location: string | undefined;
  /** The Allow header of a 405: the methods the path answers. */
  readonly allow: string | undefined;

  constructor(problem: ApiProblem, options: { retryAfterSeconds?: number; location?: string; allow?: string; cause?: unknown } = {}) {
    super(problem.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.problem = problem;
    this.statusCode = ApiErrorCodes[problem.code];
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.location = options.location;
    this.allow = options.allow;
  }
}

export const problem = (code: ApiErrorCode, message: string, field?: string, errors?: FieldError[], at?: FieldLocation): ApiError =>
  new ApiError({ code, message, ...(field === undefined ? {} : { field }), ...(at === undefined ? {} : { in: at }), ...(errors === undefined ? {} : { errors }) });

/** Body of an error answer: `{ error: { code, message, field?, errors? } }`. */
export const errorBody = (p: ApiProblem): ErrorBody => ({ error: p });
