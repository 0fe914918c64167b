/**
 * The transport's one LISTEN connection. It is a dedicated client, not a pooled one, so it never
 * takes a slot from publishers and a dropped connection is visible as such. When the connection
 * drops (server restart, pg_terminate_backend, network) it reconnects with backoff. Each time LISTEN
 * is in place it calls `onListening`, because notifications sent before are lost; consumers also poll
 * slowly (pollIntervalMs), so a lost notification delays delivery, it never loses a message.
 */
import pg from 'pg';
import type { LogContext } from './context.ts';

const backoff = { initialMs: 100, maxMs: 5_000 } as const;

export interface ListenerOptions {
  /** Connection settings for the dedicated client (the pool's own, so auth and TLS match). */
  clientConfig: pg.ClientConfig;
  onNotification: (payload: string) => void;
  /** LISTEN is (again) in place: whatever was notified before it may have been missed. */
  onListening: () => void;
}

export class NotificationListener {
  readonly #context: LogContext;
  readonly #options: ListenerOptions;
  #client: pg.Client | undefined;
  #started = false;
  #closed = false;
  #delayMs: number = backoff.initialMs;
  #retryTimer: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;

  constructor(context: LogContext, options: ListenerOptions) {
    this.#context = context;
    this.#options = options;
  }

  /** Starts listening (idempotent). Failures are retried in the background. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connecting = this.#connect();
  }

  /** Backend pid of the live connection, for operators and tests. */
  get pid(): number | undefined {
    return (this.#client as (pg.Client & { processID?: number }) | undefined)?.processID;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    await this.#connecting;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(this.#options.clientConfig);
    let dropped = false;
    const drop = (error?: Error): void => {
      if (error) this.#context.report(error, 'listener');
      if (dropped) return;
      dropped = true;
      if (this.#client === client) this.#client = undefined;
      client.end().catch(() => undefined);
      this.#retryLater();
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', (notification) => {
      if (notification.channel === this.#context.channel && notification.payload) this.#options.onNotification(notification.payload);
    });
    try {
      await client.connect();
      await client.query(this.#context.sql.ChannelListen);
    } catch (error) {
      drop(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.#closed || dropped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#delayMs = backoff.initialMs;
    this.#options.onListening();
  }

  #retryLater(): void {
    if (this.#closed || this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#connecting = this.#connect();
    }, this.#delayMs);
    this.#delayMs = Math.min(this.#delayMs * 2, backoff.maxMs);
  }
}
