import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRegistry, RegistryError } from '../../src/commands/index.ts';

const command = (extra: string): string =>
  [
    'commands:',
    '  create_user:',
    extra,
    '    versions:',
    '      1:',
    '        entity_key: id',
    '        schema: { type: object, required: [id], properties: { id: { type: integer } } }',
    '        sql: SELECT :id::bigint',
  ]
    .filter((line) => line !== '')
    .join('\n');

describe('a command\'s compatibility key', () => {
  test('is the level its schema-registry subject keeps', () => {
    assert.equal(parseRegistry(command('    compatibility: FULL_TRANSITIVE'), 't.yaml').compatibility('create_user'), 'FULL_TRANSITIVE');
  });

  test('is undefined when the command names none, so the registry default applies', () => {
    assert.equal(parseRegistry(command(''), 't.yaml').compatibility('create_user'), undefined);
  });

  test('rejects a level Confluent does not have, naming the command, the field and its line', () => {
    assert.throws(
      () => parseRegistry(command('    compatibility: backwards'), 't.yaml'),
      (error: unknown) => {
        assert.ok(error instanceof RegistryError);
        assert.deepEqual(
          error.problems.map((p) => [p.line, p.command, p.field]),
          [[3, 'create_user', 'compatibility']],
        );
        assert.match(error.problems[0]!.message, /BACKWARD, BACKWARD_TRANSITIVE, FORWARD/);
        return true;
      },
    );
  });
});
