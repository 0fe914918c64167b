/**
 * Boot registration against a real Confluent-compatible registry (Apicurio Registry): subjects per
 * command, idempotent second boots, and the evolution rules (a changed version refused, a new
 * version checked under the command's compatibility level).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadRegistry } from '../../src/commands/index.ts';
import { registerCommandSchemas, SchemaRefusedError } from '../../src/schema-registry/index.ts';
import { repoRoot } from '../../scripts/services/state.ts';
import { schemaRegistrySkip } from '../support/services.ts';
import { freshTopic, registryGet, testClient, userRegistry } from './support.ts';

async function refusal(promise: Promise<unknown>): Promise<readonly string[]> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SchemaRefusedError, String(error));
    return error.problems;
  }
  assert.fail('the registry accepted the schemas');
}

describe('registering command schemas', { skip: schemaRegistrySkip() }, () => {
  test('registers every command version of the shipped registry, one subject per command, and nothing on a second boot', async () => {
    const registry = await loadRegistry(join(repoRoot, 'commands', 'registry.yaml'));
    const topic = freshTopic();
    const client = testClient();
    const first = await registerCommandSchemas(registry, client, topic);
    assert.deepEqual([first.added, first.existing], [3, 0]);

    const subjects = await registryGet<string[]>('/subjects');
    for (const command of ['create_user', 'update_user', 'delete_user']) assert.ok(subjects.includes(`${topic}-${command}`), command);
    const registered = await registryGet<{ id: number; version: number; schema: string }>(`/subjects/${topic}-create_user/versions/1`);
    assert.equal(registered.id, first.schemas.get('create_user\u00001')?.id);
    const schema = JSON.parse(registered.schema) as { title: string; properties: { payload: { required: string[] } } };
    assert.equal(schema.title, 'create_user v1');
    assert.deepEqual(schema.properties.payload.required, ['name', 'email']);

    const second = await registerCommandSchemas(registry, client, topic);
    assert.deepEqual([second.added, second.existing], [0, 3]);
    assert.deepEqual([...second.schemas.values()].map((s) => s.id), [...first.schemas.values()].map((s) => s.id));
    assert.deepEqual(await registryGet<number[]>(`/subjects/${topic}-create_user/versions`), [1]);
  });

  test('registers a new compatible version as the subject\'s next version', async () => {
    const topic = freshTopic();
    await registerCommandSchemas(userRegistry({ 1: {} }), testClient(), topic);
    const next = await registerCommandSchemas(userRegistry({ 1: {}, 2: { extra: 'nickname: { type: string }' } }), testClient(), topic);
    assert.deepEqual([next.added, next.existing], [1, 1]);
    assert.deepEqual(await registryGet<number[]>(`/subjects/${topic}-create_user/versions`), [1, 2]);
  });

  test('refuses a schema changed under an existing version, naming the command, version, subject and schema id', async () => {
    const topic = freshTopic();
    const first = await registerCommandSchemas(userRegistry({ 1: {} }), testClient(), topic);
    const id = first.schemas.get('create_user\u00001')!.id;
    const problems = await refusal(registerCommandSchemas(userRegistry({ 1: { extra: 'nickname: { type: string }' } }), testClient(), topic));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, new RegExp(`^command create_user version 1: its schema differs from the one registered as ${topic}-create_user version 1 \\(schema id ${id}\\)`));
    assert.match(problems[0]!, /give the change a new version/);
    assert.deepEqual(await registryGet<number[]>(`/subjects/${topic}-create_user/versions`), [1]);
  });

  test('takes the same schema with its keys in another order as unchanged', async () => {
    const topic = freshTopic();
    await registerCommandSchemas(userRegistry({ 1: {} }), testClient(), topic);
    const again = await registerCommandSchemas(userRegistry({ 1: { reversed: true } }), testClient(), topic);
    assert.deepEqual([again.added, again.existing], [0, 1]);
  });

  test('keeps matching versions by their title after an old version is retired from the YAML', async () => {
    const topic = freshTopic();
    await registerCommandSchemas(userRegistry({ 1: {}, 2: { extra: 'nickname: { type: string }' } }), testClient(), topic);
    const later = await registerCommandSchemas(userRegistry({ 2: { extra: 'nickname: { type: string }' } }), testClient(), topic);
    assert.deepEqual([later.added, later.existing], [0, 1]);
  });

  test('refuses a new version incompatible under BACKWARD with the registry\'s reason, and registers it under NONE', async () => {
    const topic = freshTopic();
    await registerCommandSchemas(userRegistry({ 1: {} }), testClient(), topic);
    assert.equal((await registryGet<{ compatibilityLevel: string }>(`/config/${topic}-create_user`)).compatibilityLevel, 'BACKWARD');

    // A new required field: events written as v1 do not satisfy v2.
    const breaking = { 1: {}, 2: { extra: 'team: { type: string }', required: 'name, email, team' } };
    const problems = await refusal(registerCommandSchemas(userRegistry(breaking), testClient(), topic));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, new RegExp(`^command create_user version 2: the schema registry refused it as incompatible with ${topic}-create_user under BACKWARD: `));
    assert.match(problems[0]!, /required/i, 'the registry\'s own reason names the new required property');
    assert.deepEqual(await registryGet<number[]>(`/subjects/${topic}-create_user/versions`), [1]);

    const relaxed = await registerCommandSchemas(userRegistry(breaking, 'NONE'), testClient(), topic);
    assert.deepEqual([relaxed.added, relaxed.existing], [1, 1]);
    assert.equal((await registryGet<{ compatibilityLevel: string }>(`/config/${topic}-create_user`)).compatibilityLevel, 'NONE');
  });
});
