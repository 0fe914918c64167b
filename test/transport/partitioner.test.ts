import assert from 'node:assert/strict';
import { test } from 'node:test';
import { murmur2, partitionForKey } from '../../src/transport/partitioner.ts';

// Printed by kafka-clients 4.1.1 under jshell: Utils.murmur2(key.getBytes(UTF_8)), then
// Utils.toPositive(hash) % 6 and % 16. Lengths cover every tail case (0..3 leftover bytes).
const javaVectors: Array<[key: string, hash: number, p6: number, p16: number]> = [
  ['', 275646681, 3, 9],
  ['a', -1563381124, 4, 12],
  ['ab', 316155434, 2, 10],
  ['abc', 479470107, 3, 11],
  ['abcd', -1323649548, 2, 4],
  ['user-42', 1459644460, 4, 12],
  ['ünïcødé-ключ', -1534091484, 2, 4],
  ['0c9a7e0e-7f5a-4a43-9d3c-2f8f7d7b3a11', 727963215, 3, 15],
  ['entity-123456789', -170636008, 4, 8],
];

test('murmur2 matches the Java client byte for byte', () => {
  for (const [key, hash] of javaVectors) assert.equal(murmur2(Buffer.from(key, 'utf8')), hash, key);
});

test('partitionForKey picks the partition the Java default partitioner picks', () => {
  for (const [key, , p6, p16] of javaVectors) {
    assert.equal(partitionForKey(key, 6), p6, `${key} over 6`);
    assert.equal(partitionForKey(key, 16), p16, `${key} over 16`);
  }
});
