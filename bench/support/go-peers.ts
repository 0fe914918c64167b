/**
 * The Go reference stack (bench/peers/go: the seed's gofiber/fiber v2 + segmentio/kafka-go API and
 * its kafka-go + pgx DB worker), built with the machine's `go` from the Go module proxy into a
 * cache outside the repository, keyed by the sources and the Go version, so an unchanged peer is
 * built once. Without `go` (or when the build fails) the Go rows are skipped with the reason.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { repoRoot } from '../../scripts/services/state.ts';
import { spawnProcess, type Spawned } from './processes.ts';

export type GoPeers = { available: true; api: string; dbWorker: string; go: string } | { available: false; reason: string };

const source = join(repoRoot, 'bench', 'peers', 'go');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.go$|^go\.(mod|sum)$/.test(entry.name) ? [path] : [];
  });
}

let built: GoPeers | undefined;

/** Builds (once per run, and only when the sources or Go changed) and says where the binaries are. */
export function goPeers(log: (line: string) => void): GoPeers {
  if (built) return built;
  // GOTOOLCHAIN=local: use the Go that is installed, never download another one.
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly', CGO_ENABLED: '0' };
  let version: string;
  try {
    version = execFileSync('go', ['version'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    return (built = { available: false, reason: `no Go toolchain on PATH (${(error as NodeJS.ErrnoException).code ?? String(error)}); install Go ≥ 1.25 for the Go reference rows` });
  }
  const hash = createHash('sha256').update(version);
  for (const file of sourceFiles(source).sort()) hash.update(relative(source, file)).update(readFileSync(file));
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kitsune', 'bench-peers', hash.digest('hex').slice(0, 16));
  const binaries = { api: join(cache, 'kitsune-go-api'), dbWorker: join(cache, 'kitsune-go-db-worker') };
  if (!existsSync(binaries.api) || !existsSync(binaries.dbWorker)) {
    log(`building the Go reference (${version}) into ${cache}`);
    mkdirSync(cache, { recursive: true });
    try {
      for (const [name, out] of [['./api', binaries.api], ['./dbworker', binaries.dbWorker]] as const) {
        execFileSync('go', ['build', '-trimpath', '-o', out, name], { cwd: source, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
      }
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-5).join(' | ');
      return (built = { available: false, reason: `building bench/peers/go failed with ${version}: ${stderr || String(error)}` });
    }
  }
  return (built = { available: true, go: version.replace(/^go version /, ''), ...binaries });
}

export function spawnGoApi(peers: Extract<GoPeers, { available: true }>, env: Record<string, string>): Promise<Spawned> {
  return spawnProcess({ command: peers.api, args: [], env, ready: /^listening/, label: 'Go reference API' });
}

export function spawnGoDbWorker(peers: Extract<GoPeers, { available: true }>, env: Record<string, string>): Promise<Spawned> {
  return spawnProcess({ command: peers.dbWorker, args: [], env, ready: /^consuming/, label: 'Go reference DB worker' });
}
