/**
 * The command registry: commands as data (YAML), their payload schemas compiled once, their SQL
 * compiled from `:name` to `$n`, and a check that PostgreSQL can prepare every statement.
 * See docs/commands.md for the file format.
 */
export { bindParameters } from './bind.ts';
export { checkRegistry, formatCheckFailure, type CheckFailure } from './check.ts';
export type { CommandEntry, EntryOrigin } from './entry.ts';
export { commandNamePattern, CompatibilityLevels, versionPattern, type CompatibilityLevel } from './parse.ts';
export { schemaDialect, type PayloadError, type PayloadValidation } from './payload.ts';
export { formatProblem, RegistryError, type RegistryProblem } from './problems.ts';
export { loadRegistry, parseRegistry, Registry, type CatalogCommand, type CatalogVersion, type CommandInfo } from './registry.ts';
export { compileSql, SqlCompileError, type CompiledSql } from './sql.ts';
