import assert from 'node:assert/strict';
import { test } from 'node:test';
import pgUtils from 'pg/lib/utils.js';
import { bindValue } from '../../src/db/array-literal.ts';

const awkward = ['', 'plain', 'NULL', 'null', 'with space', 'a,b', '{braces}', 'quote"inside', 'back\\slash', '\\"both"\\', "o'neil", 'tab\there', 'new\nline', 'émoji 🦊', '"', '\\'];

test('an array is encoded exactly as pg encodes it, element by element', () => {
  const arrays: unknown[][] = [
    [],
    awkward,
    [null, undefined, 'x', null],
    [0, -1, 1.5, Number.MAX_SAFE_INTEGER, 12345678901234567890n, true, false],
    [Buffer.from([0, 1, 254, 255]), Buffer.alloc(0), null],
    ['{"rows":[{"id":1,"name":"a \\"quoted\\" name"}]}', '[]'],
  ];
  for (const array of arrays) assert.equal(bindValue(array), pgUtils.prepareValue(array), JSON.stringify(array, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
});

test('an array holding anything else is left to pg whole', () => {
  const arrays: unknown[][] = [
    [new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), 'x'],
    [{ a: 1 }, 'x'],
    [['nested', 'x'], ['y', null]],
    [new Uint8Array([1, 2]), 'x'],
  ];
  for (const array of arrays) assert.equal(bindValue(array), pgUtils.prepareValue(array));
});

test('values that are not arrays are what pg makes of them', () => {
  const buffer = Buffer.from('ab');
  assert.equal(bindValue(buffer), buffer);
  for (const value of [null, undefined, 'text', 7, true, { a: [1] }]) assert.deepEqual(bindValue(value), pgUtils.prepareValue(value));
});
