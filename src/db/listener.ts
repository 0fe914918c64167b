/**
 * One LISTEN connection (the Postgres log's wake-ups, the API's result wake-ups). It is a dedicated
 * client, not a pooled one, so it never takes a slot from queries and a dropped connection is
 * visible as such. When the connection drops (server restart, pg_terminate_backend, network) it
 * reconnects with backoff. Each time LISTEN is in place it calls `onListening`, because
 * notifications sent before are lost; users also poll slowly, so a lost notification delays
 * something, it never loses it.
 */
import pg from 'pg';
import { backoffMs, type BackoffPolicy } from '../backoff.ts';

const backoff: BackoffPolicy = { baseMs: 100, maxMs: 5_000 };

export interface ListenerOptions {
  /** Connection settings for the dedicated client (the pool's own, so auth and TLS match). */
  clientConfig: pg.ClientConfig;
  /** The channel's name, as notifications report it. */
  channel: string;
  /** The LISTEN statement for `channel` (a named statement from a .sql file). */
  listen: string;
  /** A notification on the channel; the payload is '' when the sender gave none. */
  onNotification: (payload: string) => void;
  /** LISTEN is (again) in place: whatever was notified before it may have been missed. */
  onListening: () => void;
  /** The connection failed or dropped; it is retried with backoff. */
  onError: (error: Error) => void;
}

export class NotificationListener {
  readonly #options: ListenerOptions;
  #client: pg.Client | undefined;
  #started = false;
  #closed = false;
  /** Failed connection attempts since LISTEN was last in place. */
  #failures = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;

  constructor(options: ListenerOptions) {
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
      if (error) this.#options.onError(error);
      if (dropped) return;
      dropped = true;
      if (this.#client === client) this.#client = undefined;
      client.end().catch(() => undefined);
      this.#retryLater();
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', (notification) => {
      if (notification.channel === this.#options.channel) this.#options.onNotification(notification.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(this.#options.listen);
    } catch (error) {
      drop(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.#closed || dropped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#failures = 0;
    this.#options.onListening();
  }

  #retryLater(): void {
    if (this.#closed || this.#retryTimer) return;
    this.#failures += 1;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#connecting = this.#connect();
    }, backoffMs(this.#failures, backoff));
  }
}
