/**
 * The command registry: commands are data (commands/registry.yaml), looked up by name and version.
 *
 * Lookups go through `Map`s, so a name such as `constructor`, `toString` or `__proto__` is an
 * unknown command like any other, never something inherited from Object.prototype.
 */
import { readFile } from 'node:fs/promises';
import { buildEntry, type CommandEntry } from './entry.ts';
import { parseDefinitions, type CompatibilityLevel } from './parse.ts';
import { createSchemaCompiler } from './payload.ts';
import { RegistryError, type RegistryProblem } from './problems.ts';

/** One command in the catalog (`GET /commands`). SQL is left out: it is the server's business. */
export interface CatalogCommand {
  readonly name: string;
  readonly description: string | undefined;
  readonly versions: readonly CatalogVersion[];
}

export interface CatalogVersion {
  readonly version: string;
  readonly description: string | undefined;
  readonly entityKey: string;
  readonly returning: boolean;
  readonly schema: Readonly<Record<string, unknown>>;
}

/** What a command says about itself, beside its versions. */
export interface CommandInfo {
  readonly description: string | undefined;
  /** The compatibility level its schema-registry subject keeps; undefined: Kitsune's default. */
  readonly compatibility?: CompatibilityLevel | undefined;
}

interface CommandGroup extends CommandInfo {
  /** Versions in ascending numeric order. */
  readonly versions: ReadonlyMap<string, CommandEntry>;
}

export class Registry {
  readonly #commands: ReadonlyMap<string, CommandGroup>;

  /** Prefer parseRegistry/loadRegistry, which validate; entries must be unique by command and version. */
  constructor(entries: Iterable<CommandEntry>, commandInfo: ReadonlyMap<string, CommandInfo> = new Map()) {
    const sorted = [...entries].sort((a, b) => a.command.localeCompare(b.command) || Number(a.version) - Number(b.version));
    const commands = new Map<string, CommandInfo & { versions: Map<string, CommandEntry> }>();
    for (const entry of sorted) {
      let group = commands.get(entry.command);
      if (group === undefined) {
        const info = commandInfo.get(entry.command);
        group = { description: info?.description, compatibility: info?.compatibility, versions: new Map() };
        commands.set(entry.command, group);
      }
      if (group.versions.has(entry.version)) {
        const { command, version, origin } = entry;
        const message = `command ${command} version ${version} is registered twice`;
        throw new RegistryError(origin.source, [{ command, version, line: origin.line, message }]);
      }
      group.versions.set(entry.version, entry);
    }
    this.#commands = commands;
  }

  /** The entry for this command and version, or undefined when either is unknown. */
  get(command: string, version: string): CommandEntry | undefined {
    return this.#commands.get(command)?.versions.get(version);
  }

  /** The compatibility level the command's YAML asks of its schema-registry subject, if any. */
  compatibility(command: string): CompatibilityLevel | undefined {
    return this.#commands.get(command)?.compatibility;
  }

  /** The command's versions in ascending order; empty for an unknown command. */
  versions(command: string): readonly string[] {
    return [...(this.#commands.get(command)?.versions.keys() ?? [])];
  }

  /** Every entry, by command name then version. */
  *entries(): IterableIterator<CommandEntry> {
    for (const group of this.#commands.values()) yield* group.versions.values();
  }

  /** The catalog, by command name then version. */
  list(): CatalogCommand[] {
    return [...this.#commands].map(([name, group]) => ({
      name,
      description: group.description,
      versions: [...group.versions.values()].map((entry) => ({
        version: entry.version,
        description: entry.description,
        entityKey: entry.entityKey,
        returning: entry.returning,
        schema: entry.schema,
      })),
    }));
  }
}

/**
 * Validates a registry file's text as a whole and compiles it. Throws one RegistryError listing
 * every problem; `sourceName` names the file in its messages.
 */
export function parseRegistry(text: string, sourceName: string): Registry {
  const { definitions, problems } = parseDefinitions(text);
  const all: RegistryProblem[] = [...problems];
  const ajv = createSchemaCompiler();
  const entries: CommandEntry[] = [];
  const info = new Map<string, CommandInfo>();
  for (const definition of definitions) {
    info.set(definition.command, { description: definition.commandDescription, compatibility: definition.commandCompatibility });
    const entry = buildEntry(definition, sourceName, ajv, all);
    if (entry !== undefined) entries.push(entry);
  }
  if (all.length > 0) throw new RegistryError(sourceName, all);
  return new Registry(entries, info);
}

/** Reads and parses a registry file (see parseRegistry). */
export async function loadRegistry(path: string): Promise<Registry> {
  return parseRegistry(await readFile(path, 'utf8'), path);
}
