/**
 * Boot registration: every command version's event schema (event-schema.ts) in the schema
 * registry, one subject per command, versions in registry order. Idempotent: a second boot finds
 * every schema with one lookup per version and registers nothing.
 *
 * Evolution rules, enforced before anything is produced:
 * - A version whose schema differs from the one registered under its title (`create_user v1`)
 *   is refused: a registered version never changes; a change needs a new version.
 * - A new version is checked with the registry's compatibility endpoint against the subject's
 *   latest version, under the level the command's YAML asks for (Default: BACKWARD), which is
 *   set on the subject first. An incompatible one is refused with the registry's reason.
 * Every refusal is collected, and one SchemaRefusedError lists them all.
 */
import { type CommandEntry, type CompatibilityLevel, type Registry } from '../commands/index.ts';
import { ErrorCodes, KitsuneError } from '../errors.ts';
import { SchemaRegistryError, type RegisteredVersion, type SchemaRegistryClient } from './client.ts';
import { canonicalJson, eventSchema, subjectOf, versionOfTitle } from './event-schema.ts';

/** Confluent's own default, which Kitsune applies to a command that names none. */
export const defaultCompatibility: CompatibilityLevel = 'BACKWARD';

export class SchemaRefusedError extends KitsuneError {
  constructor(
    registryUrl: string,
    readonly problems: readonly string[],
  ) {
    const list = problems.map((problem) => `\n  - ${problem}`).join('');
    super(ErrorCodes.SCHEMA_REFUSED, `the schema registry at ${registryUrl} refused ${problems.length} command schema(s):${list}`, { retryable: false });
    this.name = 'SchemaRefusedError';
  }
}

export interface RegisteredSchema {
  readonly command: string;
  readonly version: string;
  readonly subject: string;
  readonly id: number;
  /** The schema's text as registered by this process (what `schemaById(id)` returns). */
  readonly text: string;
}

export interface Registration {
  /** Every command version's schema, by `command\u0000version`. */
  readonly schemas: ReadonlyMap<string, RegisteredSchema>;
  /** How many versions this call registered, and how many were there already. */
  readonly added: number;
  readonly existing: number;
}

export const schemaKey = (command: string, version: string): string => `${command}\u0000${version}`;

/** Registers what is missing and returns every version's schema id; throws SchemaRefusedError. */
export async function registerCommandSchemas(registry: Registry, client: SchemaRegistryClient, topic: string): Promise<Registration> {
  // Subjects are independent: one command's round trips need not wait for another's.
  const outcomes = await Promise.all(
    registry.list().map(({ name }) => {
      const entries = registry.versions(name).map((version) => registry.get(name, version)!);
      return registerCommand(client, subjectOf(topic, name), entries, registry.compatibility(name) ?? defaultCompatibility);
    }),
  );
  const problems = outcomes.flatMap((outcome) => outcome.problems);
  if (problems.length > 0) throw new SchemaRefusedError(client.url, problems);
  const all = outcomes.flatMap((outcome) => outcome.schemas);
  const added = outcomes.reduce((sum, outcome) => sum + outcome.added, 0);
  const schemas = new Map(all.map((schema) => [schemaKey(schema.command, schema.version), schema]));
  return { schemas, added, existing: all.length - added };
}

interface CommandOutcome {
  schemas: RegisteredSchema[];
  problems: string[];
  added: number;
}

async function registerCommand(
  client: SchemaRegistryClient,
  subject: string,
  entries: readonly CommandEntry[],
  level: CompatibilityLevel,
): Promise<CommandOutcome> {
  const outcome: CommandOutcome = { schemas: [], problems: [], added: 0 };
  if ((await client.compatibility(subject)) !== level) await client.setCompatibility(subject, level);

  const texts = new Map(entries.map((entry) => [entry, JSON.stringify(eventSchema(entry))]));
  const found = await Promise.all(entries.map((entry) => client.lookup(subject, texts.get(entry)!)));
  const missing: CommandEntry[] = [];
  entries.forEach((entry, index) => {
    const hit = found[index];
    if (hit) outcome.schemas.push({ command: entry.command, version: entry.version, subject, id: hit.id, text: texts.get(entry)! });
    else missing.push(entry);
  });
  if (missing.length === 0) return outcome;

  // Not found as written: either new, or registered before with other text. Titles tell which.
  const registered = await registeredByTitle(client, subject, entries[0]!.command);
  const fresh: CommandEntry[] = [];
  for (const entry of missing) {
    const text = texts.get(entry)!;
    const before = registered.get(entry.version);
    if (!before) fresh.push(entry);
    else if (canonicalJson(JSON.parse(before.schema)) === canonicalJson(JSON.parse(text))) {
      outcome.schemas.push({ command: entry.command, version: entry.version, subject, id: before.id, text: before.schema });
    } else {
      outcome.problems.push(
        `command ${entry.command} version ${entry.version}: its schema differs from the one registered as ${subject} ` +
          `version ${before.version} (schema id ${before.id}). A registered version never changes: restore its schema, ` +
          `or give the change a new version`,
      );
    }
  }
  if (outcome.problems.length > 0) return outcome;

  for (const entry of fresh) {
    const text = texts.get(entry)!;
    const check = await client.checkCompatibility(subject, text);
    let id: number;
    try {
      if (!check.compatible && check.reasons.length > 0) {
        throw new SchemaRegistryError(`compatibility check: 409 ${check.reasons.join('; ')}`, 409, 409);
      }
      // Compatible, or incompatible without a reason (Apicurio 3.x answers verbose checks with none):
      // then the registration is refused with the registry's own reason, and nothing is stored.
      id = await client.register(subject, text);
    } catch (error) {
      if (!(error instanceof SchemaRegistryError) || error.status !== 409) throw error;
      const reason = error.message.replace(/^.*?: 409 /, '').replace(/^[\w.$]+Exception: /, '');
      outcome.problems.push(`command ${entry.command} version ${entry.version}: the schema registry refused it as incompatible with ${subject} under ${level}: ${reason}`);
      return outcome; // later versions would be checked against a subject without this one
    }
    outcome.schemas.push({ command: entry.command, version: entry.version, subject, id, text });
    outcome.added += 1;
  }
  return outcome;
}

/** The subject's versions that Kitsune registered, by the YAML version their title names. */
async function registeredByTitle(client: SchemaRegistryClient, subject: string, command: string): Promise<Map<string, RegisteredVersion>> {
  const versions = await client.versions(subject);
  const all = await Promise.all(versions.map((version) => client.version(subject, version)));
  const byTitle = new Map<string, RegisteredVersion>();
  for (const registered of all) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(registered.schema);
    } catch {
      continue; // not JSON: not one of Kitsune's
    }
    const version = versionOfTitle(parsed, command);
    if (version !== undefined && !byTitle.has(version)) byTitle.set(version, registered);
  }
  return byTitle;
}
