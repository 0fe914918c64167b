/**
 * Set-based execution: consecutive events of one command run as one statement over `unnest`
 * arrays, where the command's SQL has a shape for which that is the same as running it once per
 * event, in order. Only one shape qualifies, written to be recognised, not parsed:
 *
 *   INSERT INTO <table> (<columns>) VALUES (<items>) [RETURNING <columns>]
 *
 * where every item is a parameter (optionally cast), NULL, TRUE, FALSE, a number, now() or
 * CURRENT_TIMESTAMP: nothing that could read the table while the statement writes it (a
 * subquery in one INSERT does not see the rows the same INSERT wrote before, where separate
 * statements would). No quotes, comments or ON CONFLICT anywhere. Row-level triggers still run
 * per row and see the rows before them (PostgreSQL's rule for BEFORE ROW triggers); AFTER ROW
 * triggers run at the end of the set's statement instead of each event's.
 *
 * The parameters' types come from PostgreSQL (the statement is prepared once per process and
 * its inferred types read back), so the arrays are typed as the single-row statement's values
 * would be. RETURNING rows come back in the order the INSERT consumed its input, which is
 * ordered by position; the caller checks that there is one row per event and otherwise falls
 * back to the per-event path, as it does for any error.
 */
import type pg from 'pg';
import type { CommandEntry } from '../commands/index.ts';
import type { PipelineStatement } from '../db/pipeline.ts';

/** The set statement of a command: one array per parameter, one element per event. */
export interface SetStatement {
  readonly text: string;
  /** Its prepared statement's name (pipeline.ts), unique in this process. */
  readonly name: string;
}

interface SetShape {
  /** The set statement with `{type:n}` where parameter n's array type goes. */
  template: string;
  parameterCount: number;
}

const identifier = String.raw`(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const shape = new RegExp(
  String.raw`^\s*INSERT\s+INTO\s+(${identifier}(?:\.${identifier})?)\s*\(([^()]*)\)\s*VALUES\s*\(((?:[^()]|\(\))*)\)\s*(RETURNING\s[^;$]*?)?\s*;?\s*$`,
  'is',
);
const item = /^(?:\$\d+(?:\s*::\s*[A-Za-z_][A-Za-z0-9_ ]*(?:\[\])?)?|NULL|TRUE|FALSE|-?\d+(?:\.\d+)?|now\(\)|CURRENT_TIMESTAMP)$/i;

/** The set form of a command's SQL, or undefined when its shape does not allow one. */
export function setShapeOf(entry: Pick<CommandEntry, 'text' | 'parameters'>): SetShape | undefined {
  const { text } = entry;
  if (/['`]|--|\/\*/.test(text)) return undefined;
  const match = shape.exec(text);
  if (!match) return undefined;
  const [, table, columns, values, returning] = match;
  const items = values!.split(',').map((part) => part.trim());
  if (items.some((part) => !item.test(part))) return undefined;
  const count = entry.parameters.length;
  const used = new Set<number>();
  const selected = items.map((part) =>
    part.replace(/\$(\d+)/g, (_all, n: string) => {
      used.add(Number(n));
      return `kitsune_set.p${n}`;
    }),
  );
  if (count === 0 || used.size !== count || [...used].some((n) => n < 1 || n > count)) return undefined;
  const arrays = entry.parameters.map((_name, index) => `$${index + 1}::{type:${index + 1}}[]`).join(', ');
  const names = entry.parameters.map((_name, index) => `p${index + 1}`).join(', ');
  const template =
    `INSERT INTO ${table} (${columns!.trim()}) SELECT ${selected.join(', ')} ` +
    `FROM unnest(${arrays}) WITH ORDINALITY AS kitsune_set(${names}, kitsune_position) ORDER BY kitsune_set.kitsune_position` +
    (returning ? ` ${returning.trim()}` : '');
  return { template, parameterCount: count };
}

/** Per command entry: its set statement, null when it has none, or the probe in progress. */
const plans = new WeakMap<CommandEntry, SetStatement | null>();

/** The set statement already known for `entry` (undefined: not probed yet; null: none). */
export const knownSetStatement = (entry: CommandEntry): SetStatement | null | undefined => plans.get(entry);

/**
 * Finds the set statements of `entries` not probed yet, inside the caller's open transaction
 * (under a savepoint, so a failed probe leaves it usable). Throws only what the connection throws.
 */
export async function probeSetStatements(client: pg.ClientBase, entries: Iterable<CommandEntry>): Promise<void> {
  for (const entry of entries) {
    if (plans.has(entry)) continue;
    const form = setShapeOf(entry);
    if (!form) {
      plans.set(entry, null);
      continue;
    }
    plans.set(entry, await probe(client, entry, form));
  }
}

/** Probes are numbered: a prepared statement is not rolled back with its savepoint. */
let probes = 0;

async function probe(client: pg.ClientBase, entry: CommandEntry, form: SetShape): Promise<SetStatement | null> {
  probes += 1;
  const name = `kitsune_set_probe_${process.pid}_${probes}`;
  await client.query('SAVEPOINT kitsune_set_probe');
  try {
    await client.query(`PREPARE ${name} AS ${entry.text}`);
    const { rows } = await client.query<{ types: string[] }>('SELECT parameter_types::text[] AS types FROM pg_prepared_statements WHERE name = $1', [name]);
    await client.query(`DEALLOCATE ${name}`);
    const types = rows[0]?.types ?? [];
    // An array parameter would be flattened by unnest; `unknown` was never inferred.
    if (types.length !== form.parameterCount || types.some((type) => type === 'unknown' || type.endsWith(']'))) throw new Error('parameter types not usable');
    const text = form.template.replace(/\{type:(\d+)\}/g, (_all, n: string) => types[Number(n) - 1]!);
    // The set statement must prepare too (a `DEFAULT`, or a type without an array type, does not).
    await client.query(`PREPARE ${name}_set AS ${text}`);
    await client.query(`DEALLOCATE ${name}_set`);
    await client.query('RELEASE SAVEPOINT kitsune_set_probe');
    return { text, name: `kitsune_set_${probes}` };
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT kitsune_set_probe');
    await client.query('RELEASE SAVEPOINT kitsune_set_probe');
    // A connection failure surfaced by the rollback above is thrown from there; anything else
    // means this command runs per event.
    void error;
    return null;
  }
}

/** The statement applying `values` (one array of bound values per event) as one set. */
export const setStatement = (statement: SetStatement, values: readonly (readonly unknown[])[]): PipelineStatement => ({
  text: statement.text,
  name: statement.name,
  values: values[0]!.map((_value, column) => values.map((row) => row[column])),
});

const commandNames = new WeakMap<CommandEntry, string>();
let commands = 0;

/** One event's statement of `entry`, prepared once per connection under a name unique in this process. */
export function commandStatement(entry: CommandEntry, values: readonly unknown[]): PipelineStatement {
  let name = commandNames.get(entry);
  if (name === undefined) {
    commands += 1;
    name = `kitsune_command_${commands}`;
    commandNames.set(entry, name);
  }
  return { text: entry.text, values, name };
}
