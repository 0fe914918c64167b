import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { bindParameters, loadRegistry, parseRegistry, type CommandEntry, type Registry } from '../../src/commands/index.ts';

const shippedRegistry = fileURLToPath(new URL('../../commands/registry.yaml', import.meta.url));

function entryOf(registry: Registry, command: string, version = '1'): CommandEntry {
  const entry = registry.get(command, version);
  assert.ok(entry, `${command} version ${version} is registered`);
  return entry;
}

describe('entry.validate', () => {
  let registry: Registry;
  before(async () => {
    registry = await loadRegistry(shippedRegistry);
  });

  test('accepts a payload that matches the schema', () => {
    assert.deepEqual(entryOf(registry, 'create_user').validate({ name: 'Sahil', email: 'sahil@example.com' }), { ok: true });
    assert.deepEqual(entryOf(registry, 'update_user').validate({ id: '42', name: 'Sahil' }), { ok: true });
    assert.deepEqual(entryOf(registry, 'update_user').validate({ id: 42, email: 'new@example.com' }), { ok: true });
  });

  test('reports every error at once, each pointing at its field under /payload', () => {
    const result = entryOf(registry, 'create_user').validate({ name: 42, email: 'not-an-email', admin: true });
    assert.equal(result.ok, false);
    assert.deepEqual(
      !result.ok && result.errors.map((error) => [error.field, error.keyword]).sort(),
      [
        ['/payload/admin', 'additionalProperties'],
        ['/payload/email', 'format'],
        ['/payload/name', 'type'],
      ],
    );
  });

  test('points a missing required property at the property itself', () => {
    const result = entryOf(registry, 'create_user').validate({ name: 'Sahil' });
    assert.deepEqual(result, { ok: false, errors: [{ field: '/payload/email', message: 'is required', keyword: 'required' }] });
  });

  test('reports a payload that is not an object at /payload', () => {
    for (const payload of [null, 'text', [1, 2], undefined]) {
      const result = entryOf(registry, 'delete_user').validate(payload);
      assert.deepEqual(!result.ok && result.errors.map((error) => [error.field, error.keyword]), [['/payload', 'type']], String(payload));
    }
  });

  test('rejects ids that are not positive whole numbers, as numbers or as strings', () => {
    const deleteUser = entryOf(registry, 'delete_user');
    for (const id of [0, -1, 1.5, '0', '01', '1e3', 'abc', '']) {
      const result = deleteUser.validate({ id });
      assert.equal(result.ok, false, `id ${JSON.stringify(id)}`);
      assert.ok(!result.ok && result.errors.every((error) => error.field === '/payload/id'), JSON.stringify(result));
    }
  });

  test('asks update_user for something to change', () => {
    const result = entryOf(registry, 'update_user').validate({ id: 1 });
    assert.deepEqual(!result.ok && result.errors.map((error) => [error.field, error.keyword]), [['/payload', 'minProperties']]);
  });

  test('points nested errors at their JSON Pointer, escaping / and ~ in names', () => {
    const nested = parseRegistry(
      [
        'commands:',
        '  a:',
        '    versions:',
        '      1:',
        '        sql: SELECT :id::int',
        '        entity_key: id',
        '        schema:',
        '          type: object',
        '          required: [id, address]',
        '          properties:',
        '            id: { type: integer }',
        '            address:',
        '              type: object',
        '              required: [city, "a/b~c"]',
        '              properties: { city: { type: string }, "a/b~c": { type: string } }',
        '            tags: { type: array, items: { type: string } }',
      ].join('\n'),
      'test.yaml',
    );
    const result = entryOf(nested, 'a').validate({ id: 1, address: { city: 7 }, tags: ['ok', 3] });
    assert.deepEqual(
      !result.ok && result.errors.map((error) => error.field).sort(),
      ['/payload/address/a~1b~0c', '/payload/address/city', '/payload/tags/1'],
    );
  });

  test('does not change the payload it checks', () => {
    const payload = { name: 'Sahil', email: 'sahil@example.com' };
    entryOf(registry, 'create_user').validate(payload);
    assert.deepEqual(payload, { name: 'Sahil', email: 'sahil@example.com' });
  });
});

describe('entry.bind', () => {
  test('returns values in $n order, with NULL for a field the payload leaves out', async () => {
    const updateUser = entryOf(await loadRegistry(shippedRegistry), 'update_user');
    assert.deepEqual(updateUser.parameters, ['name', 'email', 'id']);
    assert.deepEqual(updateUser.bind({ id: '7', email: 'e@example.com' }), [null, 'e@example.com', '7']);
  });

  test('binds objects and arrays as JSON text, and passes scalars through', () => {
    assert.deepEqual(
      bindParameters(['obj', 'arr', 'n', 's', 'b', 'nul'], { obj: { a: [1] }, arr: ['x', 2], n: 1.5, s: "o'brien", b: false, nul: null }),
      ['{"a":[1]}', '["x",2]', 1.5, "o'brien", false, null],
    );
  });

  test('never reads a value from Object.prototype', () => {
    assert.deepEqual(bindParameters(['toString', 'constructor', '__proto__'], {}), [null, null, null]);
  });
});

describe('entry.entityKeyOf', () => {
  test('gives the same key for an id sent as a number or as a string', async () => {
    const registry = await loadRegistry(shippedRegistry);
    assert.equal(entryOf(registry, 'update_user').entityKeyOf({ id: 42, name: 'x' }), '42');
    assert.equal(entryOf(registry, 'delete_user').entityKeyOf({ id: '42' }), '42');
    assert.equal(entryOf(registry, 'create_user').entityKeyOf({ name: 'x', email: 'x@example.com' }), 'x@example.com');
  });
});
