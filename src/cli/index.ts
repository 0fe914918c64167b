/**
 * `kitsune <command>`: one binary, several roles (DESIGN.md §1). Each command's module builds
 * what it needs from the configuration; this file only dispatches and reports errors.
 */
import { KitsuneError } from '../errors.ts';
import { runApiCommand } from './api.ts';
import { runCommandsCommand } from './commands.ts';
import { runDbWorkerCommand } from './db-worker.ts';
import { runDlqCommand } from './dlq.ts';
import { runLogWorkerCommand } from './log-worker.ts';
import { runMigrateCommand } from './migrate.ts';
import { UsageError } from './runtime.ts';
import { runSendCommand } from './send.ts';
import { runStartCommand } from './start.ts';

interface CliCommand {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commands = new Map<string, CliCommand>([
  ['start', { summary: 'run the API and both workers in one process (embedded defaults)', run: runStartCommand }],
  ['api', { summary: 'run the HTTP API (POST /execute)', run: runApiCommand }],
  ['db-worker', { summary: 'run commands from db-events on PostgreSQL, exactly once in effect', run: runDbWorkerCommand }],
  ['log-worker', { summary: 'forward app-logs to Loki (or to PostgreSQL without LOKI_URL)', run: runLogWorkerCommand }],
  ['migrate', { summary: "apply Kitsune's and your migrations to POSTGRES_DSN", run: runMigrateCommand }],
  ['commands', { summary: 'list the command registry, or check that PostgreSQL prepares every statement', run: runCommandsCommand }],
  ['dlq', { summary: 'list, show, replay (--dry-run) or purge dead letters', run: runDlqCommand }],
  ['send', { summary: 'send one command to a running API (--payload, --wait)', run: runSendCommand }],
]);

function usage(): string {
  const lines = [...commands].map(([name, command]) => `  ${name.padEnd(12)} ${command.summary}`);
  return `usage: kitsune <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun kitsune <command> --help for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands.get(name);
  if (!command) {
    process.stderr.write(`kitsune: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Kitsune's own errors say what to fix; a stack trace would only bury that. Anything else is a bug.
    const known = error instanceof KitsuneError || error instanceof UsageError;
    process.stderr.write(`kitsune: ${error instanceof Error ? (known ? error.message : (error.stack ?? error.message)) : String(error)}\n`);
    process.exitCode = 1;
  },
);
