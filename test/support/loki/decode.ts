/**
 * Reads a push body the way Loki's `push.ParseLokiRequest` does: `Content-Encoding` gzip or
 * deflate (Go's raw `flate`, not zlib-wrapped) or none; then `Content-Type` decides the format.
 *
 * Limits: only the JSON format is implemented. Loki treats any other media type, and
 * `application/x-protobuf`, as snappy-compressed protobuf; this server answers those with 415
 * instead, saying so. Decoding errors are 400 as in Loki, but their wording is this server's
 * (Loki's come from its jsoniter decoder and are not stable anyway).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { gunzip, inflateRaw } from 'node:zlib';
import { LokiHttpError } from './http.ts';
import { LokiErrors } from './messages.ts';

export interface PushEntry {
  readonly ts: bigint;
  readonly line: string;
  readonly metadata: ReadonlyMap<string, string>;
}

export interface PushStream {
  /** As sent; validation and `service_name` discovery come later. */
  readonly labels: ReadonlyMap<string, string>;
  readonly entries: readonly PushEntry[];
}

export interface DecodedPush {
  readonly streams: readonly PushStream[];
  /** Bytes on the wire, before decompression. */
  readonly wireBytes: number;
}

const gunzipAsync = promisify(gunzip);
const inflateRawAsync = promisify(inflateRaw);
const int64Max = 2n ** 63n - 1n;
const int64Min = -(2n ** 63n);
const nanosPattern = /^-?\d{1,19}$/;

export interface RawBody {
  readonly body: Buffer;
  /** Bytes received, including any past the limit that were dropped. */
  readonly size: number;
}

/** Reads the whole body; bytes past `limit` are drained and dropped (decodePush then says 413). */
export async function readBody(req: IncomingMessage, limit: number): Promise<RawBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return { body: Buffer.concat(chunks), size };
}

async function decompress(body: Buffer, encoding: string, limit: number): Promise<Buffer> {
  // One byte over the limit is enough to know the body is too large; Loki reports the full size,
  // here the size in the message is only a lower bound.
  const options = { maxOutputLength: limit + 1 };
  try {
    switch (encoding) {
      case '':
      case 'snappy': // Loki passes the bytes on for its protobuf decoder; so does this server.
        return body;
      case 'gzip':
        return await gunzipAsync(body, options);
      case 'deflate':
        return await inflateRawAsync(body, options);
      default:
        throw new LokiHttpError(400, `Content-Encoding ${JSON.stringify(encoding)} not supported`);
    }
  } catch (error) {
    if (error instanceof LokiHttpError) throw error;
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new LokiHttpError(413, LokiErrors.bodyTooLarge(limit + 1, limit));
    }
    throw new LokiHttpError(400, `${encoding}: ${(error as Error).message}`);
  }
}

function mediaType(header: string | undefined): string {
  // Go's mime.ParseMediaType fails on an empty header, and Loki answers that failure with 400.
  const type = (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === '') throw new LokiHttpError(400, 'mime: no media type');
  return type;
}

function fail(path: string, problem: string): never {
  throw new LokiHttpError(400, `invalid push body: ${path}: ${problem}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, path: string): Map<string, string> {
  if (!isObject(value)) fail(path, 'must be an object of strings');
  const map = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') fail(`${path}.${key}`, 'must be a string');
    map.set(key, item);
  }
  return map;
}

function decodeEntry(value: unknown, path: string): PushEntry {
  if (!Array.isArray(value) || value.length < 2 || value.length > 3) {
    fail(path, 'must be ["<unix epoch in nanoseconds>", "<log line>"] with an optional structured metadata object');
  }
  const [ts, line, metadata] = value as [unknown, unknown, unknown];
  // Loki's docs: the timestamp must be a string; a number is a 400.
  if (typeof ts !== 'string' || !nanosPattern.test(ts)) fail(`${path}[0]`, 'timestamp must be a string of Unix nanoseconds');
  const nanos = BigInt(ts);
  if (nanos > int64Max || nanos < int64Min) fail(`${path}[0]`, 'timestamp overflows int64');
  if (typeof line !== 'string') fail(`${path}[1]`, 'log line must be a string');
  return { ts: nanos, line, metadata: metadata === undefined ? new Map() : stringMap(metadata, `${path}[2]`) };
}

function decodeJson(text: string): PushStream[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new LokiHttpError(400, `invalid push body: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) fail('body', 'must be an object with "streams"');
  const streams = parsed.streams ?? [];
  if (!Array.isArray(streams)) fail('streams', 'must be an array');
  return streams.map((stream: unknown, i): PushStream => {
    const path = `streams[${i}]`;
    if (!isObject(stream)) fail(path, 'must be an object');
    const values = stream.values ?? [];
    if (!Array.isArray(values)) fail(`${path}.values`, 'must be an array');
    return {
      labels: stringMap(stream.stream ?? {}, `${path}.stream`),
      entries: values.map((entry: unknown, j) => decodeEntry(entry, `${path}.values[${j}]`)),
    };
  });
}

/** Decompresses and decodes one push body, or throws a LokiHttpError. */
export async function decodePush(raw: RawBody, headers: IncomingHttpHeaders, maxRecvMsgSize: number): Promise<DecodedPush> {
  if (raw.size > maxRecvMsgSize) throw new LokiHttpError(413, LokiErrors.bodyTooLarge(raw.size, maxRecvMsgSize));
  const encoding = (headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoded = await decompress(raw.body, encoding, maxRecvMsgSize);
  const type = mediaType(headers['content-type']);
  if (type !== 'application/json') {
    throw new LokiHttpError(
      415,
      `this Loki test server implements only the JSON push format (Content-Type: application/json); ` +
        `${type} (Loki's default snappy-compressed protobuf) is not implemented`,
    );
  }
  return { streams: decodeJson(decoded.toString('utf8')), wireBytes: raw.size };
}
