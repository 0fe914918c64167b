/**
 * The tenant of a request, from `X-Scope-OrgID`, with Loki's (dskit's) rules: at most 150
 * bytes of `[a-zA-Z0-9!-_.*'()]`, not `.` or `..`, one tenant only (several, `a|b`, is a 400).
 *
 * `requireTenant: true` is Loki with `auth_enabled: true`: no header is 401 `no org id`.
 * Otherwise a request without the header belongs to `fake`, Loki's default `no_auth_tenant`.
 * Deviation: a Loki with auth disabled ignores the header and puts everything in `fake`; this
 * server honours a header that is present, so tests can check that a client sends its tenant
 * and that tenants stay apart without turning `requireTenant` on.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { LokiHttpError } from './http.ts';

export const noAuthTenant = 'fake';

const allowed = /^[a-zA-Z0-9!\-_.*'()]$/;

export function tenantOf(headers: IncomingHttpHeaders, requireTenant: boolean): string {
  const raw = headers['x-scope-orgid'];
  const id = (Array.isArray(raw) ? raw.join('|') : (raw ?? '')).trim();
  if (id === '') {
    if (requireTenant) throw new LokiHttpError(401, 'no org id');
    return noAuthTenant;
  }
  if (id.includes('|')) throw new LokiHttpError(400, 'multiple org IDs present');
  if (Buffer.byteLength(id) > 150) throw new LokiHttpError(400, 'tenant ID is too long: max 150 characters');
  if (id === '.' || id === '..') throw new LokiHttpError(400, "tenant ID is '.' or '..'");
  for (const c of id) {
    if (!allowed.test(c)) throw new LokiHttpError(400, `tenant ID '${id}' contains unsupported character '${c}'`);
  }
  return id;
}
