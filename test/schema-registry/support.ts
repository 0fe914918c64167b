/**
 * Registries and subjects for the schema-registry suites: the real registry `npm test` started
 * (Apicurio Registry), a fresh topic name per test so subjects never collide, and registry YAML
 * built from the shipped create_user with the changes a test needs.
 */
import { randomUUID } from 'node:crypto';
import { parseRegistry, type Registry } from '../../src/commands/index.ts';
import { createSchemaRegistryClient, type SchemaRegistryClient } from '../../src/schema-registry/index.ts';
import { schemaRegistryUrl } from '../support/services.ts';

export const freshTopic = (): string => `db-events-${randomUUID().slice(0, 8)}`;

export function testClient(url = schemaRegistryUrl()): SchemaRegistryClient {
  return createSchemaRegistryClient({ url, timeoutMs: 10_000 });
}

export interface VersionSpec {
  /** Payload properties, in YAML flow style, after `name`. */
  extra?: string;
  /** Required payload fields. (Default: name, email) */
  required?: string;
  /** Write the schema's keys in reverse order: the same schema, spelled differently. */
  reversed?: boolean;
}

/** A registry with create_user at the given versions; `compatibility` at command level if given. */
export function userRegistry(versions: Record<string, VersionSpec>, compatibility?: string): Registry {
  const lines = ['commands:', '  create_user:'];
  if (compatibility) lines.push(`    compatibility: ${compatibility}`);
  lines.push('    versions:');
  for (const [version, spec] of Object.entries(versions)) {
    const schema = [
      '          type: object',
      '          additionalProperties: false',
      `          required: [${spec.required ?? 'name, email'}]`,
      `          properties: { name: { type: string, minLength: 1 }, email: { type: string, format: email }${spec.extra ? `, ${spec.extra}` : ''} }`,
    ];
    if (spec.reversed) schema.reverse();
    lines.push(`      ${version}:`, '        entity_key: email', '        schema:', ...schema, '        sql: INSERT INTO users (name, email) VALUES (:name, :email)');
  }
  return parseRegistry(lines.join('\n'), 'test-registry.yaml');
}

/** Reads a JSON answer from the registry directly, as any other consumer of it would. */
export async function registryGet<T>(path: string): Promise<T> {
  const response = await fetch(`${schemaRegistryUrl()}${path}`);
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}
