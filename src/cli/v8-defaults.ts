/**
 * How V8 collects garbage in a role's process, unless node's own command line says otherwise
 * (decision 0050). Under load most of a role's heap growth is garbage: records, decoded events and
 * batch objects live across a couple of young-generation collections, move to the old space and
 * die there, while V8 lets the old space grow to about four times what the last full collection
 * found live before it runs the next one. A growth factor of 2 collects that garbage sooner: the
 * DB worker's and the log worker's peaks fell a quarter draining 100,000 events for 8 % more CPU
 * per event, the API's a sixth to a third for none measured.
 *
 * Set at run time rather than on node's command line, so every way a role starts (`kitsune`,
 * `node bin/kitsune.js`, the image's `node dist/cli/index.js`) gets it; V8 reads this flag each
 * time it sets the next full collection's limit. Node refuses it in NODE_OPTIONS, so an operator
 * picks another value on node's command line (`node --heap-growing-percent=0 …` restores V8's
 * heuristic), and that wins.
 */
import { setFlagsFromString } from 'node:v8';
import type { Role } from './preflight.ts';

const growthFactorOf2 = '--heap-growing-percent=100';

export const v8Defaults: Readonly<Record<Role, readonly string[]>> = {
  api: [growthFactorOf2],
  'db-worker': [growthFactorOf2],
  'log-worker': [growthFactorOf2],
  start: [growthFactorOf2],
};

/** `--max_semi_space_size=8` → `--max-semi-space-size`: V8 takes either spelling. */
function flagName(argument: string): string {
  const end = argument.indexOf('=');
  return (end < 0 ? argument : argument.slice(0, end)).replaceAll('_', '-');
}

/** The flags of `defaults` that `given` (node's own arguments) does not name. */
export function v8FlagsToApply(given: readonly string[], defaults: readonly string[]): string[] {
  const named = new Set(given.filter((argument) => argument.startsWith('--')).map(flagName));
  return defaults.filter((flag) => !named.has(flagName(flag)));
}

/** Applies `role`'s defaults this process was not started with; returns them. */
export function applyV8Defaults(role: Role): string[] {
  const flags = v8FlagsToApply(process.execArgv, v8Defaults[role]);
  for (const flag of flags) setFlagsFromString(flag);
  return flags;
}
