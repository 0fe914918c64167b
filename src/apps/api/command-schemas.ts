/**
 * The body of a command, as the OpenAPI document states it and as the server checks it: one JSON
 * Schema per registered command version (the envelope, with that version's payload schema inside),
 * and `Command`, the `oneOf` of them all.
 *
 * The server does not try every branch of the `oneOf`: branches differ in their `command` and
 * `version` constants, so at most one can match, and the pair picks it. That branch's compiled
 * schema then decides, which accepts and refuses exactly what the `oneOf` would, and says which
 * field is at fault. The same schema objects go into the document, so the two cannot disagree.
 */
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { CommandEntry, Registry } from '../../commands/index.ts';
import { createSchemaCompiler, toFieldError } from '../../commands/payload.ts';
import type { FieldError } from '../../contract/http.ts';
import { idempotencyKeySchema, logLevelNames, ref, sourceSchema } from '../../contract/schemas.ts';
import { problem, type ApiError } from './problems.ts';

export const commandComponent = 'Command';

/** A body that passed its version's schema. */
export interface CheckedCommand {
  command: string;
  version: string | number;
  payload: Record<string, unknown>;
  log?: { level: string; message: string };
  metadata?: { idempotency_key?: string; source?: string };
}

interface Branch {
  entry: CommandEntry;
  validate: ValidateFunction;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const versionPattern = /^[1-9][0-9]{0,8}$/;

/** The payload schema as it sits inside the envelope: its dialect is the document's. */
function embedded(schema: Readonly<Record<string, unknown>>, name: string): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema;
  // A schema with local references keeps them pointing at itself, not at the envelope.
  const selfReferencing = JSON.stringify(rest).includes('"$ref"');
  return selfReferencing && rest.$id === undefined ? { $id: `urn:kitsune:payload:${name}`, ...rest } : rest;
}

function envelopeSchema(entry: CommandEntry, logMessageMaxBytes: number, name: string): Record<string, unknown> {
  return {
    type: 'object',
    title: `${entry.command} v${entry.version}`,
    ...(entry.description === undefined ? {} : { description: entry.description }),
    required: ['command', 'version', 'payload'],
    additionalProperties: false,
    properties: {
      command: { const: entry.command },
      version: { enum: [entry.version, Number(entry.version)], description: 'A string or an integer' },
      payload: embedded(entry.schema, name),
      log: {
        type: 'object',
        description: 'The line that goes to the logs. (Default: INFO "<command> accepted")',
        required: ['level', 'message'],
        additionalProperties: false,
        properties: {
          level: { enum: logLevelNames },
          message: { type: 'string', maxLength: logMessageMaxBytes, description: `At most ${logMessageMaxBytes} bytes of UTF-8 (and so at most as many characters)` },
        },
      },
      metadata: {
        type: 'object',
        additionalProperties: false,
        properties: { idempotency_key: idempotencyKeySchema, source: sourceSchema },
      },
    },
  };
}

export class CommandSchemas {
  /** `components.schemas` of the document: `<command>.v<version>` and `Command`. */
  readonly components: Record<string, unknown> = {};
  readonly #branches = new Map<string, Map<string, Branch>>();
  readonly #logMessageMaxBytes: number;

  constructor(registry: Registry, options: { logMessageMaxBytes: number }) {
    this.#logMessageMaxBytes = options.logMessageMaxBytes;
    const ajv = createSchemaCompiler();
    const refs: Array<{ $ref: string }> = [];
    for (const entry of registry.entries()) {
      const name = `${entry.command}.v${entry.version}`;
      const schema = envelopeSchema(entry, options.logMessageMaxBytes, name);
      this.components[name] = schema;
      refs.push(ref(name));
      const versions = this.#branches.get(entry.command) ?? new Map<string, Branch>();
      versions.set(entry.version, { entry, validate: ajv.compile(schema) });
      this.#branches.set(entry.command, versions);
    }
    this.components[commandComponent] = { description: 'A command of one of the registered command versions (GET /commands lists them)', oneOf: refs };
  }

  /**
   * Checks one command body; `at` prefixes field pointers (`/commands/3` in a batch) and `allowed`
   * is the caller's grant. Throws an ApiError naming the field at fault.
   */
  check(body: unknown, at = '', allowed?: ReadonlySet<string>): { entry: CommandEntry; body: CheckedCommand } {
    if (!isRecord(body)) throw problem('invalid_request', 'a command must be a JSON object', at === '' ? '/' : at);
    const { command, version } = body;
    if (typeof command !== 'string' || command === '') throw problem('invalid_request', 'command is required and must be a string', `${at}/command`);
    const versions = this.#branches.get(command);
    if (!versions) throw problem('unknown_command', `unknown command "${command}"; GET /commands lists the commands`, `${at}/command`);
    const normalised = typeof version === 'number' && Number.isInteger(version) ? String(version) : version;
    if (typeof normalised !== 'string' || !versionPattern.test(normalised)) {
      throw problem('invalid_request', 'version is required: a positive integer, as a string or a number', `${at}/version`);
    }
    const branch = versions.get(normalised);
    if (!branch) throw problem('unknown_version', `command "${command}" has no version ${normalised}; known versions: ${[...versions.keys()].join(', ')}`, `${at}/version`);
    if (allowed && !allowed.has(command)) throw problem('forbidden', `this API key may not run "${command}"`, `${at}/command`);
    if (!branch.validate(body)) throw this.#refusal(branch.entry, branch.validate.errors ?? [], at);
    const checked = body as unknown as CheckedCommand;
    const message = checked.log?.message;
    if (message !== undefined) {
      const bytes = Buffer.byteLength(message, 'utf8');
      if (bytes > this.#logMessageMaxBytes) {
        throw problem('log_message_too_long', `log.message is ${bytes} bytes; the limit is ${this.#logMessageMaxBytes}`, `${at}/log/message`);
      }
    }
    return { entry: branch.entry, body: checked };
  }

  /** The envelope's own fields are 400; the payload's and the log's are 422, with their own codes. */
  #refusal(entry: CommandEntry, errors: readonly ErrorObject[], at: string): ApiError {
    const fields = errors.map((error) => toFieldError(error, at));
    const under = (part: string): FieldError[] =>
      fields.filter((f) => f.field === `${at}/${part}` || f.field.startsWith(`${at}/${part}/`)).map(({ field, message }) => ({ field, message }));
    const payload = under('payload');
    const log = under('log');
    const envelope = fields.filter((f) => !payload.some((p) => p.field === f.field) && !log.some((l) => l.field === f.field)).map(({ field, message }) => ({ field, message }));
    if (envelope.length > 0) {
      const [first] = envelope;
      return problem('invalid_request', `${first!.field.slice(at.length) || 'the command'} ${first!.message}`, first!.field, envelope);
    }
    if (payload.length > 0) {
      const more = payload.length > 1 ? ` (and ${payload.length - 1} more in errors)` : '';
      return problem('invalid_payload', `payload does not match ${entry.command} v${entry.version}: ${payload[0]!.field} ${payload[0]!.message}${more}`, payload[0]!.field, payload);
    }
    if (fields.some((f) => f.keyword === 'maxLength' && f.field === `${at}/log/message`)) {
      return problem('log_message_too_long', `log.message is longer than ${this.#logMessageMaxBytes} characters; the limit is ${this.#logMessageMaxBytes} bytes`, `${at}/log/message`);
    }
    return problem('invalid_log', `log ${log[0]?.message ?? 'is invalid'}; level is one of ${logLevelNames.slice(0, 6).join(', ')} and message a string`, log[0]?.field, log);
  }
}
