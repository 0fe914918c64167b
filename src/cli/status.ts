/**
 * `kitsune status`: what runs and where, read without starting anything: the `kitsune start` of
 * the data directory (PID, URL), the database (DSN without its password), the transport (Kafka
 * brokers or the Postgres log), where logs go, and how far each worker group is behind.
 */
import { parseArgs } from 'node:util';
import { loadConfig, loadDotEnv, type Config } from '../config/index.ts';
import { createKafkaDeadLetterLog } from '../dlq/kafka-log.ts';
import { pendingFrom, type DeadLetterLog } from '../dlq/log.ts';
import { createPostgresDeadLetterLog } from '../dlq/postgres-log.ts';
import { toError } from '../errors.ts';
import { cliLogger, openCliDatabase, type CliDatabase } from './context.ts';
import { ExitCodes } from './exit-codes.ts';
import { isKitsuneAlive, readInstance } from './instance.ts';
import { describeDsn, describeUrl } from './startup-errors.ts';

export const help = `usage: kitsune status [--json]

Prints what runs and where, without starting or changing anything:
  instance   the kitsune start of KITSUNE_DATA_DIR (default ./.kitsune): pid and URL, or not running
  database   POSTGRES_DSN or the embedded PostgreSQL (without its password), and whether it answers
  transport  Kafka (KAFKA_BROKERS) or the Postgres log in the database
  logs       Loki (LOKI_URL) or the kitsune.logs table
  lag        records each worker group (<KAFKA_GROUP_ID>.db-worker, .log-worker) has yet to consume
Exits 0 when the database (and Kafka) answer, 7 or 8 when one does not.
`;

interface Lag {
  group: string;
  topic: string;
  /** Records not yet consumed; undefined when the topic does not exist yet. */
  behind: number | undefined;
}

interface Status {
  dataDir: string;
  instance: { running: boolean; pid?: number; url?: string; command?: string };
  database: { dsn: string | undefined; from: string; reachable: boolean; error?: string };
  transport: { kind: 'kafka' | 'postgres-log'; brokers?: string[]; reachable: boolean; error?: string };
  logs: { sink: 'loki' | 'postgres'; url?: string };
  lag: Lag[];
}

async function groupLag(log: DeadLetterLog, topic: string, group: string): Promise<Lag> {
  const snapshot = await log.describe(topic, group);
  if (!snapshot.exists) return { group, topic, behind: undefined };
  const behind = snapshot.partitions.reduce((sum, partition) => sum + Number(partition.end - pendingFrom(partition)), 0);
  return { group, topic, behind };
}

async function collect(config: Config): Promise<Status> {
  const state = await readInstance(config.dataDir);
  const live = state !== undefined && isKitsuneAlive(state.kitsunePid);
  const status: Status = {
    dataDir: config.dataDir,
    instance: live ? { running: true, pid: state.kitsunePid, command: state.command, ...(state.url ? { url: state.url } : {}) } : { running: false },
    database: { dsn: undefined, from: config.postgresDsn ? 'POSTGRES_DSN' : 'embedded', reachable: false },
    transport: config.kafkaBrokers ? { kind: 'kafka', brokers: config.kafkaBrokers, reachable: false } : { kind: 'postgres-log', reachable: false },
    logs: config.lokiUrl ? { sink: 'loki', url: describeUrl(config.lokiUrl) } : { sink: 'postgres' },
    lag: [],
  };
  let database: CliDatabase | undefined;
  try {
    database = await openCliDatabase(config, 'kitsune status', cliLogger(config, 'status'));
    status.database = { dsn: describeDsn(database.dsn), from: database.from, reachable: true };
  } catch (error) {
    status.database.error = toError(error).message.replace(/^kitsune status: /, '');
  }
  let log: DeadLetterLog | undefined;
  try {
    if (config.kafkaBrokers) log = createKafkaDeadLetterLog({ brokers: config.kafkaBrokers, clientId: `${config.serviceName}-status`, requestTimeoutMs: 5_000 });
    else if (database) log = createPostgresDeadLetterLog(database.pool);
    if (log) {
      status.lag = await Promise.all([
        groupLag(log, config.topics.dbEvents, `${config.groupId}.db-worker`),
        groupLag(log, config.topics.appLogs, `${config.groupId}.log-worker`),
      ]);
      status.transport.reachable = true;
    }
  } catch (error) {
    status.transport.error = toError(error).message;
  } finally {
    await log?.close();
    await database?.close();
  }
  return status;
}

function format(status: Status): string {
  const { instance, database, transport, logs } = status;
  const rows: Array<[string, string]> = [
    ['data dir', status.dataDir],
    ['instance', instance.running ? `kitsune ${instance.command ?? 'start'} running (pid ${instance.pid}${instance.url ? `, ${instance.url}` : ''})` : 'no kitsune start running here'],
    ['database', database.reachable ? `${database.dsn} (${database.from})` : `not reachable: ${database.error ?? 'unknown'}`],
    [
      'transport',
      transport.kind === 'kafka'
        ? `Kafka ${transport.brokers?.join(',')}${transport.reachable ? '' : ` (not reachable: ${transport.error ?? 'unknown'})`}`
        : 'the Postgres log, in the database',
    ],
    ['logs', logs.sink === 'loki' ? `Loki ${logs.url}` : 'PostgreSQL (kitsune.logs, GET /logs)'],
    ...status.lag.map((lag): [string, string] => ['lag', `${lag.group} on ${lag.topic}: ${lag.behind === undefined ? 'topic not created yet' : `${lag.behind} records behind`}`]),
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n') + '\n';
}

export async function runStatusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  loadDotEnv();
  const status = await collect(loadConfig());
  process.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : format(status));
  if (!status.database.reachable) return ExitCodes.database;
  return status.transport.kind === 'kafka' && !status.transport.reachable ? ExitCodes.broker : ExitCodes.ok;
}
