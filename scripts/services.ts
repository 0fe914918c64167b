/**
 * `npm run services -- up [--brokers N] [--schema-registry]|down|status`
 *
 *   up      start Kafka and PostgreSQL on loopback (or reuse running ones) and print
 *           `export KAFKA_BROKERS=...` / `export POSTGRES_DSN=...` for `eval`;
 *           --brokers 3 starts a 3-node KRaft cluster (replication 3, min.insync.replicas 2);
 *           --schema-registry adds Apicurio Registry (`export KITSUNE_SCHEMA_REGISTRY_URL=...`)
 *   down    stop exactly the processes `up` started, by PID
 *   status  print what is recorded and whether it is alive
 */
import { parseArgs } from 'node:util';
import { isAlive } from '../src/db/embedded.ts';
import { down, exportLines, up } from './services/harness.ts';
import { readState, servicesDir } from './services/state.ts';

const usage = `usage: npm run services -- up [--brokers N] [--schema-registry]|down|status

The real services the tests and benchmarks use, for people too (on loopback, free ports):
  up      start Kafka 4 (KRaft, one node; needs a JDK 17+ and Maven on the PATH, jars from Maven
          Central cached in ~/.m2) and PostgreSQL (the embedded server), or reuse running ones;
          prints export lines: eval "$(npm run -s services -- up)" sets KAFKA_BROKERS, POSTGRES_DSN.
          --brokers 3 starts a 3-node KRaft cluster (replication 3, min.insync.replicas 2)
          --schema-registry adds Apicurio Registry (KITSUNE_SCHEMA_REGISTRY_URL)
  down    stop exactly the processes up started, by PID
  status  what up started: PID, running or not, address, log file
State and data live in .kitsune/services (or a directory named after the checkout under the
system's temporary directory when the postgres user cannot enter this one).
`;

/** A DSN without its password, for printing. */
function withoutPassword(dsn: string): string {
  try {
    const url = new URL(dsn);
    url.password = '';
    return url.toString();
  } catch {
    return dsn;
  }
}

function upFlags(flags: string[]): { brokers?: number; schemaRegistry: boolean } | string {
  try {
    const { values } = parseArgs({ args: flags, options: { brokers: { type: 'string' }, 'schema-registry': { type: 'boolean' } }, strict: true });
    const brokers = values.brokers === undefined ? undefined : Number(values.brokers);
    if (brokers !== undefined && !(Number.isInteger(brokers) && brokers >= 1 && brokers <= 9)) return `--brokers takes a whole number from 1 to 9, got '${values.brokers}'`;
    return { ...(brokers ? { brokers } : {}), schemaRegistry: values['schema-registry'] === true };
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function main(command: string | undefined, flags: string[]): Promise<number> {
  const parsed = command === 'up' ? upFlags(flags) : flags.length > 0 ? `unknown option ${flags[0]}` : { schemaRegistry: false };
  if (typeof parsed === 'string') {
    process.stderr.write(`services: ${parsed}\n${usage}`);
    return 2;
  }
  switch (command) {
    case 'up': {
      const schemaRegistry = parsed.schemaRegistry ? 'required' : false;
      const services = await up({ requireKafka: true, schemaRegistry, ...(parsed.brokers ? { brokers: parsed.brokers } : {}) });
      process.stdout.write(exportLines(services));
      return 0;
    }
    case 'down':
      await down();
      return 0;
    case 'status': {
      const state = await readState(servicesDir());
      const running = Object.entries(state) as Array<[string, { pid: number; brokers?: string; dsn?: string; url?: string; logFile?: string; nodes?: Array<{ nodeId: number; pid: number; port: number; logFile: string }> }]>;
      if (running.length === 0) process.stdout.write('nothing started: `npm run services -- up` starts Kafka and PostgreSQL\n');
      for (const [name, service] of running) {
        const address = service.brokers ?? (service.dsn ? withoutPassword(service.dsn) : service.url) ?? '';
        const processes = service.nodes?.map((node) => ({ label: `${name} node ${node.nodeId}`, pid: node.pid, address: `127.0.0.1:${node.port}`, logFile: node.logFile })) ?? [
          { label: name, pid: service.pid, address, logFile: service.logFile },
        ];
        for (const p of processes) process.stdout.write(`${p.label}: pid ${p.pid} ${isAlive(p.pid) ? 'running' : 'not running'} ${p.address}${p.logFile ? ` (log: ${p.logFile})` : ''}\n`);
      }
      return 0;
    }
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(usage);
      return 0;
    default:
      process.stderr.write(usage);
      return 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`services: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
