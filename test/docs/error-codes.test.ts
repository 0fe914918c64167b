/**
 * docs/api.md's error table against the code: every code it lists is one the API sends, with the
 * status it is sent with, and every code the API can send is listed. "Can send" is read from the
 * server's source by the TypeScript compiler: a string literal whose contextual type is the
 * contract's `ApiErrorCode` (an argument of `problem()`, the `code` of an `ApiError`, an entry of
 * the Fastify status mapping, the Node parser's answers). A code declared in the contract that no
 * such literal uses is a code nothing emits, and fails too.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { repoRoot } from '../../scripts/services/state.ts';
import { ApiErrorCodes } from '../../src/contract/http.ts';

/** `status → codes` rows of the table under `## Errors` in docs/api.md. */
export function documentedCodes(markdown: string): Map<string, number> {
  const start = markdown.indexOf('\n## Errors');
  assert.ok(start >= 0, 'docs/api.md has an "## Errors" section');
  const end = markdown.indexOf('\n## ', start + 1);
  const codes = new Map<string, number>();
  for (const row of markdown.slice(start, end < 0 ? undefined : end).split('\n')) {
    const cells = /^\|\s*(\d{3})\s*\|([^|]*)\|/.exec(row);
    if (!cells) continue;
    for (const code of cells[2]!.matchAll(/`([a-z_]+)`/g)) codes.set(code[1]!, Number(cells[1]));
  }
  return codes;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

let emitted: Map<string, string[]> | undefined;

/** Every ApiErrorCode literal in the API's source, with where it is (`file:line`); compiled once. */
function emittedCodes(): Map<string, string[]> {
  emitted ??= readEmittedCodes();
  return emitted;
}

function readEmittedCodes(): Map<string, string[]> {
  const root = join(repoRoot, 'src');
  const contract = join(root, 'contract', 'http.ts');
  const program = ts.createProgram(sourceFiles(join(root, 'apps', 'api')), {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    noEmit: true,
    strict: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const known = new Set(Object.keys(ApiErrorCodes));
  const isErrorCodeType = (type: ts.Type | undefined): boolean => {
    if (!type) return false;
    const members = type.isUnion() ? type.types : [type];
    // The contract's union itself (or a type that holds it, e.g. `ApiErrorCode | undefined`).
    const literals = members.filter((member) => member.isStringLiteral()).map((member) => member.value);
    return literals.length === known.size && literals.every((value) => known.has(value));
  };
  const found = new Map<string, string[]>();
  for (const file of program.getSourceFiles()) {
    if (!file.fileName.startsWith(root) || file.fileName === contract) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isStringLiteral(node) && known.has(node.text) && isErrorCodeType(checker.getContextualType(node))) {
        const { line } = file.getLineAndCharacterOfPosition(node.getStart());
        found.set(node.text, [...(found.get(node.text) ?? []), `${relative(repoRoot, file.fileName)}:${line + 1}`]);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return found;
}

test('every error code docs/api.md lists is sent by the API, with the status the table gives', () => {
  const documented = documentedCodes(readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8'));
  assert.ok(documented.size >= 20, `the error table was read (${documented.size} codes)`);
  const emitted = emittedCodes();
  const notSent = [...documented.keys()].filter((code) => !emitted.has(code));
  assert.deepEqual(notSent, [], `docs/api.md lists codes nothing in src/apps/api sends: ${notSent.join(', ')}`);
  const wrongStatus = [...documented].filter(([code, status]) => ApiErrorCodes[code as keyof typeof ApiErrorCodes] !== status);
  assert.deepEqual(wrongStatus, [], 'docs/api.md gives these codes another status than the contract (src/contract/http.ts)');
});

test('every error code the API can send is in docs/api.md, and the contract declares none that nothing sends', () => {
  const documented = documentedCodes(readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8'));
  const emitted = emittedCodes();
  const undocumented = [...emitted.keys()].filter((code) => !documented.has(code));
  assert.deepEqual(undocumented, [], `sent but not in docs/api.md's error table: ${undocumented.map((code) => `${code} (${emitted.get(code)!.join(', ')})`).join('; ')}`);
  const declaredOnly = Object.keys(ApiErrorCodes).filter((code) => !emitted.has(code));
  assert.deepEqual(declaredOnly, [], `declared in src/contract/http.ts but sent nowhere in src/apps/api: ${declaredOnly.join(', ')}`);
});
