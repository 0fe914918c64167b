/**
 * Refuses text that PostgreSQL cannot hold, before any route sees it: a NUL character (U+0000;
 * PostgreSQL's text and jsonb refuse it, and the query failed with a 500) and a lone UTF-16
 * surrogate (not Unicode at all: the UTF-8 encoder writes U+FFFD instead, so the text would be
 * stored changed, silently). Every string and object key the request carries is checked: query
 * parameters, route parameters, headers and the JSON body, on every route.
 *
 * The answer is 400 `invalid_request`, with where (`in`: `query`, `path`, `header` or `body`) and
 * the field at fault: `/<name>` of a parameter or header, or a JSON Pointer into the body
 * (`/payload/name`; for a bad key, the object holding it). The OpenAPI document states the rule in words (openapi.ts).
 * What never reaches a route (a URL Fastify cannot decode, a NUL in a header value, which Node's
 * parser refuses) is answered in the same shape by error-handling.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FieldLocation } from '../../contract/http.ts';
import { problem } from './problems.ts';

/** Why `text` cannot be stored as PostgreSQL text unchanged, or undefined when it can. */
export function unstorableText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000), which PostgreSQL text cannot hold';
  if (!text.isWellFormed()) return 'contains a lone UTF-16 surrogate, which is not Unicode and would be stored changed';
  return undefined;
}

const pointerPart = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1');

const partNames: Record<FieldLocation, string> = { query: 'query parameter', path: 'path parameter', header: 'header', body: 'body field' };

function checkFlat(values: unknown, where: FieldLocation): void {
  if (typeof values !== 'object' || values === null) return;
  for (const [name, value] of Object.entries(values)) {
    const keyProblem = unstorableText(name);
    if (keyProblem) throw problem('invalid_request', `a ${partNames[where]} name ${keyProblem}`, '/', undefined, where);
    for (const item of Array.isArray(value) ? value : [value]) {
      const why = typeof item === 'string' ? unstorableText(item) : undefined;
      if (why) throw problem('invalid_request', `${partNames[where]} ${name} ${why}`, `/${pointerPart(name)}`, undefined, where);
    }
  }
}

function checkJson(value: unknown, pointer: string): void {
  if (typeof value === 'string') {
    const why = unstorableText(value);
    if (why) throw problem('invalid_request', `body field ${pointer === '' ? '/' : pointer} ${why}`, pointer === '' ? '/' : pointer, undefined, 'body');
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => checkJson(item, `${pointer}/${i}`));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const why = unstorableText(key);
      if (why) throw problem('invalid_request', `a key in body field ${pointer === '' ? '/' : pointer} ${why}`, pointer === '' ? '/' : pointer, undefined, 'body');
      checkJson(item, `${pointer}/${pointerPart(key)}`);
    }
  }
}

/**
 * Requests whose JSON body text holds no `\u` escape. Only an escape can put a NUL or a lone
 * surrogate into a parsed body: JSON refuses raw control characters, and the body is decoded from
 * UTF-8, which never yields a lone surrogate. Their bodies are not walked.
 */
const bodiesWithoutEscapes = new WeakSet<FastifyRequest>();

/** Called by the JSON body parser with the text it parsed. */
export function noteBodyText(request: FastifyRequest, text: string): void {
  if (!text.includes('\\u')) bodiesWithoutEscapes.add(request);
}

/** Registers the check on every route of `app` (after each route's own onRequest, e.g. authentication). */
export function registerTextGuard(app: FastifyInstance): void {
  app.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    try {
      checkFlat(request.params, 'path');
      checkFlat(request.query, 'query');
      checkFlat(request.headers, 'header');
      if (request.body !== undefined && !bodiesWithoutEscapes.has(request)) checkJson(request.body, '');
      done();
    } catch (error) {
      done(error as Error);
    }
  });
}
