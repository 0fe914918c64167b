/**
 * Refuses text that PostgreSQL cannot hold, before any route sees it: a NUL character (U+0000;
 * PostgreSQL's text and jsonb refuse it, and the query failed with a 500) and a lone UTF-16
 * surrogate (not Unicode at all: the UTF-8 encoder writes U+FFFD instead, so the text would be
 * stored changed, silently). Every string and object key the request carries is checked: query
 * parameters, route parameters, headers and the JSON body, on every route.
 *
 * The answer is 400 `invalid_request`, with the field at fault: `query.<name>`,
 * `params.<name>`, `headers.<name>`, or a JSON Pointer into the body (`/payload/name`; for a bad
 * key, the object holding it).
 *
 * What never reaches a route is answered here too, in the same error shape: a route parameter
 * whose percent-encoding is not UTF-8 (Fastify's FST_ERR_BAD_URL) and a request Node's HTTP
 * parser refuses (a NUL in a header value is refused there, before Fastify).
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, problem, type ApiProblem } from './problems.ts';

/** Why `text` cannot be stored as PostgreSQL text unchanged, or undefined when it can. */
export function unstorableText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000), which PostgreSQL text cannot hold';
  if (!text.isWellFormed()) return 'contains a lone UTF-16 surrogate, which is not Unicode and would be stored changed';
  return undefined;
}

function checkFlat(values: unknown, prefix: string): void {
  if (typeof values !== 'object' || values === null) return;
  for (const [name, value] of Object.entries(values)) {
    const field = `${prefix}.${name}`;
    const keyProblem = unstorableText(name);
    if (keyProblem) throw problem('invalid_request', `a ${prefix} name ${keyProblem}`, prefix);
    for (const item of Array.isArray(value) ? value : [value]) {
      const why = typeof item === 'string' ? unstorableText(item) : undefined;
      if (why) throw problem('invalid_request', `${field} ${why}`, field);
    }
  }
}

const pointerPart = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1');

function checkJson(value: unknown, pointer: string): void {
  if (typeof value === 'string') {
    const why = unstorableText(value);
    if (why) throw problem('invalid_request', `${pointer === '' ? 'the body' : pointer} ${why}`, pointer === '' ? '/' : pointer);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => checkJson(item, `${pointer}/${i}`));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const why = unstorableText(key);
      if (why) throw problem('invalid_request', `a key in ${pointer === '' ? 'the body' : pointer} ${why}`, pointer === '' ? '/' : pointer);
      checkJson(item, `${pointer}/${pointerPart(key)}`);
    }
  }
}

/** Registers the check on every route of `app` (after each route's own onRequest, e.g. authentication). */
export function registerTextGuard(app: FastifyInstance): void {
  app.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    try {
      checkFlat(request.params, 'params');
      checkFlat(request.query, 'query');
      checkFlat(request.headers, 'headers');
      if (request.body !== undefined) checkJson(request.body, '');
      done();
    } catch (error) {
      done(error as Error);
    }
  });
}

/** Fastify's `frameworkErrors`: a URL Fastify cannot decode, in Kitsune's error shape. */
export function frameworkErrors(error: Error & { code?: string }, _request: FastifyRequest, reply: FastifyReply): void {
  const field = error.code === 'FST_ERR_BAD_URL' ? 'url' : undefined;
  void reply.code(400).send(errorBody({ code: 'invalid_request', message: error.message, ...(field ? { field } : {}) }));
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refused, answered as Fastify would
 * (408 on a timeout, 431 for oversized headers, 400 otherwise) but in Kitsune's error shape.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let body: ApiProblem = { code: 'invalid_request', message: `malformed HTTP request (${error.code ?? 'parse error'}): ${error.message}` };
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    body = { code: 'request_timeout', message: 'the request was not received in time' };
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    body = { code: 'headers_too_large', message: 'the request headers exceed the allowed size' };
  } else if (error.code?.startsWith('HPE_INVALID_HEADER')) {
    body = { ...body, field: 'headers', message: `a header is malformed (${error.code}): header values cannot hold control characters such as NUL` };
  }
  const text = JSON.stringify(errorBody(body));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${text}`);
  }
  socket.destroy(error);
}
