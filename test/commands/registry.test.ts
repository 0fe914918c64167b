import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { KitsuneError, ErrorCodes } from '../../src/errors.ts';
import { loadRegistry, parseRegistry, RegistryError, type RegistryProblem } from '../../src/commands/index.ts';

const shippedRegistry = fileURLToPath(new URL('../../commands/registry.yaml', import.meta.url));

/** A valid payload schema for versions keyed by `id`, in YAML flow style. */
const userSchema = `{ type: object, additionalProperties: false, required: [id], properties: { id: { type: integer } } }`;

function problemsOf(text: string): RegistryProblem[] {
  try {
    parseRegistry(text, 'test.yaml');
  } catch (error) {
    assert.ok(error instanceof RegistryError, String(error));
    return [...error.problems];
  }
  assert.fail('the registry was accepted');
}

/** [line, command, version, field] of each problem, for compact assertions. */
function places(problems: RegistryProblem[]): Array<[number | undefined, string | undefined, string | undefined, string | undefined]> {
  return problems.map((problem) => [problem.line, problem.command, problem.version, problem.field]);
}

describe('the shipped registry', () => {
  test('loads, with create_user, update_user and delete_user at version 1', async () => {
    const registry = await loadRegistry(shippedRegistry);
    assert.deepEqual(
      registry.list().map((command) => [command.name, command.versions.map((version) => version.version)]),
      [
        ['create_user', ['1']],
        ['delete_user', ['1']],
        ['update_user', ['1']],
      ],
    );
  });

  test('keys create_user by email and the others by id', async () => {
    const registry = await loadRegistry(shippedRegistry);
    assert.equal(registry.get('create_user', '1')?.entityKey, 'email');
    assert.equal(registry.get('update_user', '1')?.entityKey, 'id');
    assert.equal(registry.get('delete_user', '1')?.entityKey, 'id');
  });

  test('rejects unknown payload fields in every shipped schema', async () => {
    const registry = await loadRegistry(shippedRegistry);
    for (const entry of registry.entries()) assert.equal(entry.schema.additionalProperties, false, entry.command);
  });
});

describe('parseRegistry', () => {
  test('reports every problem in the file at once, each with its line', () => {
    const text = [
      'commands:', // 1
      '  create_user:', // 2
      '    versions:', // 3
      '      1:', // 4
      '        entity_key: emial', // 5
      '        schema: { type: object, required: [name], properties: { name: { type: string } } }', // 6
      '        sql: |', // 7
      '          INSERT INTO users (name, email)', // 8
      '          VALUES (:name, :email)', // 9
      '        retruning: true', // 10
      '      "1":', // 11
      '        entity_key: name', // 12
      '  Bad-Name:', // 13
      '    versions:', // 14
      '      01:', // 15
      '        sql: SELECT 1', // 16
      '  update_user:', // 17
      '    versions:', // 18
      '      1:', // 19
      `        schema: ${userSchema.replace('type: integer', 'type: intger')}`, // 20
      '        sql: UPDATE users SET name = :name WHERE id = :id', // 21
      '        entity_key: id', // 22
    ].join('\n');
    const problems = problemsOf(text);
    assert.deepEqual(places(problems), [
      [5, 'create_user', '1', 'entity_key'],
      [9, 'create_user', '1', 'sql'],
      [10, 'create_user', '1', 'retruning'],
      [11, 'create_user', '1', undefined],
      [13, 'Bad-Name', undefined, undefined],
      [15, 'Bad-Name', '01', undefined],
      [15, 'Bad-Name', '01', 'schema'],
      [15, 'Bad-Name', '01', 'entity_key'],
      [20, 'update_user', '1', 'schema'],
      [21, 'update_user', '1', 'sql'],
      [22, 'update_user', '1', 'entity_key'],
    ]);
    const messages = problems.map((problem) => problem.message);
    assert.match(messages[0] ?? '', /emial is not a property of the schema/);
    assert.match(messages[1] ?? '', /parameter :email is not a property of the schema \(it has: name\)/);
    assert.match(messages[2] ?? '', /unknown key \(expected one of: description, schema, sql, entity_key, returning\)/);
    assert.equal(messages[3], 'command create_user version 1 is registered twice (first at line 4)');
    assert.match(messages[8] ?? '', /does not compile: .*type/);
    assert.match(messages[9] ?? '', /parameter :name is not a property/);
  });

  test('throws one non-retryable KitsuneError whose message lists each problem with file and line', () => {
    const text = ['commands:', '  a:', '    versions:', '      1:', '        sql: SELECT :x', `        schema: ${userSchema}`, '        entity_key: nope'].join('\n');
    assert.throws(
      () => parseRegistry(text, 'reg.yaml'),
      (error: unknown) => {
        assert.ok(error instanceof KitsuneError);
        assert.equal(error.code, ErrorCodes.REGISTRY_INVALID);
        assert.equal(error.retryable, false);
        assert.match(error.message, /^command registry reg\.yaml: 2 problems\n/);
        assert.match(error.message, /reg\.yaml:5: command a version 1: sql: parameter :x is not a property of the schema/);
        assert.match(error.message, /reg\.yaml:7:21: command a version 1: entity_key: nope is not a property of the schema/);
        return true;
      },
    );
  });

  test('treats 1 and "1" as the same version: registered twice', () => {
    const version = `{ sql: 'SELECT :id::int', entity_key: id, schema: ${userSchema} }`;
    const problems = problemsOf(['commands:', '  a:', '    versions:', `      1: ${version}`, `      '1': ${version}`].join('\n'));
    assert.deepEqual(
      problems.map((problem) => [problem.line, problem.message]),
      [[5, 'command a version 1 is registered twice (first at line 4)']],
    );
  });

  test('reports a command defined twice instead of merging its versions', () => {
    const version = `{ sql: 'SELECT :id::int', entity_key: id, schema: ${userSchema} }`;
    const text = ['commands:', '  a:', `    versions: { 1: ${version} }`, '  a:', `    versions: { 2: ${version} }`].join('\n');
    assert.deepEqual(
      problemsOf(text).map((problem) => [problem.line, problem.message]),
      [[4, 'command a is registered twice (first at line 2); list all its versions under one entry']],
    );
  });

  test('reports each missing field of a version', () => {
    const problems = problemsOf(['commands:', '  a:', '    versions:', '      1:', '        description: nothing else'].join('\n'));
    assert.deepEqual(
      places(problems),
      [
        [4, 'a', '1', 'schema'],
        [4, 'a', '1', 'sql'],
        [4, 'a', '1', 'entity_key'],
      ],
    );
  });

  test('reports unknown keys at every level', () => {
    const version = `{ sql: 'SELECT :id::int', entity_key: id, schema: ${userSchema}, returns: true }`;
    const text = ['version: 1', 'commands:', '  a:', '    descripton: typo', `    versions: { 1: ${version} }`].join('\n');
    assert.deepEqual(
      problemsOf(text).map((problem) => [problem.line, problem.field]),
      [
        [1, 'version'],
        [4, 'descripton'],
        [5, 'returns'],
      ],
    );
  });

  test('requires command names in lower_snake_case and versions as whole numbers without leading zeros', () => {
    const version = `{ sql: 'SELECT :id::int', entity_key: id, schema: ${userSchema} }`;
    const text = [
      'commands:',
      `  createUser: { versions: { 1: ${version} } }`,
      `  _private: { versions: { 1: ${version} } }`,
      `  ok_name: { versions: { 1.0: ${version}, "v2": ${version}, 0: ${version}, "007": ${version}, 10: ${version} } }`,
    ].join('\n');
    assert.deepEqual(
      problemsOf(text).map((problem) => [problem.command, problem.version]),
      [
        ['createUser', undefined],
        ['_private', undefined],
        ['ok_name', '1.0'],
        ['ok_name', 'v2'],
        ['ok_name', '0'],
        ['ok_name', '007'],
      ],
    );
  });

  test('requires the entity key to be a required string or integer property', () => {
    const text = [
      'commands:',
      '  a:',
      '    versions:',
      '      1:',
      '        sql: SELECT :k::text',
      '        entity_key: k',
      '        schema: { type: object, properties: { k: { type: string } } }',
      '      2:',
      '        sql: SELECT :k::text',
      '        entity_key: k',
      '        schema: { type: object, required: [k], properties: { k: { type: object } } }',
    ].join('\n');
    const problems = problemsOf(text);
    assert.deepEqual(places(problems), [
      [6, 'a', '1', 'entity_key'],
      [10, 'a', '2', 'entity_key'],
    ]);
    assert.match(problems[0]?.message ?? '', /must be listed in the schema's required/);
    assert.match(problems[1]?.message ?? '', /must be declared with type string or integer/);
  });

  test('rejects schemas of another draft, non-object payloads and keywords Ajv does not know', () => {
    const sql = "sql: 'SELECT :id::int'";
    const text = [
      'commands:',
      '  a:',
      '    versions:',
      `      1: { ${sql}, entity_key: id, schema: { $schema: 'http://json-schema.org/draft-07/schema#', type: object, required: [id], properties: { id: { type: integer } } } }`,
      `      2: { ${sql}, entity_key: id, schema: { type: array } }`,
      `      3: { ${sql}, entity_key: id, schema: { type: object, required: [id], properties: { id: { type: integer, minimun: 1 } } } }`,
      `      4: { ${sql}, entity_key: id, schema: [not, a, mapping] }`,
    ].join('\n');
    const problems = problemsOf(text);
    const schemaProblems = problems.filter((problem) => problem.field === 'schema');
    assert.deepEqual(
      schemaProblems.map((problem) => problem.version),
      ['1', '2', '3', '4'],
    );
    assert.match(schemaProblems[0]?.message ?? '', /draft\/2020-12/);
    assert.match(schemaProblems[1]?.message ?? '', /type: object/);
    assert.match(schemaProblems[2]?.message ?? '', /unknown keyword: "minimun"/);
    assert.match(schemaProblems[3]?.message ?? '', /expected a JSON Schema object/);
  });

  test('reports a key repeated inside a schema, which YAML would otherwise silently overwrite', () => {
    const text = [
      'commands:',
      '  a:',
      '    versions:',
      '      1:',
      "        sql: 'SELECT :id::int'",
      '        entity_key: id',
      '        schema:',
      '          type: object',
      '          required: [id]',
      '          properties: { id: { type: integer } }',
      '          type: string',
    ].join('\n');
    assert.deepEqual(
      problemsOf(text).map((problem) => [problem.line, problem.field, problem.message]),
      [[11, 'schema', 'key type appears twice in one mapping (first at line 8)']],
    );
  });

  test('reports a problem in the SQL on the file line where it is', () => {
    const text = [
      'commands:',
      '  a:',
      '    versions:',
      '      1:',
      `        schema: ${userSchema}`,
      '        entity_key: id',
      '        sql: |',
      '          SELECT :id::int',
      "          WHERE 'x' = 'unterminated",
    ].join('\n');
    assert.deepEqual(
      problemsOf(text).map((problem) => [problem.line, problem.field]),
      [[9, 'sql']],
    );
  });

  test('reports invalid YAML with its line and nothing else', () => {
    const problems = problemsOf(['commands:', '  a:', '    versions: { 1: [unclosed', '  b: 1'].join('\n'));
    assert.ok(problems.length >= 1);
    assert.ok(problems.every((problem) => problem.message.startsWith('invalid YAML:') && typeof problem.line === 'number'));
  });

  test('reports an empty file or one without commands', () => {
    assert.deepEqual(
      problemsOf('').map((problem) => problem.line),
      [1],
    );
    assert.deepEqual(
      problemsOf('commands: {}').map((problem) => problem.field),
      ['commands'],
    );
  });

  test('normalises YAML number versions to strings and sorts versions numerically', () => {
    const version = `{ sql: 'SELECT :id::int', entity_key: id, schema: ${userSchema} }`;
    const registry = parseRegistry(
      ['commands:', `  a: { versions: { 10: ${version}, '2': ${version}, 1: ${version} } }`].join('\n'),
      'test.yaml',
    );
    assert.deepEqual(registry.versions('a'), ['1', '2', '10']);
    assert.equal(registry.get('a', '10')?.version, '10');
  });

  test('shares schema parts through YAML anchors', () => {
    const text = [
      'commands:',
      '  a:',
      '    versions:',
      `      1: { sql: 'SELECT :id::int', entity_key: id, schema: &s ${userSchema} }`,
      "      2: { sql: 'SELECT :id::bigint', entity_key: id, schema: *s }",
    ].join('\n');
    const registry = parseRegistry(text, 'test.yaml');
    assert.deepEqual(registry.get('a', '2')?.schema, registry.get('a', '1')?.schema);
  });
});

describe('Registry lookups', () => {
  const version = `{ sql: 'SELECT :id::int', entity_key: id, schema: ${userSchema} }`;
  const registry = parseRegistry(
    ['commands:', `  constructor: { description: A legal name, versions: { 1: ${version} } }`, `  a: { versions: { 1: ${version} } }`].join('\n'),
    'test.yaml',
  );

  test('return undefined for names inherited from Object.prototype', () => {
    for (const name of ['toString', '__proto__', 'hasOwnProperty', 'valueOf', 'prototype']) {
      assert.equal(registry.get(name, '1'), undefined, name);
      assert.deepEqual(registry.versions(name), [], name);
      assert.equal(registry.get('a', name), undefined, `version ${name}`);
    }
    assert.equal(registry.get('a', 'constructor'), undefined);
  });

  test('find a command that happens to be called constructor, like any other', () => {
    assert.equal(registry.get('constructor', '1')?.command, 'constructor');
    assert.deepEqual(registry.versions('constructor'), ['1']);
  });

  test('return undefined for an unknown version of a known command', () => {
    assert.equal(registry.get('a', '2'), undefined);
    assert.equal(registry.get('a', '01'), undefined);
  });

  test('list a catalog with descriptions and schemas, and no SQL', () => {
    const catalog = registry.list();
    assert.deepEqual(
      catalog.map((command) => [command.name, command.description]),
      [
        ['a', undefined],
        ['constructor', 'A legal name'],
      ],
    );
    const first = catalog[0]?.versions[0];
    assert.deepEqual(first && Object.keys(first).sort(), ['description', 'entityKey', 'returning', 'schema', 'version']);
    assert.equal(first?.schema.type, 'object');
    assert.equal(first?.returning, false);
  });

  test('publish schemas that callers cannot change', () => {
    const schema = registry.get('a', '1')?.schema as Record<string, unknown>;
    assert.throws(() => {
      schema.type = 'array';
    }, TypeError);
  });
});
