/**
 * An OTLP/HTTP trace receiver for tests, written to the OTLP specification's HTTP transport:
 * POST /v1/traces with an ExportTraceServiceRequest in the JSON encoding (exporters set
 * OTEL_EXPORTER_OTLP_PROTOCOL=http/json), gzip or not; answers 200 with an empty
 * ExportTraceServiceResponse, 415 for the binary protobuf encoding it does not decode, 400 for
 * a body that is not a request. Used where no real collector binary is available (see
 * otel-collector.ts for the real one).
 */
import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { spansOf, type ExportTraceServiceRequest, type ReceivedSpan } from './spans.ts';

export interface TraceReceiver {
  /** The OTLP endpoint to put in OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  /** The protocol exporters must use. */
  protocol: 'http/json' | 'http/protobuf';
  spans(): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

export async function startTraceReceiver(): Promise<TraceReceiver> {
  const received: ReceivedSpan[] = [];
  const server = createServer((request, response) => {
    const reply = (status: number, text: string): void => void response.writeHead(status, { 'content-type': 'application/json' }).end(text);
    if (request.method !== 'POST' || request.url !== '/v1/traces') return reply(404, '{"message":"POST /v1/traces"}');
    if (!request.headers['content-type']?.startsWith('application/json')) return reply(415, '{"message":"this receiver decodes the JSON encoding only"}');
    body(request).then(
      (raw) => {
        try {
          received.push(...spansOf(JSON.parse(raw.toString('utf8')) as ExportTraceServiceRequest));
          reply(200, '{}');
        } catch (error) {
          reply(400, JSON.stringify({ message: String(error) }));
        }
      },
      (error: unknown) => reply(400, JSON.stringify({ message: String(error) })),
    );
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    protocol: 'http/json',
    spans: () => Promise.resolve([...received]),
    close: () => new Promise((resolveClose) => server.close(() => resolveClose())),
  };
}
