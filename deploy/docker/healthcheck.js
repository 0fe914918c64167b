// The image's HEALTHCHECK: exits 0 when this container's Kitsune role answers GET /healthz, 1
// otherwise. One image runs every role, each on its own port: the API (and `kitsune start`) on
// HTTP_PORT, the workers on KITSUNE_METRICS_PORT or their default metrics port. A container runs
// one role, so a 200 on any of those ports is that role answering. The ports come from
// Kitsune's own configuration module, so they are read the way the role read them.
import { get } from 'node:http';
import process from 'node:process';
import { loadConfig } from '../../dist/config/index.js';

const workerMetricsPorts = [9464, 9465]; // db-worker, log-worker (src/cli/db-worker.ts, log-worker.ts)
const timeoutMs = 2_000;

const config = loadConfig();
const wildcard = new Set(['0.0.0.0', '::', '']);
const host = wildcard.has(config.http.host) ? '127.0.0.1' : config.http.host;
// KITSUNE_METRICS_PORT=0 turns a worker's metrics server (and its /healthz) off.
const metricsPorts = config.metricsPort === undefined ? workerMetricsPorts : config.metricsPort === 0 ? [] : [config.metricsPort];
const ports = [...new Set([config.http.port, ...metricsPorts])];

/** @param {number} port @returns {Promise<boolean>} */
function answers(port) {
  return new Promise((resolveAnswer) => {
    const request = get({ host, port, path: '/healthz', timeout: timeoutMs }, (response) => {
      response.resume();
      resolveAnswer(response.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolveAnswer(false));
  });
}

const healthy = (await Promise.all(ports.map(answers))).some(Boolean);
process.stdout.write(healthy ? 'healthy\n' : `no answer from /healthz on port ${ports.join(', ')}\n`);
process.exitCode = healthy ? 0 : 1;
