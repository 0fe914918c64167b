/**
 * The error answers routes declare, each pointing at the one Error schema. `default` covers what
 * any route may answer whatever it does: a 404 or 405 from the router, 408, 414 and 431 from the
 * HTTP layer, and 500 for a bug of Kitsune's own.
 */
import { ref } from '../../contract/schemas.ts';

const meanings: Record<number, string> = {
  400: 'The request is malformed: invalid JSON or URL, a parameter or header that breaks its schema, a string holding U+0000 or a lone surrogate (see error.code and error.field)',
  401: 'API keys are on and no known key was sent',
  403: 'The key may not do this: run this command, manage the dead-letter queue (admin keys only), or name another source',
  404: 'Not here: an event or source this key may not read (as if it did not exist), or log lines kept in Loki (logs_in_loki)',
  409: 'Another replay or purge of the dead-letter queue is running (dlq_busy); Retry-After says when to try again',
  413: 'The body is larger than KITSUNE_BODY_LIMIT_BYTES, or a batch holds more commands than KITSUNE_BATCH_MAX_ITEMS',
  415: 'The body is not Content-Type: application/json',
  422: 'Unknown command or version, a payload that fails its schema, or a bad log line',
  429: "Over the key's rate limit; Retry-After says when to come back",
  503: 'The broker did not acknowledge in time: the command may still be applied. error.id and error.idempotency_key (error.events in a batch) name it; retry with that key after Retry-After, or look it up at Location',
};

const retryAfter = { 'Retry-After': { type: 'integer', minimum: 1, description: 'Seconds to wait before trying again' } };
const location = { Location: { type: 'string', description: 'Where the event can be looked up (one command only): /events/{id}' } };
const content = { 'application/json': { schema: ref('Error') } };

/** Error responses for `statuses`, plus `default`. */
export function errorResponses(...statuses: number[]): Record<string, unknown> {
  const answers: Record<string, unknown> = {};
  for (const status of statuses) {
    answers[status] = { description: meanings[status] ?? 'See error.code', content, ...(status === 429 || status === 409 ? { headers: retryAfter } : status === 503 ? { headers: { ...retryAfter, ...location } } : {}) };
  }
  answers.default = { description: 'Any other error: 404 no such route, 405 wrong method (with Allow), 408, 414, 431, 500', content };
  return answers;
}
