/**
 * `npm run contract`: the HTTP contract test. Starts a real Kitsune (`kitsune start`: embedded
 * PostgreSQL, the Postgres log, the DB and log workers) with API keys on, points schemathesis at its
 * own /openapi.json (test/contract/schemathesis.toml: positive and negative cases, the stateful
 * phase following the document's links), stops Kitsune by PID, and prints the counts.
 *
 * schemathesis is Python: .ci/run installs the pinned version into a virtualenv and passes its
 * `st` as KITSUNE_SCHEMATHESIS. `npm test` does not run this, so it needs no Python.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/cli/ports.ts';
import { eventIdSchema } from '../src/contract/schemas.ts';
import { repoRoot } from './services/state.ts';

const st = process.env.KITSUNE_SCHEMATHESIS ?? 'st';
const readyWithinMs = 180_000;

function say(line: string): void {
  process.stdout.write(`contract: ${line}\n`);
}

async function waitReady(url: string, kitsune: ChildProcess): Promise<void> {
  const deadline = Date.now() + readyWithinMs;
  while (Date.now() < deadline) {
    if (kitsune.exitCode !== null) throw new Error(`kitsune start exited with ${kitsune.exitCode} before it was ready`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolveTick) => setTimeout(resolveTick, 250));
  }
  throw new Error(`kitsune start was not ready within ${readyWithinMs} ms`);
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolveStop) => {
    child.once('exit', () => resolveStop());
    child.kill('SIGTERM');
  });
}

/**
 * One command sent and applied before the run: cases that name the document's example event id
 * name this event instead (test/contract/hooks.py), so they are answered at once rather than
 * holding `?wait=` to its end for an id that never existed.
 */
async function seedEvent(url: string, key: string): Promise<string> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const body = { command: 'create_user', version: '1', payload: { name: 'Contract', email: `contract-${randomBytes(6).toString('hex')}@example.com` }, log: { level: 'INFO', message: 'contract test seed' } };
  const sent = await fetch(`${url}/execute`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (sent.status !== 202) throw new Error(`the seed command was answered ${sent.status}: ${await sent.text()}`);
  const { id } = (await sent.json()) as { id: string };
  const read = await fetch(`${url}/events/${id}?wait=30`, { headers });
  const { status } = (await read.json()) as { status: string };
  if (status !== 'succeeded') throw new Error(`the seed command ${id} is ${status}, not succeeded, after 30 s`);
  return id;
}

/** The counts schemathesis prints in its summary. */
function counts(output: string): string {
  const operations = /Tested:\s*(\d+)/.exec(output)?.[1] ?? '?';
  const cases = /(\d+) generated/.exec(output)?.[1] ?? '?';
  const failures = /(\d+) found (\d+) unique failures?/.exec(output);
  const verdict = /=+ (.*) in [\d.]+s =+/.exec(output)?.[1];
  const findings = failures?.[2] ?? (verdict === undefined ? '?' : '0');
  return `operations ${operations}, cases ${cases}, findings ${findings} (${verdict ?? 'no summary'})`;
}

async function main(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'kitsune-contract-'));
  const key = randomBytes(24).toString('hex');
  const keysFile = join(dir, 'keys.yaml');
  await writeFile(keysFile, `keys:\n  - { name: contract, sha256: ${createHash('sha256').update(key).digest('hex')}, source: contract-test, commands: ["*"], admin: true }\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const kitsune = spawn(process.execPath, [join(repoRoot, 'bin', 'kitsune.js'), 'start'], {
    cwd: dir,
    env: {
      ...process.env,
      HTTP_PORT: String(port),
      KITSUNE_METRICS_PORT: '0',
      KITSUNE_DATA_DIR: join(dir, 'data'),
      KITSUNE_REGISTRY: join(repoRoot, 'commands', 'registry.yaml'),
      KITSUNE_MIGRATIONS_DIR: join(repoRoot, 'migrations'),
      KITSUNE_API_KEYS_FILE: keysFile,
      KITSUNE_METRICS_REQUIRE_KEY: 'true',
      KITSUNE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    say(`starting kitsune start on ${url} (embedded PostgreSQL, data in ${dir})`);
    await waitReady(url, kitsune);
    const document = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    say(`the document lists ${operations.length} operations: ${operations.join(', ')}`);
    const seeded = await seedEvent(url, key);
    say(`the document's example event id stands for ${seeded}, a create_user applied before the run`);
    say(`running ${st} against ${url}/openapi.json`);
    const run = spawn(st, ['--config-file', join(repoRoot, 'test', 'contract', 'schemathesis.toml'), '--no-color', 'run', `${url}/openapi.json`, '-H', `Authorization: Bearer ${key}`], {
      cwd: dir,
      env: {
        ...process.env,
        PYTHONPATH: join(repoRoot, 'test', 'contract'),
        KITSUNE_CONTRACT_EXAMPLE_EVENT_ID: eventIdSchema.examples[0],
        KITSUNE_CONTRACT_SEEDED_EVENT_ID: seeded,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    run.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    const code = await new Promise<number>((resolveCode, reject) => {
      run.on('error', (error) => reject(new Error(`could not run ${st}: ${error.message}; set KITSUNE_SCHEMATHESIS to schemathesis' st`)));
      run.on('exit', (exitCode) => resolveCode(exitCode ?? 1));
    });
    say(counts(output));
    // The plain closing line CI runners read: cases that passed every check, and findings.
    const passed = /(\d+) passed/.exec(/Test cases:\s*\n\s*(.*)/.exec(output)?.[1] ?? '')?.[1];
    if (passed !== undefined) process.stdout.write(`contract: ${passed} passed, ${/(\d+) found (\d+) unique failures?/.exec(output)?.[2] ?? (code === 0 ? 0 : 1)} failed\n`);
    return code;
  } finally {
    await stop(kitsune);
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`contract: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
