/**
 * One registered command version, compiled: its schema (validator built once, here), its SQL
 * (`:name` → `$n`), and the checks that tie the two together. Every problem is reported to the
 * caller's list; an entry is only built when its definition has none.
 */
import type { Ajv2020 } from 'ajv/dist/2020.js';
import { bindParameters } from './bind.ts';
import type { Place, VersionDefinition } from './parse.ts';
import { payloadValidator, schemaDialect, type PayloadValidation } from './payload.ts';
import type { RegistryProblem } from './problems.ts';
import { compileSql, SqlCompileError, type CompiledSql } from './sql.ts';

export interface CommandEntry {
  readonly command: string;
  readonly version: string;
  /** The version's own description (the command's is in the catalog). */
  readonly description: string | undefined;
  /** The payload's JSON Schema (draft 2020-12), deeply frozen: what `GET /commands` publishes. */
  readonly schema: Readonly<Record<string, unknown>>;
  /** The SQL as written in the registry, with `:name` parameters. */
  readonly sql: string;
  /** The SQL sent to PostgreSQL, with `$1..$n`. */
  readonly text: string;
  /** Payload property bound to each `$n`: `parameters[0]` is `$1`. */
  readonly parameters: readonly string[];
  /** The payload property whose value keys the event (ordering per entity). */
  readonly entityKey: string;
  /** Whether the statement's rows are the command's result (otherwise only its row count). */
  readonly returning: boolean;
  readonly origin: EntryOrigin;
  /** Checks a payload against the schema; never throws, never mutates the payload. */
  validate(payload: unknown): PayloadValidation;
  /** Values for `$1..$n`, in `parameters` order (see bindParameters). Validate first. */
  bind(payload: Readonly<Record<string, unknown>>): unknown[];
  /** The Kafka key for a validated payload: its entity key's value as a string. */
  entityKeyOf(payload: Readonly<Record<string, unknown>>): string;
}

export interface EntryOrigin {
  /** The registry file's name, as given to parseRegistry/loadRegistry. */
  readonly source: string;
  /** Line of the version's key. */
  readonly line: number;
  /** File line of an offset into `text` (exact for `sql: |`, else the SQL's first line). */
  lineOfText(offset: number): number;
}

/** Kafka keys are strings; these types have one obvious string form. */
const entityKeyTypes = new Set(['string', 'integer']);

/** Compiles one definition, appending its problems to `problems`; undefined when it has any. */
export function buildEntry(
  definition: VersionDefinition,
  source: string,
  ajv: Ajv2020,
  problems: RegistryProblem[],
): CommandEntry | undefined {
  const before = problems.length;
  const where = { command: definition.command, version: definition.version };
  const at = (field: string): Place => definition.fieldAt.get(field) ?? definition.at;
  // `:name` → `$n` never adds or removes a newline, so a line count works on either spelling.
  const lineIn = (sqlText: string, offset: number): number =>
    definition.sqlLinesExact ? definition.sqlLine + countNewlines(sqlText, offset) : definition.sqlLine;
  const report = (field: string, message: string, place: Partial<Place> = at(field)): void => {
    problems.push({ ...place, ...where, field, message });
  };

  const { schema, sql, entityKey } = definition;
  let validate: ReturnType<typeof payloadValidator> | undefined;
  let properties: ReadonlyMap<string, unknown> | undefined;
  let required: ReadonlySet<string> = new Set();
  if (schema !== undefined) {
    if (schema.$schema !== undefined && schema.$schema !== schemaDialect) {
      report('schema', `$schema must be ${schemaDialect} (Kitsune validates payloads with draft 2020-12), or be left out`);
    } else if (schema.type !== 'object') {
      report('schema', 'a payload schema must say `type: object`');
    } else {
      try {
        validate = payloadValidator(ajv.compile(schema));
      } catch (error) {
        report('schema', `does not compile: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    properties = isRecord(schema.properties) ? new Map(Object.entries(schema.properties)) : new Map();
    if (Array.isArray(schema.required)) required = new Set(schema.required.filter((name) => typeof name === 'string'));
  }

  let compiled: CompiledSql | undefined;
  if (sql !== undefined) {
    try {
      compiled = compileSql(sql);
    } catch (error) {
      if (!(error instanceof SqlCompileError)) throw error;
      report('sql', error.message, { line: lineIn(sql, error.offset) });
    }
  }
  if (sql !== undefined && compiled !== undefined && properties !== undefined) {
    const known = properties.size === 0 ? 'it has none' : `it has: ${[...properties.keys()].join(', ')}`;
    for (const [index, name] of compiled.parameters.entries()) {
      if (properties.has(name)) continue;
      const line = lineIn(sql, compiled.parameterOffsets[index] ?? 0);
      report('sql', `parameter :${name} is not a property of the schema (${known})`, { line });
    }
  }

  if (entityKey !== undefined && properties !== undefined) {
    const property = properties.get(entityKey);
    if (property === undefined) {
      report('entity_key', `${entityKey} is not a property of the schema`);
    } else {
      if (!required.has(entityKey)) {
        report('entity_key', `${entityKey} must be listed in the schema's required: every event needs its key`);
      }
      const types = isRecord(property) ? [property.type].flat() : [];
      if (types.length === 0 || !types.every((type) => typeof type === 'string' && entityKeyTypes.has(type))) {
        report('entity_key', `${entityKey} must be declared with type string or integer, so its key has one spelling`);
      }
    }
  }

  if (problems.length > before || validate === undefined || compiled === undefined) return undefined;
  if (schema === undefined || sql === undefined || entityKey === undefined) return undefined;
  const { text, parameters } = compiled;
  const check = validate;
  return Object.freeze({
    command: definition.command,
    version: definition.version,
    description: definition.description,
    schema: deepFreeze(schema),
    sql,
    text,
    parameters,
    entityKey,
    returning: definition.returning,
    origin: Object.freeze({ source, line: definition.at.line, lineOfText: (offset: number) => lineIn(text, offset) }),
    validate: (payload: unknown) => check(payload),
    bind: (payload: Readonly<Record<string, unknown>>) => bindParameters(parameters, payload),
    entityKeyOf: (payload: Readonly<Record<string, unknown>>) =>
      String(Object.hasOwn(payload, entityKey) ? payload[entityKey] : ''),
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function countNewlines(text: string, end: number): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < end; i = text.indexOf('\n', i + 1)) count += 1;
  return count;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
