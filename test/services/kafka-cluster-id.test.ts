import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { classpath, formatStorage, newClusterId } from '../../scripts/services/kafka.ts';
import { servicesDir } from '../../scripts/services/state.ts';
import { kafkaSkip } from '../support/services.ts';

test('a cluster id that would start with "-" is drawn again (1 in 64 draws does)', () => {
  // 0xf8 is 111110 in its top six bits: base64url digit 62, '-'.
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
  let calls = 0;
  const id = newClusterId(() => draws[calls++]!);
  assert.equal(calls, 2);
  assert.equal(id, Buffer.alloc(16, 0x01).toString('base64url'));
  assert.equal(Buffer.alloc(16, 0xf8).toString('base64url')[0], '-', 'the first draw is the case being tested');
});

test('kafka-storage formats with a cluster id that starts with "-" (passed as --cluster-id=<id>)', { skip: kafkaSkip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kitsune-cluster-id-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'log4j2.properties');
  await writeFile(log4jFile, 'status = warn\nrootLogger.level = warn\n');
  await writeFile(
    configFile,
    [
      'process.roles=broker,controller',
      'node.id=1',
      'controller.quorum.bootstrap.servers=127.0.0.1:9',
      'listeners=PLAINTEXT://127.0.0.1:8,CONTROLLER://127.0.0.1:9',
      'controller.listener.names=CONTROLLER',
      `log.dirs=${join(dir, 'data')}`,
      '',
    ].join('\n'),
  );
  const id = `-${Buffer.alloc(16, 0x01).toString('base64url').slice(1)}`;
  // The classpath the test broker was started from, cached in the services folder.
  await formatStorage(await classpath(servicesDir()), log4jFile, configFile, id, true);
  assert.match(await readFile(join(dir, 'data', 'meta.properties'), 'utf8'), new RegExp(`^cluster\\.id=${id}$`, 'm'));
});
