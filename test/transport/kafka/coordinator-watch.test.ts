import { ConnectionPool, MultipleErrors, NetworkError, ProtocolError, UserError } from '@platformatic/kafka';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoordinatorWatch, coordinatorTrouble } from '../../../src/transport/kafka/coordinator-watch.ts';
import { guardMissingBrokers } from '../../../src/transport/kafka/missing-broker.ts';

const attempts = (...errors: Error[]): MultipleErrors => new MultipleErrors(`commit failed ${errors.length} times.`, errors);

test('NOT_COORDINATOR after the client retried it means the consumer must be rebuilt now', () => {
  assert.equal(coordinatorTrouble(attempts(new ProtocolError('NOT_COORDINATOR'), new ProtocolError('NOT_COORDINATOR'))), 'not-coordinator');
});

test('a coordinator that is loading, unavailable or unreachable may come back: trouble, not yet a rebuild', () => {
  assert.equal(coordinatorTrouble(new ProtocolError('COORDINATOR_LOAD_IN_PROGRESS')), 'unavailable');
  assert.equal(coordinatorTrouble(attempts(new ProtocolError('COORDINATOR_NOT_AVAILABLE'))), 'unavailable');
  assert.equal(coordinatorTrouble(new NetworkError('Connection closed')), 'unavailable');
});

test('rebalances and unknown members are the client’s own business; a TypeError from inside it is a defect', () => {
  assert.equal(coordinatorTrouble(attempts(new ProtocolError('REBALANCE_IN_PROGRESS'))), undefined);
  assert.equal(coordinatorTrouble(new ProtocolError('UNKNOWN_MEMBER_ID')), undefined);
  assert.equal(coordinatorTrouble(new UserError('Client is closed.')), undefined);
  assert.equal(coordinatorTrouble(new TypeError("Cannot read properties of undefined (reading 'host')")), 'client-defect');
});

test('the watch rebuilds on lasting unavailability only once the bound has passed since the last success', () => {
  let now = 0;
  const watch = new CoordinatorWatch({ boundMs: 10_000, now: () => now });
  const unavailable = new ProtocolError('COORDINATOR_NOT_AVAILABLE');
  assert.equal(watch.failed(unavailable), undefined);
  now = 9_999;
  assert.equal(watch.failed(unavailable), undefined);
  watch.succeeded();
  now = 15_000;
  assert.equal(watch.failed(unavailable), undefined, 'a success in between starts the bound again');
  now = 25_000;
  assert.equal(watch.failed(unavailable), 'unavailable');
  assert.equal(watch.failed(new ProtocolError('NOT_COORDINATOR')), 'not-coordinator');
});

test('a connection to a broker missing from the metadata fails the request instead of throwing', async () => {
  const pool = new ConnectionPool('kitsune-test');
  guardMissingBrokers(pool);
  const error = await new Promise<unknown>((resolve) => {
    // The client passes `metadata.brokers.get(id)`, undefined for a node that left the cluster.
    pool.get(undefined as never, (failure) => resolve(failure));
  });
  assert.equal(coordinatorTrouble(error), 'not-coordinator');
  assert.equal((error as { canRetry?: unknown }).canRetry, true);
  await assert.rejects(pool.get(undefined as never), (failure: unknown) => coordinatorTrouble(failure) === 'not-coordinator');
  await pool.close();
});

test('the pinned client’s pool throws a TypeError for such a broker without the guard (drop the guard once it does not)', () => {
  const pool = new ConnectionPool('kitsune-test');
  assert.throws(() => pool.get(undefined as never, () => undefined), TypeError);
});
