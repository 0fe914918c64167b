/**
 * Whose events a request may read. With API keys on, a key sees the events of its own source
 * only, and an admin key sees every source; with keys off, everything is open.
 */
import type { FastifyRequest } from 'fastify';

/** The one source this request may read, or undefined for every source. */
export function readableSource(request: FastifyRequest): string | undefined {
  const key = request.apiKey;
  if (!key || key.admin) return undefined;
  return key.source;
}

/** A route's onRequest guard: resolves when the caller may go on. */
export type Guard = (request: FastifyRequest) => Promise<void>;
