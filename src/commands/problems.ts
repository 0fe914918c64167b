/**
 * What is wrong with a registry file. Loading collects every problem before failing, so a user
 * fixes the whole file in one pass instead of one error per restart.
 */
import { ErrorCodes, KitsuneError } from '../errors.ts';

export interface RegistryProblem {
  /** 1-based line in the registry file, when the problem has a place. */
  readonly line?: number;
  readonly column?: number;
  readonly command?: string;
  readonly version?: string;
  /** The key at fault: `sql`, `schema`, `entity_key`, an unknown key's name, ... */
  readonly field?: string;
  readonly message: string;
}

/** Thrown by parseRegistry/loadRegistry; `problems` lists all of them, in file order. */
export class RegistryError extends KitsuneError {
  readonly source: string;
  readonly problems: readonly RegistryProblem[];

  constructor(source: string, problems: readonly RegistryProblem[]) {
    const sorted = [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    const count = sorted.length === 1 ? '1 problem' : `${sorted.length} problems`;
    const lines = sorted.map((problem) => `  ${formatProblem(source, problem)}`);
    super(ErrorCodes.REGISTRY_INVALID, `command registry ${source}: ${count}\n${lines.join('\n')}`, {
      retryable: false,
    });
    this.name = 'RegistryError';
    this.source = source;
    this.problems = sorted;
  }
}

/** `registry.yaml:12:9: command create_user version 1: sql: parameter :nmae is not ...` */
export function formatProblem(source: string, problem: RegistryProblem): string {
  let place = source;
  if (problem.line !== undefined) place += `:${problem.line}`;
  if (problem.line !== undefined && problem.column !== undefined) place += `:${problem.column}`;
  const parts = [place];
  if (problem.command !== undefined) {
    const version = problem.version === undefined ? '' : ` version ${problem.version}`;
    const subject = `command ${problem.command}${version}`;
    // Messages that are whole sentences about the command ("command x version 1 is registered twice") carry their own subject.
    if (!problem.message.startsWith(`command ${problem.command} `)) parts.push(subject);
  }
  if (problem.field !== undefined) parts.push(problem.field);
  parts.push(problem.message);
  return parts.join(': ');
}

