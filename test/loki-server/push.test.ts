import assert from 'node:assert/strict';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import { Reasons, noAuthTenant } from '../support/loki/index.ts';
import { nowNs, push, pushBody, startLoki, stream } from './helpers.ts';

test('a JSON push is answered 204 and stored with its labels, timestamp, line and structured metadata', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();
  const answer = await push(loki, [
    stream({ service: 'kitsune', level: 'info' }, [ts, 'user created', { event_id: 'e-1' }], [ts + 1n, 'second line']),
  ]);

  assert.equal(answer.status, 204);
  assert.equal(answer.text, '');
  const labels = { level: 'info', service: 'kitsune', service_name: 'kitsune' };
  assert.deepEqual(loki.entries(), [
    { tenant: noAuthTenant, labels, ts, line: 'user created', metadata: { event_id: 'e-1' } },
    { tenant: noAuthTenant, labels, ts: ts + 1n, line: 'second line', metadata: {} },
  ]);
  const stats = loki.stats();
  assert.equal(stats.pushesReceived, 1);
  assert.equal(stats.acceptedEntries, 2);
  assert.equal(stats.responses.get(204), 1);
});

test('a gzip-compressed JSON push is stored like a plain one', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();
  const entries = Array.from({ length: 100 }, (_, i): [bigint, string] => [ts + BigInt(i), `compressed line ${i} ${'-'.repeat(50)}`]);
  const streams = [stream({ service: 'kitsune' }, ...entries)];

  const answer = await push(loki, streams, { gzip: true });

  assert.equal(answer.status, 204);
  assert.deepEqual(
    loki.entries().map((entry) => entry.line),
    entries.map(([, line]) => line),
  );
  // Counted as received on the wire, i.e. compressed.
  assert.ok(loki.stats().bytesReceived < JSON.stringify({ streams }).length / 4);
});

test('a deflate push is read as raw flate, the way Loki reads it', async (t) => {
  const loki = await startLoki(t);
  const body = JSON.stringify({ streams: [stream({ service: 'kitsune' }, [nowNs(), 'deflated'])] });
  const compressed = await promisify(deflateRaw)(Buffer.from(body));

  const answer = await pushBody(loki, compressed, { headers: { 'Content-Encoding': 'deflate' } });

  assert.equal(answer.status, 204);
  assert.equal(loki.entries()[0]?.line, 'deflated');
});

test('a push without Content-Type is refused with 400, as Go refuses an empty media type', async (t) => {
  const loki = await startLoki(t);

  const answer = await push(loki, [stream({ service: 'kitsune' }, [nowNs(), 'x'])], { contentType: null });

  assert.equal(answer.status, 400);
  assert.equal(answer.text, 'mime: no media type\n');
  assert.deepEqual(loki.entries(), []);
});

test('a protobuf push is answered 415 because only the JSON format is implemented', async (t) => {
  const loki = await startLoki(t);

  const answer = await pushBody(loki, Buffer.from([0x0a, 0x00]), { contentType: 'application/x-protobuf' });

  assert.equal(answer.status, 415);
  assert.match(answer.text, /only the JSON push format/);
});

test('an unsupported Content-Encoding is refused with 400', async (t) => {
  const loki = await startLoki(t);

  const answer = await pushBody(loki, '{"streams":[]}', { headers: { 'Content-Encoding': 'br' } });

  assert.equal(answer.status, 400);
  assert.equal(answer.text, 'Content-Encoding "br" not supported\n');
});

test('a malformed body, or a timestamp sent as a number, is refused with 400 and nothing is stored', async (t) => {
  const loki = await startLoki(t);
  const numeric = JSON.stringify({ streams: [{ stream: { service: 'kitsune' }, values: [[Date.now() * 1e6, 'x']] }] });
  const nested = JSON.stringify({ streams: [{ stream: { service: 'kitsune' }, values: [[String(nowNs()), 'x', { a: { b: 'c' } }]] }] });

  for (const body of ['{"streams": [', numeric, nested, '[]']) {
    const answer = await pushBody(loki, body);
    assert.equal(answer.status, 400, body);
  }
  assert.deepEqual(loki.entries(), []);
});

test('a push with no streams is answered 422, and one whose streams are all empty 204', async (t) => {
  const loki = await startLoki(t);

  const none = await push(loki, []);
  const empty = await push(loki, [stream({ service: 'kitsune' })]);

  assert.equal(none.status, 422);
  assert.equal(none.text, 'error at least one valid stream is required for ingestion\n');
  assert.equal(empty.status, 204);
  assert.deepEqual(loki.entries(), []);
});

test('a stream without service_name gets one from the first discover_service_name label present, else unknown_service', async (t) => {
  const loki = await startLoki(t);
  const ts = nowNs();

  await push(loki, [
    stream({ app: 'billing', job: 'batch' }, [ts, 'from app']),
    stream({ level: 'info' }, [ts, 'from nothing']),
    stream({ service: 'kitsune', service_name: 'explicit' }, [ts, 'already named']),
  ]);

  const byLine = new Map(loki.entries().map((entry) => [entry.line, entry.labels]));
  assert.deepEqual(byLine.get('from app'), { app: 'billing', job: 'batch', service_name: 'billing' });
  assert.deepEqual(byLine.get('from nothing'), { level: 'info', service_name: 'unknown_service' });
  assert.deepEqual(byLine.get('already named'), { service: 'kitsune', service_name: 'explicit' });
});

test('labels with an empty value are dropped, as Prometheus label sets drop them', async (t) => {
  const loki = await startLoki(t, { limits: { discoverServiceName: [] } });

  await push(loki, [stream({ service: 'kitsune', command: '' }, [nowNs(), 'x'])]);

  assert.deepEqual(loki.entries()[0]?.labels, { service: 'kitsune' });
});

test('/ready answers 200 and /metrics exports discarded samples by reason and tenant', async (t) => {
  const loki = await startLoki(t, { limits: { maxLineSize: 4 } });
  await push(loki, [stream({ service: 'kitsune' }, [nowNs(), 'too long'])], { tenant: 'team-a' });

  const ready = await fetch(`${loki.url}/ready`);
  const metrics = await fetch(`${loki.url}/metrics`);

  assert.equal(ready.status, 200);
  assert.equal(await ready.text(), 'ready\n');
  const text = await metrics.text();
  assert.match(text, new RegExp(`loki_discarded_samples_total\\{reason="${Reasons.LINE_TOO_LONG}",tenant="team-a"\\} 1`));
  assert.match(text, /loki_distributor_lines_received_total\{tenant="team-a"\} 1/);
});

test('an unknown path is 404 and a wrong method is 405', async (t) => {
  const loki = await startLoki(t);

  const missing = await fetch(`${loki.url}/loki/api/v1/nope`);
  const wrong = await fetch(`${loki.url}/loki/api/v1/push`);

  assert.equal(missing.status, 404);
  assert.equal(wrong.status, 405);
});
