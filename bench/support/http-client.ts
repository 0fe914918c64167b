/**
 * A minimal HTTP/1.1 keep-alive client over `net`, for the open-loop generator. node:http costs
 * ~160 µs of client CPU per request here, and past ~4,000 requests/s its agent opens sockets
 * faster than it reuses them and the client, not the server, becomes what is measured. This one
 * keeps a bounded pool of connections, one request in flight on each, and queues the rest (the
 * open-loop latency still runs from the scheduled time, so queueing here is charged, as wrk2 does).
 *
 * Limits: responses must carry Content-Length (Fastify's and Node's JSON answers do); no chunked
 * encoding, no TLS, no redirects, no pipelining.
 */
import { connect, type Socket } from 'node:net';

export interface Answer {
  status: number;
  body: string;
}

interface Pending {
  head: Buffer;
  body: Buffer | undefined;
  resolve: (answer: Answer) => void;
  reject: (error: Error) => void;
}

const headerEnd = Buffer.from('\r\n\r\n');

/** FIFO with O(1) take: a behind-schedule run queues tens of thousands of requests. */
class Queue<T> {
  #items: T[] = [];
  #head = 0;

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head > 4_096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  drain(): T[] {
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return rest;
  }
}

class Connection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #current: Pending | undefined;
  #closed = false;

  constructor(
    host: string,
    port: number,
    private readonly onIdle: (connection: Connection) => void,
    private readonly onClosed: (connection: Connection) => void,
  ) {
    this.#socket = connect({ host, port, noDelay: true });
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', () => undefined);
    this.#socket.on('close', () => {
      this.#closed = true;
      this.#current?.reject(new Error('connection closed'));
      this.#current = undefined;
      this.onClosed(this);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(pending: Pending): void {
    this.#current = pending;
    if (pending.body) this.#socket.write(Buffer.concat([pending.head, pending.body]));
    else this.#socket.write(pending.head);
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const end = this.#buffer.indexOf(headerEnd);
      if (end < 0) return;
      const head = this.#buffer.toString('latin1', 0, end);
      const status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!length) {
        this.#current?.reject(new Error(`response without content-length: ${head.split('\r\n')[0]}`));
        this.#current = undefined;
        this.#socket.destroy();
        return;
      }
      const total = end + 4 + Number(length[1]);
      if (this.#buffer.length < total) return;
      const body = this.#buffer.toString('utf8', end + 4, total);
      this.#buffer = this.#buffer.subarray(total);
      const done = this.#current;
      this.#current = undefined;
      done?.resolve({ status, body });
      this.onIdle(this);
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

export class HttpPool {
  readonly #host: string;
  readonly #port: number;
  readonly #max: number;
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();
  readonly #waiting = new Queue<Pending>();

  /** Up to `maxConnections` keep-alive connections to `url`'s host and port. */
  constructor(url: string, maxConnections: number) {
    const parsed = new URL(url);
    this.#host = parsed.hostname;
    this.#port = Number(parsed.port || 80);
    this.#max = maxConnections;
  }

  request(method: 'GET' | 'POST', path: string, body?: string): Promise<Answer> {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const head = Buffer.from(
      `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}:${this.#port}\r\n` +
        (payload ? `content-type: application/json\r\ncontent-length: ${payload.length}\r\n` : '') +
        '\r\n',
      'latin1',
    );
    return new Promise((resolve, reject) => {
      const pending: Pending = { head, body: payload, resolve, reject };
      const idle = this.#idle.pop();
      if (idle) idle.send(pending);
      else if (this.#all.size < this.#max) this.#open().send(pending);
      else this.#waiting.push(pending);
    });
  }

  #open(): Connection {
    const connection = new Connection(
      this.#host,
      this.#port,
      (c) => {
        const next = this.#waiting.shift();
        if (next) c.send(next);
        else this.#idle.push(c);
      },
      (c) => {
        this.#all.delete(c);
        const at = this.#idle.indexOf(c);
        if (at >= 0) this.#idle.splice(at, 1);
        // A queued request takes the place of the lost connection.
        const next = this.#waiting.shift();
        if (next) this.#open().send(next);
      },
    );
    this.#all.add(connection);
    return connection;
  }

  close(): void {
    for (const pending of this.#waiting.drain()) pending.reject(new Error('pool closed'));
    for (const connection of this.#all) connection.close();
  }
}
