import { parseArgs } from 'node:util';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { findDatabase } from './context.ts';

export const help = `usage: kitsune db url

Prints the PostgreSQL connection URL Kitsune uses, for psql and other tools: POSTGRES_DSN when it
is set, else the embedded server of the running \`kitsune start\` (its superuser, with the random
password kept in the cluster directory; the port changes at each start).

  psql "$(npx kitsune db url)"
`;

export async function runDbCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'url') {
    process.stderr.write(help);
    return 2;
  }
  loadDotEnv();
  const found = await findDatabase(loadConfig(), 'kitsune db url');
  process.stdout.write(`${found.dsn}\n`);
  return 0;
}
