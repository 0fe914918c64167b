/**
 * The JSON body parser: rejects what JSON.parse would accept but Kitsune must not, with a code
 * that says which rule was broken. Depth is checked on the raw text before parsing, so a hostile
 * body cannot exhaust the stack. Keys named `__proto__` or `constructor` are refused anywhere in
 * the body: payloads are merged into objects and bound into SQL, and no command needs them.
 */
import { problem } from './problems.ts';

const forbiddenKeys = new Set(['__proto__', 'constructor']);
const mayHoldForbiddenKey = /__proto__|constructor|\\u/;

class ForbiddenKey extends Error {
  constructor(readonly key: string) {
    super(key);
  }
}

/** Throws on a forbidden key; JSON.parse calls it for every key of every object. */
function refuseForbiddenKeys(key: string, value: unknown): unknown {
  if (forbiddenKeys.has(key)) throw new ForbiddenKey(key);
  return value;
}

/** Deepest nesting of objects and arrays in `text`, stopping early once past `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.trim() === '') throw problem('invalid_json', 'the request body is empty; send a JSON object');
  if (jsonDepthExceeds(text, maxDepth)) {
    throw problem('json_too_deep', `the request body nests objects or arrays deeper than ${maxDepth} levels`);
  }
  try {
    // A reviver makes JSON.parse several times slower, so it only runs when the text could hold
    // a forbidden key: spelled out, or hidden behind a \u escape that JSON.parse would decode.
    return (mayHoldForbiddenKey.test(text) ? JSON.parse(text, refuseForbiddenKeys) : JSON.parse(text)) as unknown;
  } catch (error) {
    if (error instanceof ForbiddenKey) {
      throw problem('forbidden_key', `the request body contains a "${error.key}" key, which is not allowed anywhere in a command`);
    }
    throw problem('invalid_json', `the request body is not valid JSON: ${(error as Error).message}`);
  }
}
