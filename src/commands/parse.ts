/**
 * Reads the registry's YAML into plain definitions and reports its structural problems (YAML
 * syntax, shape, unknown and duplicate keys, names, missing fields), each with its line. What the
 * definitions mean (schemas, SQL, entity keys) is checked afterwards, by entry.ts.
 *
 * YAML's own duplicate-key error is turned off (`uniqueKeys: false`) so duplicates are reported in
 * the registry's words ("command create_user version 1 is registered twice"), and so `1:` and
 * `"1":`, which YAML sees as different keys, are caught as the same version.
 */
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node,
  type YAMLMap,
} from 'yaml';
import type { RegistryProblem } from './problems.ts';

export interface Place {
  readonly line: number;
  readonly column: number;
}

/** One command version as written in the file; fields the file lacks or got wrong are undefined. */
export interface VersionDefinition {
  readonly command: string;
  readonly version: string;
  readonly commandDescription: string | undefined;
  /** The command's `compatibility:` for its schema-registry subject; undefined when not set. */
  readonly commandCompatibility: CompatibilityLevel | undefined;
  readonly description: string | undefined;
  readonly schema: Readonly<Record<string, unknown>> | undefined;
  readonly sql: string | undefined;
  readonly entityKey: string | undefined;
  /** Whether the statement's rows are the command's result. (Default: false) */
  readonly returning: boolean;
  /** The version's key, then each field's value, for problems found later. */
  readonly at: Place;
  readonly fieldAt: ReadonlyMap<string, Place>;
  /** File line of the SQL's first line; `sqlLinesExact` when each SQL line is one file line (`sql: |`). */
  readonly sqlLine: number;
  readonly sqlLinesExact: boolean;
}

export interface ParsedDefinitions {
  readonly definitions: VersionDefinition[];
  readonly problems: RegistryProblem[];
}

const fileKeys = new Set(['commands']);
const commandKeys = new Set(['description', 'compatibility', 'versions']);
const versionKeys = new Set(['description', 'schema', 'sql', 'entity_key', 'returning']);
const requiredVersionKeys = ['schema', 'sql', 'entity_key'] as const;

/** Command names travel in URLs, headers and metric labels: keep them plain. */
export const commandNamePattern = /^[a-z][a-z0-9_]*$/;
/** Confluent Schema Registry's compatibility levels, which a command may ask of its subject. */
export const CompatibilityLevels = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;
export type CompatibilityLevel = (typeof CompatibilityLevels)[number];
const compatibilityLevels = new Map<string, CompatibilityLevel>(CompatibilityLevels.map((level) => [level, level]));

/** No leading zeros: "01" and "1" would be two spellings of one version on the wire. */
export const versionPattern = /^[1-9][0-9]*$/;

interface Reader {
  readonly doc: Document;
  readonly lines: LineCounter;
  readonly problems: RegistryProblem[];
}

interface Entry {
  readonly name: string;
  readonly at: Place;
  /** The value, with aliases resolved; null when empty. */
  readonly value: Node | null;
}

type Where = Pick<RegistryProblem, 'command' | 'version' | 'field'>;

export function parseDefinitions(text: string): ParsedDefinitions {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  const reader: Reader = { doc, lines, problems: [] };
  const definitions: VersionDefinition[] = [];
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      report(reader, placeAt(lines, error.pos[0]), {}, `invalid YAML: ${error.message}`);
    }
    return { definitions, problems: reader.problems };
  }

  const root = resolve(reader, doc.contents);
  if (!isMap(root)) {
    report(reader, { line: 1, column: 1 }, {}, 'the file must be a mapping with a `commands:` key');
    return { definitions, problems: reader.problems };
  }
  const commands = entries(reader, root, {}, fileKeys).find((entry) => entry.name === 'commands');
  if (commands === undefined || !isMap(commands.value) || commands.value.items.length === 0) {
    const at = commands?.at ?? { line: 1, column: 1 };
    report(reader, at, { field: 'commands' }, 'expected a mapping of command names to commands, with at least one');
    return { definitions, problems: reader.problems };
  }

  const seen = new Map<string, Place>();
  for (const command of entries(reader, commands.value, {})) {
    const first = seen.get(command.name);
    if (first !== undefined) {
      const message =
        `command ${command.name} is registered twice (first at line ${first.line}); ` + 'list all its versions under one entry';
      report(reader, command.at, { command: command.name }, message);
      continue;
    }
    seen.set(command.name, command.at);
    if (!commandNamePattern.test(command.name)) {
      report(reader, command.at, { command: command.name }, `command names must match ${String(commandNamePattern)}`);
    }
    definitions.push(...readCommand(reader, command));
  }
  return { definitions, problems: reader.problems };
}

function readCommand(reader: Reader, command: Entry): VersionDefinition[] {
  const where: Where = { command: command.name };
  if (!isMap(command.value)) {
    report(reader, command.at, where, 'expected a mapping with `versions:` (and optionally `description:`)');
    return [];
  }
  let description: string | undefined;
  let compatibility: CompatibilityLevel | undefined;
  let versions: Entry | undefined;
  for (const field of entries(reader, command.value, where, commandKeys)) {
    if (field.name === 'description') description = readString(reader, field, where);
    else if (field.name === 'compatibility') compatibility = readCompatibility(reader, field, { ...where, field: field.name });
    else versions = field;
  }
  if (versions === undefined || !isMap(versions.value) || versions.value.items.length === 0) {
    const at = versions?.at ?? command.at;
    report(reader, at, { ...where, field: 'versions' }, 'expected a mapping of versions ("1", "2", ...) to their definitions');
    return [];
  }

  const definitions: VersionDefinition[] = [];
  const seen = new Map<string, Place>();
  for (const version of entries(reader, versions.value, where)) {
    const versionWhere: Where = { command: command.name, version: version.name };
    const first = seen.get(version.name);
    if (first !== undefined) {
      const message = `command ${command.name} version ${version.name} is registered twice (first at line ${first.line})`;
      report(reader, version.at, versionWhere, message);
      continue;
    }
    seen.set(version.name, version.at);
    if (!versionPattern.test(version.name)) {
      report(reader, version.at, versionWhere, 'versions are whole numbers from 1, without leading zeros ("1", "2", ...)');
    }
    const definition = readVersion(reader, version, versionWhere, { description, compatibility });
    if (definition !== undefined) definitions.push(definition);
  }
  return definitions;
}

function readVersion(
  reader: Reader,
  version: Entry,
  where: Where,
  command: { description: string | undefined; compatibility: CompatibilityLevel | undefined },
): VersionDefinition | undefined {
  if (!isMap(version.value)) {
    report(reader, version.at, where, 'expected a mapping with schema, sql and entity_key');
    return undefined;
  }
  const fieldAt = new Map<string, Place>();
  let description: string | undefined;
  let schema: Record<string, unknown> | undefined;
  let sql: string | undefined;
  let entityKey: string | undefined;
  let returning = false;
  let sqlLine = version.at.line;
  let sqlLinesExact = false;

  for (const field of entries(reader, version.value, where, versionKeys)) {
    const fieldWhere: Where = { ...where, field: field.name };
    const valueAt = field.value === null ? field.at : placeOf(reader, field.value);
    fieldAt.set(field.name, valueAt);
    switch (field.name) {
      case 'description':
        description = readString(reader, field, fieldWhere);
        break;
      case 'entity_key':
        entityKey = readString(reader, field, fieldWhere);
        break;
      case 'sql':
        sql = readString(reader, field, fieldWhere);
        if (sql !== undefined && isScalar(field.value)) {
          const block = field.value.type === 'BLOCK_LITERAL' || field.value.type === 'BLOCK_FOLDED';
          sqlLine = block ? valueAt.line + 1 : valueAt.line;
          sqlLinesExact = field.value.type === 'BLOCK_LITERAL';
        }
        break;
      case 'returning':
        if (isScalar(field.value) && typeof field.value.value === 'boolean') returning = field.value.value;
        else report(reader, valueAt, fieldWhere, 'expected true or false');
        break;
      case 'schema':
        schema = readSchema(reader, field, fieldWhere);
        break;
    }
  }
  for (const key of requiredVersionKeys) {
    if (fieldAt.has(key)) continue;
    report(reader, version.at, { ...where, field: key }, 'missing (every version needs schema, sql and entity_key)');
  }
  return {
    command: where.command ?? '',
    version: where.version ?? '',
    commandDescription: command.description,
    commandCompatibility: command.compatibility,
    description,
    schema,
    sql,
    entityKey,
    returning,
    at: version.at,
    fieldAt,
    sqlLine,
    sqlLinesExact,
  };
}

function readString(reader: Reader, field: Entry, where: Where): string | undefined {
  if (isScalar(field.value) && typeof field.value.value === 'string' && field.value.value.trim() !== '') {
    return field.value.value;
  }
  const at = field.value === null ? field.at : placeOf(reader, field.value);
  report(reader, at, where, 'expected a non-empty string');
  return undefined;
}

function readCompatibility(reader: Reader, field: Entry, where: Where): CompatibilityLevel | undefined {
  const level = isScalar(field.value) && typeof field.value.value === 'string' ? compatibilityLevels.get(field.value.value) : undefined;
  if (level !== undefined) return level;
  const at = field.value === null ? field.at : placeOf(reader, field.value);
  report(reader, at, where, `expected one of ${CompatibilityLevels.join(', ')}`);
  return undefined;
}

function readSchema(reader: Reader, field: Entry, where: Where): Record<string, unknown> | undefined {
  if (!isMap(field.value)) {
    const at = field.value === null ? field.at : placeOf(reader, field.value);
    report(reader, at, where, 'expected a JSON Schema object (a mapping)');
    return undefined;
  }
  const before = reader.problems.length;
  visit(field.value, {
    Map: (_key, map) => {
      entries(reader, map, where, undefined, true);
    },
  });
  if (reader.problems.length > before) return undefined;
  return field.value.toJS(reader.doc) as Record<string, unknown>;
}

/**
 * The pairs of a mapping as named entries. Reports keys that are not names, keys outside
 * `allowed` (when given) and, when `unique`, a key repeated in the same mapping. Number keys keep
 * their source spelling, so `1.0:` stays "1.0" instead of becoming version "1".
 */
function entries(
  reader: Reader,
  map: YAMLMap,
  where: Where,
  allowed?: ReadonlySet<string>,
  unique = allowed !== undefined,
): Entry[] {
  const result: Entry[] = [];
  const seen = new Map<string, Place>();
  for (const pair of map.items) {
    const keyNode = pair.key;
    const at = placeOf(reader, isNode(keyNode) ? keyNode : map);
    if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
      report(reader, at, where, 'keys must be plain strings or numbers (quote this one)');
      continue;
    }
    const name = typeof keyNode.value === 'number' ? (keyNode.source ?? String(keyNode.value)) : keyNode.value;
    if (allowed !== undefined && !allowed.has(name)) {
      report(reader, at, { ...where, field: name }, `unknown key (expected one of: ${[...allowed].join(', ')})`);
      continue;
    }
    if (unique) {
      const first = seen.get(name);
      if (first !== undefined) {
        const message = `key ${name} appears twice in one mapping (first at line ${first.line})`;
        report(reader, at, { ...where, field: where.field ?? name }, message);
        continue;
      }
      seen.set(name, at);
    }
    result.push({ name, at, value: resolve(reader, (pair.value ?? null) as Node | null) });
  }
  return result;
}

function report(reader: Reader, at: Place, where: Where, message: string): void {
  reader.problems.push({ ...at, ...where, message });
}

function resolve(reader: Reader, node: Node | null): Node | null {
  if (node === null) return null;
  if (isAlias(node)) return (node.resolve(reader.doc) as Node | undefined) ?? null;
  return node;
}

function placeOf(reader: Reader, node: Node): Place {
  return placeAt(reader.lines, node.range?.[0] ?? 0);
}

function placeAt(lines: LineCounter, offset: number): Place {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}
