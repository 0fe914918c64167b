/**
 * `npm run bench:compare -- --base <ref> [--only api,e2e,db-worker,log-worker] [--rounds 3] [--seconds 10] [--rate 1000] [--events 20000] [--poison-every N]`
 *
 * CPU time per event of this checkout against another commit, measured back to back in one run:
 * each scenario runs the two builds alternately (base, head, head, base, ...) for `--rounds`
 * rounds on fresh topics and databases, and reports each process's CPU time (from /proc) per
 * event, median per build and head ÷ base. On a machine shared with others, CPU time per event
 * moves far less than latency or throughput, and alternating cancels most of the drift in load.
 *
 *   api        `kitsune api` taking POST /execute at --rate for --seconds (open loop)
 *   e2e        api + db-worker + log-worker (into the Loki test server) at --rate, counted until
 *              every accepted event has its result and its log line stored
 *   db-worker  `kitsune db-worker` draining --events create_user events already on the topic;
 *              with --poison-every N, every Nth takes the email of the one before it and is
 *              dead-lettered (23505)
 *   log-worker `kitsune log-worker` draining --events app-logs records into the Loki test server
 *
 * `--base-env NAME=VALUE` and `--head-env NAME=VALUE` (repeatable) add to one build's roles'
 * environment: with `--base HEAD`, the same code under two settings, e.g.
 * `--head-env NODE_OPTIONS=--max-semi-space-size=4`. Each round also records each role's peak RSS.
 * `--profile <dir>` runs every role under node --cpu-prof (NODE_OPTIONS may not carry it), one
 * profile per build and role in `<dir>/base` and `<dir>/head`, the last round's; summarise them
 * with `npx tsx bench/profile.ts <dir>/head`.
 *
 * The base tree is exported under .kitsune/bench/trees/ and built (see support/trees.ts). Results
 * go to bench/results/compare-<run>.json. docs/performance.md records what was compared.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { down, up } from '../scripts/services/harness.ts';
import { readState, repoRoot, servicesDir } from '../scripts/services/state.ts';
import { freePort } from '../src/cli/ports.ts';
import { runScenario, type Build, type Round, type ScenarioEnv } from './support/compare-scenarios.ts';
import type { LoadChild } from './support/load-child.ts';
import { forkChild, type ForkedChild } from './support/rpc.ts';
import { fmtInt, median } from './support/stats.ts';
import { commitTree, ensureBuild } from './support/trees.ts';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string', default: 'HEAD~1' },
    only: { type: 'string', default: 'api,e2e,db-worker' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    events: { type: 'string', default: '20000' },
    'poison-every': { type: 'string', default: '0' },
    'base-env': { type: 'string', multiple: true, default: [] },
    'head-env': { type: 'string', multiple: true, default: [] },
    profile: { type: 'string' },
  },
});

/** `NAME=VALUE` pairs as an environment. */
function envOf(pairs: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`expected NAME=VALUE, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}
const scenarios = args.only.split(',').map((name) => name.trim());
const runId = `${new Date().toISOString().slice(2, 10).replaceAll('-', '')}${randomBytes(3).toString('hex')}`;
const log = (line: string): void => void process.stderr.write(`compare: ${line}\n`);

function summarise(rounds: readonly Round[]): string {
  const processes = [...new Set(rounds.flatMap((round) => Object.keys(round.usPerEvent)))];
  const lines: string[] = [];
  for (const name of processes) {
    const of = (build: string): number[] => rounds.filter((round) => round.build === build).map((round) => round.usPerEvent[name] ?? 0);
    const [base, head] = [median(of('base')), median(of('head'))];
    lines.push(`  ${name.padEnd(22)} base ${of('base').map(fmtInt).join(', ').padEnd(20)} → median ${fmtInt(base).padStart(5)} µs · head ${of('head').map(fmtInt).join(', ').padEnd(20)} → median ${fmtInt(head).padStart(5)} µs · head ÷ base ${base > 0 ? (head / base).toFixed(2) : 'n/a'}`);
  }
  const roles = [...new Set(rounds.flatMap((round) => Object.keys(round.peakMb)))];
  for (const name of roles) {
    const of = (build: string): number[] => rounds.filter((round) => round.build === build).map((round) => round.peakMb[name] ?? 0);
    const [base, head] = [median(of('base')), median(of('head'))];
    lines.push(`  ${`${name} peak RSS`.padEnd(22)} base ${of('base').map(fmtInt).join(', ').padEnd(20)} → median ${fmtInt(base).padStart(5)} MB · head ${of('head').map(fmtInt).join(', ').padEnd(20)} → median ${fmtInt(head).padStart(5)} MB · head ÷ base ${base > 0 ? (head / base).toFixed(2) : 'n/a'}`);
  }
  const p99 = (build: string): string => rounds.filter((round) => round.build === build).map((round) => (round.p99Ms === undefined ? '' : fmtInt(round.p99Ms))).join(', ');
  if (rounds.some((round) => round.p99Ms !== undefined)) lines.push(`  p99 ms (noisy)         base ${p99('base')} · head ${p99('head')}`);
  return lines.join('\n');
}

let started: Awaited<ReturnType<typeof up>> | undefined;
let load: ForkedChild<LoadChild> | undefined;
try {
  const loadAtStart = loadavg().map((v) => Number(v.toFixed(2)));
  if (ensureBuild()) log('built dist/ (src/ changed since the last build)');
  const base = commitTree(args.base);
  const builds: Build[] = [
    { name: 'base', root: base.root, commit: base.commit, env: envOf(args['base-env']), profileDir: args.profile && join(args.profile, 'base') },
    { name: 'head', root: repoRoot, commit: 'working tree', env: envOf(args['head-env']), profileDir: args.profile && join(args.profile, 'head') },
  ];
  const settings = (build: Build): string => (Object.keys(build.env).length > 0 ? ` with ${Object.entries(build.env).map(([k, v]) => `${k}=${v}`).join(' ')}` : '');
  log(`run ${runId}: base ${args.base} (${base.commit})${settings(builds[0]!)} against the working tree${settings(builds[1]!)}; load average ${loadAtStart.join(' ')}`);
  started = await up({ requireKafka: true });
  const state = await readState(servicesDir());
  load = await forkChild<LoadChild>('bench/support/load-child.ts');
  await load.call('init', { scope: runId });
  const env: ScenarioEnv = {
    runId,
    brokers: started.kafkaBrokers!.split(','),
    postgresDsn: started.postgresDsn,
    postgresPid: state.postgres?.pid,
    kafkaPid: started.kafkaPid,
    load,
    freePort,
    log,
    rate: Number(args.rate),
    seconds: Number(args.seconds),
    events: Number(args.events),
    poisonEvery: Number(args['poison-every']),
  };
  const results: Record<string, Round[]> = {};
  for (const scenario of scenarios) {
    results[scenario] = [];
    for (let round = 0; round < Number(args.rounds); round++) {
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const build of order) {
        log(`${scenario}: round ${round + 1}, ${build.name}`);
        results[scenario].push(await runScenario(scenario, env, build, `${round}${build.name[0]}`));
      }
    }
    const drained = scenario === 'db-worker' || scenario === 'log-worker';
    process.stdout.write(`${scenario} (CPU µs per event; ${drained ? `${fmtInt(env.events)} events drained` : `${fmtInt(env.rate)} events/s for ${env.seconds} s`}):\n${summarise(results[scenario])}\n`);
  }
  const loadAtEnd = loadavg().map((v) => Number(v.toFixed(2)));
  process.stdout.write(`load average ${loadAtStart.join(' ')} at the start, ${loadAtEnd.join(' ')} at the end\n`);
  const dir = join(repoRoot, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `compare-${runId}.json`), `${JSON.stringify({ date: new Date().toISOString(), runId, builds, args, loadAtStart, loadAtEnd, results }, null, 2)}\n`);
  log(`results written to bench/results/compare-${runId}.json`);
} finally {
  await load?.stop();
  if (started) await down(started.started);
}
