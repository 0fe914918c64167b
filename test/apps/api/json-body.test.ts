import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonDepthExceeds, parseJsonBody } from '../../../src/apps/api/json-body.ts';
import type { ApiError } from '../../../src/apps/api/problems.ts';

const codeOf = (text: string): string | undefined => {
  try {
    parseJsonBody(text, 8);
    return undefined;
  } catch (error) {
    return (error as ApiError).problem.code;
  }
};

test('forbidden keys are refused however they are spelled, and plain bodies parse', () => {
  assert.equal(codeOf('{"payload":{"__proto__":{"admin":true}}}'), 'forbidden_key');
  assert.equal(codeOf('{"payload":{"\\u005f_proto__":{"admin":true}}}'), 'forbidden_key', 'a \\u escape does not hide it');
  assert.equal(codeOf('{"constr\\u0075ctor":{}}'), 'forbidden_key');
  assert.equal(codeOf('{"payload":{"note":"the word constructor in a value is fine"}}'), undefined);
  assert.deepEqual(parseJsonBody('{"a":[1,{"b":"c"}]}', 8), { a: [1, { b: 'c' }] });
});

test('depth is measured on the raw text, ignoring brackets inside strings', () => {
  assert.equal(jsonDepthExceeds('{"a":"[[[[[[[[[[[["}', 2), false);
  assert.equal(jsonDepthExceeds('[[[]]]', 2), true);
  assert.equal(codeOf(`${'['.repeat(9)}${']'.repeat(9)}`), 'json_too_deep');
  assert.equal(codeOf(''), 'invalid_json');
  assert.equal(codeOf('{"a":'), 'invalid_json');
});
