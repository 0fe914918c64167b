/**
 * `npm run services -- up [--schema-registry]|down|status`
 *
 *   up      start Kafka and PostgreSQL on loopback (or reuse running ones) and print
 *           `export KAFKA_BROKERS=...` / `export POSTGRES_DSN=...` for `eval`;
 *           --schema-registry adds Apicurio Registry (`export KITSUNE_SCHEMA_REGISTRY_URL=...`)
 *   down    stop exactly the processes `up` started, by PID
 *   status  print what is recorded and whether it is alive
 */
import { isAlive } from '../src/db/embedded.ts';
import { down, exportLines, up } from './services/harness.ts';
import { readState, servicesDir } from './services/state.ts';

async function main(command: string | undefined, flags: string[]): Promise<number> {
  const unknown = flags.filter((flag) => flag !== '--schema-registry' || command !== 'up');
  if (unknown.length > 0) {
    process.stderr.write(`services: unknown option ${unknown[0]}\nusage: npm run services -- up [--schema-registry]|down|status\n`);
    return 2;
  }
  switch (command) {
    case 'up': {
      const schemaRegistry = flags.includes('--schema-registry') ? 'required' : false;
      const services = await up({ requireKafka: true, schemaRegistry });
      process.stdout.write(exportLines(services));
      return 0;
    }
    case 'down':
      await down();
      return 0;
    case 'status': {
      const state = await readState(servicesDir());
      for (const [name, service] of Object.entries(state) as Array<[string, { pid: number }]>) {
        process.stdout.write(`${name}: pid ${service.pid} ${isAlive(service.pid) ? 'running' : 'not running'}\n`);
      }
      return 0;
    }
    default:
      process.stderr.write('usage: npm run services -- up [--schema-registry]|down|status\n');
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
