/**
 * `npm run services -- up|down|status`
 *
 *   up      start Kafka and PostgreSQL on loopback (or reuse running ones) and print
 *           `export KAFKA_BROKERS=...` / `export POSTGRES_DSN=...` for `eval`
 *   down    stop exactly the processes `up` started, by PID
 *   status  print what is recorded and whether it is alive
 */
import { isAlive } from '../src/db/embedded.ts';
import { down, exportLines, up } from './services/harness.ts';
import { readState, servicesDir } from './services/state.ts';

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up': {
      const services = await up({ requireKafka: true });
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
      process.stderr.write('usage: npm run services -- up|down|status\n');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`services: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
