/**
 * Debian's Prometheus, run by PID with a config and storage directory of the test's own (the
 * package's service is never involved). Without the binary the suites skip with a reason, and
 * KITSUNE_REQUIRE_SERVICES=1 makes that a failure, as for Kafka.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/cli/ports.ts';

const requireServices = process.env.KITSUNE_REQUIRE_SERVICES === '1';

function found(binary: string): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Why the Prometheus suites cannot run here, or false. */
export const prometheusSkip: string | false = (() => {
  const missing = ['prometheus', 'promtool'].filter((binary) => !found(binary));
  if (missing.length === 0) return false;
  const reason = `${missing.join(' and ')} not found (apt-get install prometheus; .ci/run does)`;
  if (requireServices) throw new Error(`Prometheus is required (KITSUNE_REQUIRE_SERVICES=1) but ${reason}`);
  return reason;
})();

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface RunningPrometheus {
  url: string;
  /** An instant query; rejects on a PromQL error. */
  query(expr: string): Promise<Sample[]>;
  /** The scraped samples of `selector` from `fromMs` until now, each with the time of its scrape. */
  samples(selector: string, fromMs: number): Promise<RawSeries[]>;
}

export interface RawSeries {
  metric: Record<string, string>;
  /** Oldest first; `at` is the scrape's time in ms. */
  samples: Array<{ at: number; value: number }>;
}

interface ApiResponse<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
}

export async function startPrometheus(
  t: { after(fn: () => unknown): void },
  options: { targets: readonly string[]; ruleFiles: readonly string[]; intervalSeconds?: number },
): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'kitsune-prometheus-'));
  const interval = `${options.intervalSeconds ?? 1}s`;
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: options.ruleFiles,
    scrape_configs: [{ job_name: 'kitsune', static_configs: [{ targets: options.targets }] }],
  };
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config)); // JSON is YAML
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  t.after(async () => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as ApiResponse<T>;
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${stderr}`);
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`prometheus was not ready within 60 s:\n${stderr}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  return {
    url,
    async query(expr) {
      const data = await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async samples(selector, fromMs) {
      // A range selector at an instant query returns the stored samples themselves, not steps.
      const now = Date.now();
      const seconds = Math.max(1, Math.ceil((now - fromMs) / 1000) + 1);
      const query = `query=${encodeURIComponent(`${selector}[${seconds}s]`)}&time=${now / 1000}`;
      const data = await api<{ result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }>(`/api/v1/query?${query}`);
      return data.result.map((r) => ({
        metric: r.metric,
        samples: r.values.map(([at, v]) => ({ at: at * 1000, value: Number(v) })).filter((sample) => sample.at >= fromMs),
      }));
    },
  };
}
