/**
 * Named SQL statements from .sql files: each statement starts with a `-- name: EntityVerb` line
 * (River's convention) and code refers to it by that name. Loading fails if a file defines a name
 * twice or lacks one the code expects, so a typo surfaces at startup, not on the first event.
 */
import { readFileSync } from 'node:fs';

const header = /^-- name: (\w+)[ \t]*$/gm;

export function loadQueries<const Name extends string>(file: URL, names: readonly Name[]): Readonly<Record<Name, string>> {
  const text = readFileSync(file, 'utf8');
  const found = new Map<string, string>();
  const matches = [...text.matchAll(header)];
  matches.forEach((match, i) => {
    const name = match[1]!;
    if (found.has(name)) throw new Error(`${file.pathname}: statement ${name} is defined twice`);
    const end = i + 1 < matches.length ? matches[i + 1]!.index : text.length;
    found.set(name, text.slice(match.index + match[0].length, end).trim());
  });
  const missing = names.filter((name) => !found.has(name));
  if (missing.length > 0) throw new Error(`${file.pathname}: missing statements ${missing.join(', ')}`);
  const unknown = [...found.keys()].filter((name) => !(names as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`${file.pathname}: statements not used by the code: ${unknown.join(', ')}`);
  return Object.freeze(Object.fromEntries(names.map((name) => [name, found.get(name)!]))) as Readonly<Record<Name, string>>;
}
