/**
 * The HTTP side of the Loki test server: Node's `http` module on 127.0.0.1 only, Loki's routes,
 * scripted faults in front of the push endpoint. See docs/loki-test-server.md for what it
 * implements and what it does not.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { measureAcceptRate } from './bench.ts';
import type { AcceptRate, AcceptRateOptions } from './bench.ts';
import { decodePush, readBody } from './decode.ts';
import { pushToLoki } from './distributor.ts';
import { LokiFaults } from './faults.ts';
import { LokiHttpError, sendJson, sendNoContent, sendText } from './http.ts';
import { resolveLimits } from './limits.ts';
import type { LokiLimits } from './limits.ts';
import { parseRangeParams, queryRange } from './query.ts';
import { StatsRecorder } from './stats.ts';
import type { LokiStats } from './stats.ts';
import { LokiStore } from './store.ts';
import type { StoredEntry } from './store.ts';
import { tenantOf } from './tenant.ts';

export interface LokiServerOptions {
  /** Port on 127.0.0.1. (Default: 0, any free port) */
  port?: number;
  /** Overrides of Loki's defaults. (Default: none, i.e. a stock Loki 3) */
  limits?: Partial<LokiLimits>;
  /** Loki with `auth_enabled: true`: a request without X-Scope-OrgID is 401. (Default: false) */
  requireTenant?: boolean;
}

export interface LokiTestServer {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly limits: LokiLimits;
  /** Queue faults for the next pushes: `server.faults.push({ kind: 'status', status: 500, count: 3 })`. */
  readonly faults: LokiFaults;
  /** Everything stored, oldest first; one tenant's (`fake` without a header), or all. */
  entries(tenant?: string): StoredEntry[];
  stats(): LokiStats;
  /** Forgets data, stats, faults and rate-limiter state; keeps listening. */
  reset(): void;
  /** The server's own accept rate, measured from this process; see bench.ts. */
  measureAcceptRate(options?: AcceptRateOptions): Promise<AcceptRate>;
  /** Stops listening and drops every connection, hung pushes included. Idempotent. */
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

interface Route {
  readonly method: 'GET' | 'POST';
  readonly handle: Handler;
}

class LokiServerImpl {
  readonly limits: LokiLimits;
  readonly faults = new LokiFaults();
  readonly store: LokiStore;
  readonly stats = new StatsRecorder();
  readonly #requireTenant: boolean;
  /** Hung pushes, released on close(). */
  readonly #held = new Set<() => void>();
  readonly routes: ReadonlyMap<string, Route>;

  constructor(options: LokiServerOptions) {
    this.limits = resolveLimits(options.limits);
    this.store = new LokiStore(this.limits);
    this.#requireTenant = options.requireTenant ?? false;
    this.routes = new Map<string, Route>([
      ['/loki/api/v1/push', { method: 'POST', handle: (req, res) => this.#push(req, res) }],
      ['/loki/api/v1/query_range', { method: 'GET', handle: (req, res, url) => Promise.resolve(this.#queryRange(req, res, url)) }],
      ['/ready', { method: 'GET', handle: (_req, res) => Promise.resolve(sendText(res, 200, 'ready')) }],
      ['/metrics', { method: 'GET', handle: (_req, res) => Promise.resolve(this.#metrics(res)) }],
    ]);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = this.routes.get(url.pathname);
    if (route === undefined) {
      req.resume();
      sendText(res, 404, '404 page not found');
      return;
    }
    if (req.method !== route.method) {
      req.resume();
      sendText(res, 405, 'Method Not Allowed', { Allow: route.method });
      return;
    }
    await route.handle(req, res, url);
  }

  async #push(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = (status: number, text: string, headers: Readonly<Record<string, string>> = {}): void => {
      this.stats.answered(status);
      if (status === 204) sendNoContent(res);
      else sendText(res, status, text, headers);
    };
    const raw = await readBody(req, this.limits.maxRecvMsgSize);
    this.stats.pushReceived(raw.size);
    const fault = this.faults.take(Date.now());
    if (fault?.kind === 'answer') {
      answer(fault.status, fault.body, fault.headers);
      return;
    }
    if (fault?.kind === 'hang' && !(await this.#hold(res, fault.releaseAtMs))) return;
    try {
      const tenant = tenantOf(req.headers, this.#requireTenant);
      const push = await decodePush(raw, req.headers, this.limits.maxRecvMsgSize);
      const nowMs = Date.now();
      const outcome = pushToLoki(push, tenant, this.limits, this.store, nowMs);
      const received = push.streams.reduce((sum, stream) => sum + stream.entries.length, 0);
      this.stats.outcome(tenant, received, outcome.stored, outcome.duplicates, outcome.discards);
      answer(outcome.status, outcome.text);
    } catch (error) {
      if (!(error instanceof LokiHttpError)) throw error;
      answer(error.status, error.message, error.headers);
    }
  }

  /** Waits until `releaseAtMs` (or forever); false if the client or close() ended it first. */
  #hold(res: ServerResponse, releaseAtMs: number | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (released: boolean): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.#held.delete(drop);
        res.off('close', gaveUp);
        resolve(released && !res.destroyed);
      };
      const gaveUp = (): void => finish(false);
      const drop = (): void => {
        finish(false);
        res.destroy();
      };
      res.on('close', gaveUp);
      this.#held.add(drop);
      if (releaseAtMs !== undefined) timer = setTimeout(() => finish(true), Math.max(0, releaseAtMs - Date.now()));
    });
  }

  #queryRange(req: IncomingMessage, res: ServerResponse, url: URL): void {
    req.resume();
    try {
      const tenant = tenantOf(req.headers, this.#requireTenant);
      const params = parseRangeParams(url, req.headers, this.limits, Date.now());
      sendJson(res, 200, queryRange(this.store, tenant, params));
    } catch (error) {
      if (!(error instanceof LokiHttpError)) throw error;
      sendText(res, error.status, error.message, error.headers);
    }
  }

  #metrics(res: ServerResponse): void {
    if (res.headersSent) return;
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(this.stats.metricsText());
  }

  releaseAll(): void {
    for (const drop of [...this.#held]) drop();
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts a Loki-compatible server on 127.0.0.1; the caller owns close(). */
export async function startLokiServer(options: LokiServerOptions = {}): Promise<LokiTestServer> {
  const impl = new LokiServerImpl(options);
  const server = createServer((req, res) => {
    impl.handle(req, res).catch((error: unknown) => {
      // A bug in the test server, not a Loki answer: say so loudly in the body.
      sendText(res, 500, `loki test server error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    });
  });
  const port = await listen(server, options.port ?? 0);
  const url = `http://127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    limits: impl.limits,
    faults: impl.faults,
    entries: (tenant) => impl.store.entries(tenant),
    stats: () => impl.stats.snapshot(impl.faults.applied, impl.store.streamCount()),
    reset: () => {
      impl.store.reset();
      impl.stats.reset();
      impl.faults.clear();
      impl.faults.resetCount();
    },
    measureAcceptRate: async (rateOptions = {}) => {
      const tenant = rateOptions.tenant ?? 'accept-rate-bench';
      try {
        return await measureAcceptRate(url, { ...rateOptions, tenant });
      } finally {
        impl.store.dropTenant(tenant);
      }
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        impl.releaseAll();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
