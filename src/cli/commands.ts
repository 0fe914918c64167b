/**
 * `kitsune commands list|check`: the registry as the running instance would load it
 * (KITSUNE_REGISTRY), and a check that PostgreSQL can prepare every statement in it.
 */
import { parseArgs } from 'node:util';
import { checkRegistry, formatCheckFailure, loadRegistry, type Registry } from '../commands/index.ts';
import { loadConfig, loadDotEnv, type Config } from '../config/index.ts';
import { createSchemaRegistryClient, registerCommandSchemas, SchemaRefusedError } from '../schema-registry/index.ts';
import { cliLogger, openCliDatabase } from './context.ts';
import { UsageError } from './runtime.ts';

export const help = `usage: kitsune commands list [--json]
       kitsune commands check

list   prints the command catalog of the registry (KITSUNE_REGISTRY, default
       ./commands/registry.yaml): each command, its versions, entity key and description.
       --json prints the catalog as GET /commands serves it, schemas included.
check  has PostgreSQL PREPARE every registered statement (nothing runs), and exits 1 listing
       every statement that fails, with its file and line, e.g. an unknown column (42703) or
       table (42P01). Run it after changing the registry or the migrations, before deploying.
       The database: POSTGRES_DSN, else the embedded one of a running \`kitsune start\`.
       Migrations are not applied: run \`kitsune migrate\` first if they are new.
       With KITSUNE_SCHEMA_REGISTRY_URL set it first registers every command version's schema
       there, as the API does at boot, and fails on a schema changed under an existing version
       or one the registry finds incompatible (docs/schema-registry.md).
`;

export async function runCommandsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } },
  });
  const [action, ...extra] = positionals;
  if (values.help || action === undefined) {
    process.stdout.write(help);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new UsageError(`kitsune commands ${action}: unexpected argument "${extra[0]}"; see kitsune commands --help`);
  loadDotEnv();
  const config = loadConfig();
  const registry = await loadRegistry(config.registryPath);
  switch (action) {
    case 'list':
      process.stdout.write(values.json ? `${JSON.stringify(registry.list(), null, 2)}\n` : formatCatalog(registry));
      return 0;
    case 'check': {
      const schemas = await checkSchemas(config, registry);
      const statements = await check(config, registry);
      return Math.max(schemas, statements);
    }
    default:
      throw new UsageError(`kitsune commands: unknown action "${action}"; use list or check`);
  }
}

/** One line per command version: `create_user  v1  key=email  returning  Creates a user.` */
export function formatCatalog(registry: Registry): string {
  const rows = registry.list().flatMap((command) =>
    command.versions.map((version) => [
      command.name,
      `v${version.version}`,
      `key=${version.entityKey}`,
      version.returning ? 'returning' : 'row count',
      version.description ?? command.description ?? '',
    ]),
  );
  if (rows.length === 0) return 'the registry has no commands\n';
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** Registers the command schemas like a booting API; 0 when there is no registry to check. */
async function checkSchemas(config: Config, registry: Registry): Promise<number> {
  if (!config.schemaRegistry) return 0;
  const client = createSchemaRegistryClient(config.schemaRegistry);
  try {
    const { schemas, added, existing } = await registerCommandSchemas(registry, client, config.topics.dbEvents);
    const subjects = new Set([...schemas.values()].map((schema) => schema.subject));
    process.stdout.write(
      `ok: all ${schemas.size} command versions are registered in ${client.url} (${subjects.size} subjects: ${added} versions new, ${existing} already there)\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof SchemaRefusedError)) throw error;
    process.stdout.write(error.problems.map((problem) => `${config.registryPath}: ${problem}\n`).join(''));
    process.stderr.write(
      `kitsune commands check: the schema registry at ${client.url} refused ${error.problems.length} command version(s). ` +
        'Keep registered versions as they are and add new versions for changes, or change the command\'s compatibility in the registry file.\n',
    );
    return 1;
  }
}

async function check(config: Config, registry: Registry): Promise<number> {
  const logger = cliLogger(config, 'commands-check');
  const database = await openCliDatabase(config, 'kitsune commands check', logger);
  try {
    const entries = [...registry.entries()].length;
    const failures = await checkRegistry(registry, database.pool);
    if (failures.length === 0) {
      process.stdout.write(`ok: all ${entries} statements of ${config.registryPath} prepare on ${database.from}\n`);
      return 0;
    }
    process.stdout.write(failures.map((failure) => `${formatCheckFailure(failure)}\n`).join(''));
    process.stderr.write(
      `kitsune commands check: ${failures.length} of ${entries} statements do not prepare on ${database.from}. ` +
        'Fix the SQL in the registry, or apply the migrations it needs (kitsune migrate), then check again.\n',
    );
    return 1;
  } finally {
    await database.close();
  }
}
