/**
 * GET /events: several outcomes at once, or the event of an idempotency key.
 *
 *   GET /events?ids=<id>,<id>,...                 up to 100 ids (a replay's progress)
 *   GET /events?idempotency_key=<key>&source=<s>  the event that key names
 *
 * Both at once answer the ids' events, then the key's; neither answers no events.
 *
 * An event's id is derived from (source, idempotency key) (src/events/event-ids.ts), so a key names
 * exactly one event per source and the lookup is a computation, not a scan. With API keys on, a
 * key reads its own source only and an admin key any source: an id not issued to the key's source,
 * or source= another source, answers 404 as GET /events/:id does, whether or not it exists.
 */
import type { FastifyInstance } from 'fastify';
import type { EventIds } from '../../../events/event-ids.ts';
import type { EventView } from '../../../contract/http.ts';
import type { ResultWaiter } from '../events.ts';
import { problem } from '../problems.ts';
import { readableSource, type Guard } from './scope.ts';

export const eventSearchLimits = { maxIds: 100, maxKeyLength: 255, maxSourceLength: 128 } as const;

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Query {
  ids?: string;
  idempotency_key?: string;
  source?: string;
}

export function registerEventSearch(app: FastifyInstance, waiter: ResultWaiter, eventIds: EventIds, guard: Guard): void {
  app.get<{ Querystring: Query }>('/events', { onRequest: guard }, async (request) => {
    const { ids, idempotency_key: key, source } = request.query;
    const scope = readableSource(request);
    const events: EventView[] = [];
    if (ids !== undefined) {
      const list = ids.split(',').map((id) => id.trim().toLowerCase()).filter((id) => id !== '');
      if (list.length === 0 || list.length > eventSearchLimits.maxIds) {
        throw problem('invalid_request', `ids takes 1 to ${eventSearchLimits.maxIds} event ids, comma-separated`, '/ids', undefined, 'query');
      }
      const bad = list.find((id) => !uuid.test(id));
      if (bad !== undefined) throw problem('invalid_request', `${bad} is not an event id (a UUID)`, '/ids', undefined, 'query');
      const notOwn = scope === undefined ? undefined : list.find((id) => !eventIds.issuedTo(id, scope));
      if (notOwn !== undefined) throw problem('not_found', `no event ${notOwn} for this key`, '/ids', undefined, 'query');
      events.push(...(await waiter.getMany([...new Set(list)])));
    }
    if (key !== undefined) {
      if (key === '' || key.length > eventSearchLimits.maxKeyLength) {
        throw problem('invalid_request', `idempotency_key must be 1 to ${eventSearchLimits.maxKeyLength} characters`, '/idempotency_key', undefined, 'query');
      }
      // Without source=, a key's own source (an admin key's too, which could name any).
      const named = source ?? scope ?? request.apiKey?.source;
      if (named === undefined || named === '' || named.length > eventSearchLimits.maxSourceLength) {
        throw problem('invalid_request', 'name the source that sent the key (source=<source>): the same key from two sources is two events', '/source', undefined, 'query');
      }
      if (scope !== undefined && named !== scope) throw problem('not_found', `no source ${named} for this key`, '/source', undefined, 'query');
      events.push(await waiter.get(eventIds.idempotent(named, key)));
    }
    return { events };
  });
}
