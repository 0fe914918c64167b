/**
 * One error shape for every answer that is not a success, whoever raised it: Kitsune's own checks,
 * schema validation, Fastify's router and body parsers, and Node's HTTP parser underneath. A
 * request the server cannot use is a 4xx with a documented code; 500 is kept for Kitsune's own bugs
 * (logged, never explained to the caller).
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiErrorCode } from '../../contract/http.ts';
import { ApiError, errorBody, problem } from './problems.ts';
import { validationProblem } from './validation.ts';

type ThrownError = Error & Partial<Pick<FastifyError, 'code' | 'statusCode' | 'validationContext'>> & { validation?: ErrorObject[] };

/** Codes for 4xx answers Fastify or a plugin produced without a code of ours. */
const byStatus = new Map<number, ApiErrorCode>([
  [400, 'invalid_request'],
  [401, 'unauthorized'],
  [403, 'forbidden'],
  [404, 'not_found'],
  [405, 'method_not_allowed'],
  [408, 'request_timeout'],
  [413, 'body_too_large'],
  [414, 'uri_too_long'],
  [415, 'unsupported_media_type'],
  [429, 'rate_limited'],
  [431, 'headers_too_large'],
]);

/** Fastify's own errors as Kitsune's; undefined for anything that is not the caller's doing. */
function fromFastifyError(error: ThrownError, request: FastifyRequest, bodyLimitBytes: number): ApiError | undefined {
  switch (error.code) {
    case 'FST_ERR_VALIDATION':
      return validationProblem(error.validation ?? [], error.validationContext);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('unsupported_media_type', `${request.method} ${request.routeOptions.url ?? request.url} takes Content-Type: application/json`);
    case 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE':
      // QUERY needs a Content-Type (RFC 10008), but a path that does not exist is a 404 first.
      if (request.is404) return notFound(request);
      return problem('unsupported_media_type', `${request.method} needs a Content-Type; send application/json`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('body_too_large', `the request body is over the limit of ${bodyLimitBytes} bytes (KITSUNE_BODY_LIMIT_BYTES); send less, or POST /execute/batch in smaller batches`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem('invalid_json', error.message);
    case 'FST_ERR_BAD_URL':
      return problem('invalid_request', 'the URL is not valid: a percent sign must start a %XX escape of UTF-8', 'url', undefined, 'path');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return problem('uri_too_long', 'a path parameter is longer than 100 characters');
    default: {
      const status = error.statusCode ?? 500;
      const code = status >= 400 && status < 500 ? byStatus.get(status) ?? 'invalid_request' : undefined;
      return code === undefined ? undefined : problem(code, error.message);
    }
  }
}

const notFound = (request: FastifyRequest): ApiError => problem('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`);

/** Sends an ApiError as `{ error }` with its status and, for 429 and 503, Retry-After. */
export function sendProblem(reply: FastifyReply, known: ApiError): FastifyReply {
  if (known.retryAfterSeconds !== undefined) void reply.header('retry-after', String(known.retryAfterSeconds));
  if (known.allow !== undefined) void reply.header('allow', known.allow);
  if (known.location !== undefined) void reply.header('location', known.location);
  return reply.code(known.statusCode).type('application/json; charset=utf-8').send(errorBody(known.problem));
}

export function registerErrorHandling(app: FastifyInstance, bodyLimitBytes: number): void {
  app.setErrorHandler((error: ThrownError, request, reply) => {
    const known = error instanceof ApiError ? error : fromFastifyError(error, request, bodyLimitBytes);
    if (known) return sendProblem(reply, known);
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, problem('internal_error', 'internal error; see the server log'));
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, notFound(request)));
}

/** Fastify's `frameworkErrors`: a URL its router cannot decode, answered in Kitsune's shape. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void sendProblem(reply, fromFastifyError(error, request, 0) ?? problem('invalid_request', error.message));
}

/** What Node's HTTP parser refused (bad request line, oversized headers, timeouts): answered in Kitsune's shape. */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
  const [status, code, message]: [number, ApiErrorCode, string] =
    error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'headers_too_large', 'the request headers are larger than the server accepts']
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout', 'the request did not arrive in time']
    : error.code?.startsWith('HPE_INVALID_HEADER') ? [400, 'invalid_request', `a header is malformed (${error.code}): header values cannot hold control characters such as NUL`]
    : [400, 'invalid_request', `the request is not valid HTTP (${error.code ?? 'parse error'})`];
  // Node does not say which header: `headers` stands for them all.
  const field = error.code?.startsWith('HPE_INVALID_HEADER') ? { field: 'headers', in: 'header' as const } : {};
  const body = JSON.stringify(errorBody({ code, message, ...field }));
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
