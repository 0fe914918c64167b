/**
 * `kitsune send <command> --payload '<json>'`: one command through a running API, with the typed
 * client (retries reuse the idempotency key). For trying Kitsune out and for scripts.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createClient, KitsuneClientError, type ExecuteOptions, type LogLevel } from '../client/index.ts';
import { loadConfig, loadDotEnv } from '../config/index.ts';
import { LogLevels } from '../events/envelope.ts';
import { UsageError } from './runtime.ts';

export const help = `usage: kitsune send <command> --payload '<json>' [options]

Sends one command to a running Kitsune API (kitsune start, or kitsune api) and prints the answer
as JSON. Retries 429/503 and network errors with the same idempotency key, so it never sends a
command twice.

  --payload <json|@file>    the payload (required); @path reads it from a file
  --version <n>             the command's version (default 1)
  --idempotency-key <key>   make the command idempotent across runs (default: a new key per run)
  --wait                    wait for the DB worker's result and print it too
  --timeout <seconds>       how long --wait waits (default 10)
  --url <url>               the API (default http://127.0.0.1:<HTTP_PORT>, HTTP_PORT default 8080)
  --api-key-file <path>     file holding the API key, when the API has KITSUNE_API_KEYS_FILE
  --source <name>           metadata.source (ignored by an API with keys: the key sets it)
  --log-level <level>       log line level: ${LogLevels.join(', ')} (default INFO)
  --log-message <text>      log line text (default "<command> accepted")
  --retries <n>             retries on 429/503/network errors (default 3)

Exits 0 once the command is accepted (with --wait: once it succeeded); 1 when it was rejected,
dead-lettered or is still pending after --timeout, or the options are wrong.
`;

export async function runSendCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      payload: { type: 'string' },
      version: { type: 'string' },
      'idempotency-key': { type: 'string' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      url: { type: 'string' },
      'api-key-file': { type: 'string' },
      source: { type: 'string' },
      'log-level': { type: 'string' },
      'log-message': { type: 'string' },
      retries: { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [command, ...extra] = positionals;
  if (command === undefined || extra.length > 0) throw new UsageError('kitsune send: name one command, e.g. kitsune send create_user --payload \'{"name":"Ada","email":"ada@example.com"}\'');
  if (values.payload === undefined) throw new UsageError(`kitsune send ${command}: --payload is required (a JSON object, or @file.json)`);
  const payload = await readPayload(values.payload);
  const timeout = Number(values.timeout ?? 10);
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 3_600) throw new UsageError('kitsune send: --timeout must be a number of seconds from 0 to 3600');
  const retries = Number(values.retries ?? 3);
  if (!Number.isInteger(retries) || retries < 0 || retries > 20) throw new UsageError('kitsune send: --retries must be a whole number from 0 to 20');
  const level = values['log-level']?.toUpperCase();
  if (level !== undefined && !(LogLevels as readonly string[]).includes(level)) throw new UsageError(`kitsune send: --log-level must be one of ${LogLevels.join(', ')}`);

  loadDotEnv();
  const config = loadConfig();
  const url = values.url ?? `http://127.0.0.1:${config.http.port}`;
  const apiKey = values['api-key-file'] ? (await readFile(values['api-key-file'], 'utf8')).trim() : undefined;
  const client = createClient({ baseUrl: url, retries, ...(apiKey ? { apiKey } : {}) });
  const options: ExecuteOptions = {
    ...(values.version ? { version: values.version } : {}),
    ...(values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {}),
    ...(values.wait ? { wait: timeout } : {}),
    ...(values.source ? { source: values.source } : {}),
    ...(level || values['log-message'] ? { log: { level: (level ?? 'INFO') as LogLevel, message: values['log-message'] ?? `${command} accepted` } } : {}),
  };
  try {
    const answer = await client.execute(command, payload, options);
    process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    if (!answer.result || answer.result.status === 'succeeded') return 0;
    process.stderr.write(
      answer.result.status === 'pending'
        ? `kitsune send: accepted, but no result within ${timeout} s; is the DB worker running? Check later with GET ${url}/events/${answer.id}\n`
        : `kitsune send: the command failed and was dead-lettered: ${answer.result.error?.reason ?? 'see the result above'}. Fix the cause, then \`kitsune dlq replay\`\n`,
    );
    return 1;
  } catch (error) {
    if (!(error instanceof KitsuneClientError)) throw error;
    process.stderr.write(`kitsune send: ${error.message}${error.field ? ` (field ${error.field})` : ''}\n${nextStep(error, url)}`);
    return 1;
  }
}

async function readPayload(raw: string): Promise<Record<string, unknown>> {
  const text = raw.startsWith('@') ? await readFile(raw.slice(1), 'utf8') : raw;
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`kitsune send: --payload is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new UsageError('kitsune send: --payload must be a JSON object');
  return payload as Record<string, unknown>;
}

function nextStep(error: KitsuneClientError, url: string): string {
  switch (error.code) {
    case 'network_error':
    case 'timeout':
      return `  Is Kitsune running at ${url}? Start it with \`kitsune start\`, or point --url at it.\n`;
    case 'unknown_command':
    case 'unknown_version':
    case 'invalid_payload':
      return '  `kitsune commands list` shows the commands, versions and their payloads.\n';
    case 'unauthorized':
    case 'forbidden':
      return '  Pass an API key allowed to run this command with --api-key-file.\n';
    default:
      return error.retryable
        ? `  Try again later with --idempotency-key ${error.idempotencyKey ?? '<the same key>'}, so it cannot run twice` +
            `${error.eventId ? ` (it is event ${error.eventId}: GET ${url}/events/${error.eventId})` : ''}.\n`
        : '';
  }
}
