/**
 * `kitsune dlq list|show|replay|purge`: inspect and act on dead letters, on Kafka or on the
 * Postgres log, with the instance's own database and registry. The design (bookmark group, states,
 * loop guard, dry run) is in docs/decisions/0007-dlq-replay.md.
 */
import { parseArgs } from 'node:util';
import { loadRegistry } from '../commands/index.ts';
import { loadConfig, loadDotEnv, type Config } from '../config/index.ts';
import { inspectDeadLetters, type DlqDeps } from '../dlq/inspect.ts';
import { createKafkaDeadLetterLog } from '../dlq/kafka-log.ts';
import { LetterStates } from '../dlq/plan.ts';
import { createPostgresDeadLetterLog } from '../dlq/postgres-log.ts';
import { purgeDeadLetters } from '../dlq/purge.ts';
import { replayDeadLetters, replayDefaults } from '../dlq/replay.ts';
import { findResults } from '../dlq/state.ts';
import type { Transport } from '../transport/types.ts';
import { cliLogger, openCliDatabase, openCliTransport } from './context.ts';
import { formatList, formatPurge, formatReplay, formatShow, letterJson, replayJson } from './dlq/format.ts';
import { UsageError } from './runtime.ts';

export const help = `usage: kitsune dlq list    [--all] [--json]
       kitsune dlq show    <event-id | partition:offset> [--json]
       kitsune dlq replay  [--dry-run] [--id <event-id | partition:offset>]... [--all] [--rate <events/s>]
                           [--max-replays <n>] [--force] [--wait <seconds>] [--json]
       kitsune dlq purge   [--before <ISO time>] [--yes] [--json]
  every action also takes --topic <dlq topic> (default: <KITSUNE_TOPIC_DB_EVENTS>.dlq, db-events.dlq)

Dead letters are events the DB worker could never apply (a constraint, a bad payload). They stay
in the DLQ topic with the reason, SQLSTATE, attempts and source position. A bookmark, the committed
offset of the group <KAFKA_GROUP_ID>.dlq-replay, marks how far they were replayed or purged.

list    the dead letters after the bookmark, with their state: pending, applied (took effect
        since), superseded (failed again later), invalid (not valid under the current registry),
        exhausted (replayed --max-replays times). --all includes those before the bookmark.
show    everything about one dead letter: headers, the event, its stored result.
replay  republishes each pending dead letter to db-events as it was (same id, same idempotency
        key, same bytes; header kitsune-replay-count raised), so one that already took effect
        cannot apply twice. Checks each against the current registry first. Then moves the
        bookmark past everything handled.
          --dry-run          run each event's SQL through the DB worker's code in a transaction
                             that is rolled back; print would-succeed/would-fail with reasons.
                             Exits 1 when any would fail.
          --id <id>          only these (repeatable)
          --all              also those before the bookmark (replayed or purged earlier)
          --rate <n>         at most n events per second (default ${replayDefaults.ratePerSecond})
          --max-replays <n>  loop guard: hold events replayed n times already (default ${replayDefaults.maxReplays})
          --force            replay past the loop guard, and replay events that already took
                             effect (the worker acknowledges them as duplicates, no effect)
          --wait <s>         wait up to s seconds for the worker's outcomes and report them
        Exits 1 when dead letters stay pending (invalid, exhausted) or, with --wait, when a replay
        failed again or had no outcome in time.
purge   drops the pending dead letters (all, or those that failed before --before) by moving the
        bookmark past them. Needs --yes; without it, prints what it would drop.

The database is POSTGRES_DSN, else the embedded one of a running \`kitsune start\`; the topics are
on Kafka with KAFKA_BROKERS, else on the Postgres log in that database.
`;

const options = {
  help: { type: 'boolean', short: 'h' },
  topic: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  id: { type: 'string', multiple: true },
  rate: { type: 'string' },
  'max-replays': { type: 'string' },
  force: { type: 'boolean' },
  wait: { type: 'string' },
  before: { type: 'string' },
  yes: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

const actions = new Map<string, (config: Config, values: Values, args: string[]) => Promise<number>>([
  ['list', list],
  ['show', show],
  ['replay', replay],
  ['purge', purge],
]);

export async function runDlqCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
  const [action, ...args] = positionals;
  if (values.help || action === undefined) {
    process.stdout.write(help);
    return values.help ? 0 : 2;
  }
  const run = actions.get(action);
  if (!run) throw new UsageError(`kitsune dlq: unknown action "${action}"; use list, show, replay or purge (kitsune dlq --help)`);
  loadDotEnv();
  return run(loadConfig(), values, args);
}

function number(values: Values, name: 'rate' | 'max-replays' | 'wait', fallback: number, check: (n: number) => boolean, rule: string): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !check(value)) throw new UsageError(`kitsune dlq: --${name} must be ${rule} (got "${raw}")`);
  return value;
}

/** Opens what an action needs and closes it afterwards, whatever happens. */
async function withDlq<T>(config: Config, values: Values, command: string, work: (deps: DlqDeps, transport: () => Transport) => Promise<T>): Promise<T> {
  const logger = cliLogger(config, 'dlq');
  const registry = await loadRegistry(config.registryPath);
  const database = await openCliDatabase(config, `kitsune dlq ${command}`, logger);
  const log = config.kafkaBrokers
    ? createKafkaDeadLetterLog({ brokers: config.kafkaBrokers, clientId: `${config.serviceName}-cli` })
    : createPostgresDeadLetterLog(database.pool);
  let transport: Transport | undefined;
  try {
    const deps: DlqDeps = { log, pool: database.pool, registry, dlqTopic: values.topic ?? `${config.topics.dbEvents}.dlq`, group: `${config.groupId}.dlq-replay` };
    return await work(deps, () => (transport ??= openCliTransport(config, database.pool, logger)));
  } finally {
    await transport?.close();
    await log.close();
    await database.close();
  }
}

const print = (text: string): void => void process.stdout.write(text);
const printJson = (value: unknown): void => print(`${JSON.stringify(value, null, 2)}\n`);

async function list(config: Config, values: Values, args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError(`kitsune dlq list: unexpected argument "${args[0]}"`);
  return withDlq(config, values, 'list', async (deps) => {
    const { loaded, planned } = await inspectDeadLetters(deps, { all: values.all ?? false, maxReplays: replayDefaults.maxReplays, force: false });
    if (values.json) printJson(planned.map(letterJson));
    else if (!loaded.snapshot.exists) print(`${deps.dlqTopic} does not exist yet: nothing was ever dead-lettered here\n`);
    else print(formatList(deps.dlqTopic, deps.group, planned, values.all ?? false));
    return 0;
  });
}

async function show(config: Config, values: Values, args: string[]): Promise<number> {
  const [wanted, ...extra] = args;
  if (wanted === undefined || extra.length > 0) throw new UsageError('kitsune dlq show: name one dead letter: kitsune dlq show <event-id | partition:offset>');
  return withDlq(config, values, 'show', async (deps) => {
    const { planned } = await inspectDeadLetters(deps, { all: true, maxReplays: replayDefaults.maxReplays, force: false });
    const found = planned.filter((p) => p.letter.eventId === wanted || p.letter.position === wanted);
    if (found.length === 0) {
      process.stderr.write(`kitsune dlq show: no dead letter ${wanted} in ${deps.dlqTopic}; \`kitsune dlq list --all\` lists what is retained\n`);
      return 1;
    }
    const results = await findResults(deps.pool, found.map((p) => p.letter.eventId));
    if (values.json) printJson(found.map((p) => ({ ...letterJson(p), key: p.letter.message.key ?? null, headers: p.letter.message.headers, event: p.letter.event ?? null, result: results.get(p.letter.eventId) ?? null })));
    else print(found.map((p) => formatShow(deps.dlqTopic, p, results.get(p.letter.eventId))).join('\n'));
    return 0;
  });
}

async function replay(config: Config, values: Values, args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError(`kitsune dlq replay: unexpected argument "${args[0]}"; name events with --id`);
  const ratePerSecond = number(values, 'rate', replayDefaults.ratePerSecond, (n) => n > 0 && n <= 100_000, 'a number of events per second from 0 to 100000');
  const maxReplays = number(values, 'max-replays', replayDefaults.maxReplays, (n) => Number.isInteger(n) && n >= 1, 'a whole number from 1');
  const waitSeconds = number(values, 'wait', 0, (n) => n >= 0 && n <= 3_600, 'a number of seconds from 0 to 3600');
  const dlqTopic = values.topic ?? `${config.topics.dbEvents}.dlq`;
  if (dlqTopic !== `${config.topics.dbEvents}.dlq`) {
    throw new UsageError(
      `kitsune dlq replay: ${dlqTopic} is not the DLQ of ${config.topics.dbEvents}. Replay re-runs commands, so it works on ${config.topics.dbEvents}.dlq only; ` +
        'list, show and purge work on any DLQ topic',
    );
  }
  return withDlq(config, values, 'replay', async (deps, transport) => {
    const report = await replayDeadLetters(
      // The transport connects on the first publish only: a dry run never opens it.
      { ...deps, publisher: { publish: (topic, messages) => transport().publish(topic, messages) }, targetTopic: config.topics.dbEvents },
      {
        dryRun: values['dry-run'] ?? false,
        all: values.all ?? false,
        select: values.id ? new Set(values.id) : undefined,
        maxReplays,
        force: values.force ?? false,
        ratePerSecond,
        waitMs: waitSeconds * 1_000,
        // On a terminal only: piped or captured output stays one clean report.
        onProgress: (done, total) => {
          if (total >= 1_000 && !values.json && process.stderr.isTTY) process.stderr.write(`\rreplayed ${done}/${total}${done === total ? '\n' : ''}`);
        },
      },
    );
    if (values.json) printJson(replayJson(report));
    else print(formatReplay(deps.dlqTopic, config.topics.dbEvents, report, { ratePerSecond }));
    const heldBack = report.planned.some((p) => p.state === LetterStates.invalid || p.state === LetterStates.exhausted);
    if (report.predictions) return heldBack || report.predictions.some((o) => o.status !== 'succeeded' && o.status !== 'duplicate') ? 1 : 0;
    const awaited = report.replayed.filter((l) => !report.duplicates.includes(l));
    const notDone = report.outcomes !== undefined && awaited.some((l) => report.outcomes!.get(l.eventId)?.status !== 'succeeded');
    return heldBack || notDone ? 1 : 0;
  });
}

async function purge(config: Config, values: Values, args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError(`kitsune dlq purge: unexpected argument "${args[0]}"`);
  let before: Date | undefined;
  if (values.before !== undefined) {
    before = new Date(values.before);
    if (Number.isNaN(before.getTime())) throw new UsageError(`kitsune dlq purge: --before must be an ISO 8601 time such as 2025-01-31T12:00:00Z (got "${values.before}")`);
  }
  return withDlq(config, values, 'purge', async (deps) => {
    const execute = values.yes ?? false;
    const report = await purgeDeadLetters(deps, { before, execute });
    if (values.json) {
      printJson({
        executed: execute,
        dropped: report.dropped.map(letterJson),
        kept: report.kept.map(letterJson),
        bookmark: Object.fromEntries([...report.bookmark].map(([p, o]) => [p, String(o)])),
      });
    } else {
      print(formatPurge(deps.dlqTopic, report, execute));
    }
    return execute || report.dropped.length === 0 ? 0 : 1;
  });
}
