/**
 * `kitsune <command>`: one binary, several roles (DESIGN.md §1). Each command's module builds
 * what it needs from the configuration; this file only dispatches and reports errors.
 */
import { ExitCodes } from './exit-codes.ts';
import { preflight, roles, type Role } from './preflight.ts';
import { describeFailure } from './report.ts';
import { applyV8Defaults } from './v8-defaults.ts';
import { kitsuneVersion } from './version.ts';

interface CliModule {
  help: string;
  run(argv: string[]): Promise<number>;
}

interface CliCommand {
  summary: string;
  /** Loaded on use: `kitsune --version` or a refused start need not load Fastify, pg and Kafka. */
  load(): Promise<CliModule>;
}

const commands = new Map<string, CliCommand>([
  ['start', { summary: 'run the API and both workers in one process (embedded defaults)', load: async () => {
    const m = await import('./start.ts');
    return { help: m.help, run: m.runStartCommand };
  } }],
  ['api', { summary: 'run the HTTP API (POST /execute)', load: async () => {
    const m = await import('./api.ts');
    return { help: m.help, run: m.runApiCommand };
  } }],
  ['db-worker', { summary: 'run commands from db-events on PostgreSQL, exactly once in effect', load: async () => {
    const m = await import('./db-worker.ts');
    return { help: m.help, run: m.runDbWorkerCommand };
  } }],
  ['log-worker', { summary: 'forward app-logs to Loki (or to PostgreSQL without LOKI_URL)', load: async () => {
    const m = await import('./log-worker.ts');
    return { help: m.help, run: m.runLogWorkerCommand };
  } }],
  ['status', { summary: 'what runs where: instance, database, transport, logs, lag per worker group', load: async () => {
    const m = await import('./status.ts');
    return { help: m.help, run: m.runStatusCommand };
  } }],
  ['migrate', { summary: "apply Kitsune's and your migrations (POSTGRES_DSN, or the embedded PostgreSQL)", load: async () => {
    const m = await import('./migrate.ts');
    return { help: m.help, run: m.runMigrateCommand };
  } }],
  ['commands', { summary: 'list the command registry, or check that PostgreSQL prepares every statement', load: async () => {
    const m = await import('./commands.ts');
    return { help: m.help, run: m.runCommandsCommand };
  } }],
  ['dlq', { summary: 'list, show, replay (--dry-run) or purge dead letters', load: async () => {
    const m = await import('./dlq.ts');
    return { help: m.help, run: m.runDlqCommand };
  } }],
  ['send', { summary: 'send one command to a running API (--payload, --wait)', load: async () => {
    const m = await import('./send.ts');
    return { help: m.help, run: m.runSendCommand };
  } }],
  ['db', { summary: 'print the PostgreSQL URL Kitsune uses (db url), for psql', load: async () => {
    const m = await import('./db.ts');
    return { help: m.help, run: m.runDbCommand };
  } }],
  ['reset', { summary: 'delete the embedded data (.kitsune) to start afresh (--yes)', load: async () => {
    const m = await import('./reset.ts');
    return { help: m.help, run: m.runResetCommand };
  } }],
  ['completion', { summary: 'print a shell completion script (bash, zsh, fish)', load: async () => {
    const m = await import('./completion.ts');
    return { help: m.help, run: (argv) => m.runCompletionCommand(argv, helpTexts) };
  } }],
]);

/** Every command's help text, for `kitsune completion`. */
async function helpTexts(): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const [name, command] of commands) texts.set(name, (await command.load()).help);
  return texts;
}

const isRole = (name: string): name is Role => (roles as readonly string[]).includes(name);

function usage(): string {
  const lines = [...commands].map(([name, command]) => `  ${name.padEnd(12)} ${command.summary}`);
  return (
    `usage: kitsune <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n` +
    'Every command takes --help for its options, and --verbose to show stack traces on failure.\n' +
    'kitsune --version prints the version. Exit codes: docs/cli.md.\n'
  );
}

/** Takes --verbose out of the arguments wherever it is (before a `--`), so every command accepts it. */
function takeVerbose(argv: string[]): { verbose: boolean; rest: string[] } {
  const end = argv.indexOf('--');
  const head = end === -1 ? argv : argv.slice(0, end);
  const rest = head.filter((arg) => arg !== '--verbose');
  return { verbose: rest.length !== head.length, rest: end === -1 ? rest : [...rest, ...argv.slice(end)] };
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? ExitCodes.usage : ExitCodes.ok;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`kitsune ${kitsuneVersion()}\n`);
    return ExitCodes.ok;
  }
  const command = commands.get(name);
  if (!command) {
    process.stderr.write(`kitsune: unknown command "${name}"\n\n${usage()}`);
    return ExitCodes.usage;
  }
  if (isRole(name)) {
    applyV8Defaults(name);
    await preflight(name, rest);
  }
  return (await command.load()).run(rest);
}

const { verbose, rest: args } = takeVerbose(process.argv.slice(2));
main(args).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const { code, text } = describeFailure(error, commands.has(args[0] ?? '') ? args[0] : undefined, verbose);
    process.stderr.write(text);
    // Whatever the command left open (a socket, a timer) must not keep a failed process alive: a
    // supervisor restarts what exits. The command has already closed what it started (its
    // embedded PostgreSQL included), and stderr to a pipe or file is written synchronously.
    process.exit(code);
  },
);
