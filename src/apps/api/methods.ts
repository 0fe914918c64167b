/**
 * 405 with `Allow` for a path that exists under other methods (RFC 9110 §15.5.6), rather than a
 * 404 that says the path does not exist. Every route registered before `answerWrongMethods` is
 * called is covered, including those of plugins, and each of its other methods gets a hidden
 * route that answers 405 before the body is read.
 */
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { ApiError } from './problems.ts';

/** Methods Fastify routes (its defaults, QUERY included). */
const routable: readonly HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'QUERY'];

/** Starts collecting routes; call the returned function once every route is registered. */
export function collectRoutes(app: FastifyInstance): () => void {
  const methodsByPath = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    if ((route.config as { wrongMethod?: boolean } | undefined)?.wrongMethod) return;
    // A plugin's `/` route answers at its prefix with and without the slash, announced once.
    const urls = (route.routePath === '/' || route.routePath === '') && route.prefix !== '' ? [route.prefix, `${route.prefix}/`] : [route.url];
    for (const url of urls) {
      const methods = methodsByPath.get(url) ?? new Set<string>();
      for (const method of [route.method].flat()) methods.add(method);
      methodsByPath.set(url, methods);
    }
  });
  return () => {
    for (const [url, methods] of methodsByPath) {
      if (methods.has('GET')) methods.add('HEAD');
      const allow = [...methods].sort().join(', ');
      const others = routable.filter((method) => !methods.has(method));
      if (others.length === 0) continue;
      app.route({
        method: others,
        url,
        schema: { hide: true },
        config: { wrongMethod: true },
        onRequest: (request, _reply, done) =>
          done(new ApiError({ code: 'method_not_allowed', message: `${request.method} is not allowed on ${url}; allowed: ${allow}` }, { allow })),
        handler: () => undefined,
      });
    }
  };
}
