/**
 * A real OpenTelemetry Collector (core v0.165.0: the OTLP receiver and the OTLP/HTTP exporter,
 * built from scripts/otelcol/ by scripts/otelcol/build.sh into a cache outside the repository).
 * Kitsune exports to it in OTLP/HTTP protobuf, its default; the collector forwards every span as
 * OTLP/HTTP JSON to the receiver in this directory, where the test reads them. So the spans are
 * decoded by the collector's own receiver, not only by ours.
 *
 * Undefined when no binary was built here (no Go toolchain, or the build failed): the test then
 * uses the receiver in this directory directly.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../src/cli/ports.ts';
import { startTraceReceiver, type TraceReceiver } from './receiver.ts';

/** Where scripts/otelcol/build.sh puts the binary. */
export const collectorBinary = process.env.KITSUNE_OTELCOL ?? join(homedir(), '.cache', 'kitsune', 'otelcol-v0.165.0', 'otelcol');

export async function startCollectorReceiver(t: { after(fn: () => unknown): void }): Promise<TraceReceiver | undefined> {
  if (!existsSync(collectorBinary)) return undefined;
  const downstream = await startTraceReceiver();
  t.after(() => downstream.close());
  const dir = await mkdtemp(join(tmpdir(), 'kitsune-otelcol-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  // JSON is YAML.
  const config = {
    receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${port}` } } } },
    exporters: { otlphttp: { endpoint: downstream.endpoint, encoding: 'json', compression: 'none', retry_on_failure: { enabled: false } } },
    service: {
      telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
      pipelines: { traces: { receivers: ['otlp'], exporters: ['otlphttp'] } },
    },
  };
  await writeFile(join(dir, 'config.yaml'), JSON.stringify(config));
  const child = spawn(collectorBinary, ['--config', join(dir, 'config.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  t.after(async () => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await exited;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  // Ready when its receiver answers (405/415 to an empty GET is an answer).
  while (!(await fetch(`${endpoint}/v1/traces`).then(() => true, () => false))) {
    if (child.exitCode !== null) throw new Error(`the collector exited with ${child.exitCode}:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`the collector did not listen within 30 s:\n${stderr}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  return { endpoint, protocol: 'http/protobuf', spans: () => downstream.spans(), close: () => Promise.resolve() };
}
