/**
 * /console: the operator's web page, served from the files `npm run build` writes to
 * dist/console (built from console/ by Vite; docs/decisions/0021-console.md). Nothing is fetched
 * from elsewhere: the page reads this same API.
 *
 * The files are found from the package root, so the compiled build (dist/apps/api/...) and the
 * sources run through tsx (src/apps/api/...) serve the same folder. When it was never built (an
 * install without dev dependencies), /console answers 503 saying how to build it.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { problem } from '../problems.ts';

/** The package root: the nearest folder above this file that holds package.json. */
function packageRoot(from: string): string {
  let at = from;
  while (!existsSync(join(at, 'package.json'))) {
    const up = dirname(at);
    if (up === at) return from;
    at = up;
  }
  return at;
}

export const defaultConsoleDir = (): string => join(packageRoot(import.meta.dirname), 'dist', 'console');

/**
 * Only this origin's files and API; no inline scripts. `'unsafe-eval'`: the send form compiles the
 * command's JSON Schema with Ajv in the browser (as the API does), and Ajv compiles schemas into
 * functions. `style-src 'unsafe-inline'` covers style attributes set by the page.
 */
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export async function registerConsole(app: FastifyInstance, dir: string = defaultConsoleDir()): Promise<void> {
  app.get('/console', (_request, reply) => reply.redirect('/console/', 302));
  if (!existsSync(join(dir, 'index.html'))) {
    app.get('/console/*', () => {
      throw problem('console_not_built', `the console is not built (no ${join(dir, 'index.html')}): run \`npm run build\` (it needs the dev dependencies: npm install without --omit=dev)`);
    });
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/console/',
    index: ['index.html'],
    wildcard: true,
    // Hashed asset names never change content; index.html must be fetched fresh to find new ones.
    setHeaders: (response, path) => {
      response.setHeader('content-security-policy', contentSecurityPolicy);
      response.setHeader('x-content-type-options', 'nosniff');
      response.setHeader('referrer-policy', 'no-referrer');
      response.setHeader('cache-control', path.includes(`${join(dir, 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
    cacheControl: false,
  });
}
