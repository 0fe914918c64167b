/**
 * Loads the named statements from ./sql/*.sql (River's `-- name: EntityVerb` convention) and
 * points them at the configured schema. The files name the default schema, `kitsune_log`; every
 * whole-word occurrence is replaced by the quoted schema identifier. Values are always bound
 * parameters; the schema is the only thing spliced in, and options.ts only admits plain
 * lowercase identifiers for it.
 *
 * Limit: the .sql files are read next to this module at runtime, so a build that emits JS to
 * dist/ must copy src/transport/postgres/sql/ alongside (tsc does not).
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';

/** Every statement the transport runs; a file that lacks one or adds an unknown one fails at load. */
export const queryNames = [
  'SchemaLock',
  'SchemaCreate',
  'TopicCreate',
  'TopicGet',
  'PartitionList',
  'ChannelNotify',
  'ChannelListen',
  'PartitionLockForAppend',
  'MessageAppend',
  'MessageFetch',
  'MessageDeleteExpired',
  'MemberHeartbeat',
  'MemberLeave',
  'LeaseClaim',
  'LeaseRenew',
  'LeaseRelease',
  'OffsetCommit',
  'OffsetFetch',
  'ConsumerLag',
] as const;

export type QueryName = (typeof queryNames)[number];
export type Queries = Readonly<Record<QueryName, string>>;

const files = ['schema.sql', 'topics.sql', 'messages.sql', 'groups.sql'] as const;
const header = /^-- name: (\w+)[ \t]*$/gm;
const defaultSchema = /\bkitsune_log\b/g;

function parse(file: string, text: string, into: Map<string, string>): void {
  const matches = [...text.matchAll(header)];
  matches.forEach((match, i) => {
    const name = match[1]!;
    if (into.has(name)) throw new Error(`sql/${file}: statement ${name} is defined twice`);
    const end = i + 1 < matches.length ? matches[i + 1]!.index : text.length;
    into.set(name, text.slice(match.index, end).trim());
  });
}

let raw: ReadonlyMap<string, string> | undefined;

function rawStatements(): ReadonlyMap<string, string> {
  if (raw) return raw;
  const statements = new Map<string, string>();
  for (const file of files) parse(file, readFileSync(new URL(`./sql/${file}`, import.meta.url), 'utf8'), statements);
  const known = new Set<string>(queryNames);
  for (const name of statements.keys()) if (!known.has(name)) throw new Error(`sql: statement ${name} is not in queryNames`);
  for (const name of queryNames) if (!statements.has(name)) throw new Error(`sql: statement ${name} is missing`);
  return (raw = statements);
}

/** The statements with `kitsune_log` replaced by `schema` (already validated as an identifier). */
export function loadQueries(schema: string): Queries {
  const quoted = pg.escapeIdentifier(schema);
  const statements = rawStatements();
  return Object.fromEntries(
    queryNames.map((name) => [name, statements.get(name)!.replace(defaultSchema, quoted)]),
  ) as Record<QueryName, string>;
}
