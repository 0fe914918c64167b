/**
 * What Kitsune registers for a command version: the JSON Schema of the whole db-events value (the
 * seed's envelope) with that version's payload schema inside. A consumer that validates a record
 * by its schema id validates the value it actually holds, the envelope included.
 *
 * Naming strategy: one subject per command, `<db-events topic>-<command>` (`db-events-create_user`),
 * like Confluent's TopicRecordNameStrategy; the command's versions are the subject's versions, in
 * registry order. Each schema's `title` is `<command> v<version>`, which is how a registered
 * version is matched to a YAML version, whatever the subject's own numbering.
 *
 * The schema carries no `$schema`: Apicurio's compatibility checker answers 500 ("could not
 * determine version") to a draft 2020-12 one, and without it registries read it as draft 7, which
 * agrees with 2020-12 on the keywords payload schemas use. Kitsune itself validates with 2020-12.
 */
import type { CommandEntry } from '../commands/index.ts';
import { LogLevels } from '../events/envelope.ts';

export const subjectOf = (topic: string, command: string): string => `${topic}-${command}`;

export const titleOf = (command: string, version: string): string => `${command} v${version}`;

/** The `<command> v<version>` a schema's title names, or undefined for a schema Kitsune did not write. */
export function versionOfTitle(schema: unknown, command: string): string | undefined {
  const title = typeof schema === 'object' && schema !== null ? (schema as { title?: unknown }).title : undefined;
  if (typeof title !== 'string' || !title.startsWith(`${command} v`)) return undefined;
  const version = title.slice(command.length + 2);
  return /^[1-9][0-9]*$/.test(version) ? version : undefined;
}

const nonEmptyString = { type: 'string', minLength: 1 } as const;

/** The registered schema of one command version's db-events value. */
export function eventSchema(entry: CommandEntry): Record<string, unknown> {
  const { $schema: _dialect, ...payload } = entry.schema;
  return {
    title: titleOf(entry.command, entry.version),
    description: `A db-events record of Kitsune command ${entry.command}, version ${entry.version}.`,
    type: 'object',
    required: ['id', 'command', 'version', 'payload', 'log', 'metadata'],
    properties: {
      id: nonEmptyString,
      command: { const: entry.command },
      version: { type: 'string', pattern: '^[1-9][0-9]*$' },
      payload,
      log: {
        type: 'object',
        required: ['level', 'message'],
        properties: { level: { enum: [...LogLevels] }, message: { type: 'string' } },
      },
      metadata: {
        type: 'object',
        required: ['idempotency_key', 'timestamp', 'source'],
        properties: { idempotency_key: { type: 'string' }, timestamp: { type: 'string' }, source: { type: 'string' } },
      },
    },
  };
}

/**
 * JSON with object keys sorted at every level: two spellings of one schema compare equal however
 * the registry (or the YAML) ordered their keys.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
