/**
 * Where the real services are, as `npm test` (scripts/test.ts) put them in the environment.
 *
 * Kafka suites pass `{ skip: kafkaSkip }` to `describe`: a reason string when no broker can run on
 * this machine, so the skip is visible in the report. With KITSUNE_REQUIRE_SERVICES=1 a missing
 * service throws instead, and the run fails.
 */
const requireServices = process.env.KITSUNE_REQUIRE_SERVICES === '1';

function missing(what: string): never {
  throw new Error(`${what} is not set: run the tests with \`npm test\`, which starts the services`);
}

export const kafkaSkip: string | false = (() => {
  if (process.env.KAFKA_BROKERS) return false;
  const reason = process.env.KITSUNE_KAFKA_SKIP_REASON ?? 'KAFKA_BROKERS is not set';
  if (requireServices) throw new Error(`Kafka is required (KITSUNE_REQUIRE_SERVICES=1) but ${reason}`);
  return `no Kafka broker: ${reason}`;
})();

/**
 * For `describe(..., { skip: schemaRegistrySkip() })`: a function, not a constant like kafkaSkip,
 * because `npm test` starts the registry only when a file under test/schema-registry/ runs.
 */
export function schemaRegistrySkip(): string | false {
  if (process.env.KITSUNE_TEST_SCHEMA_REGISTRY_URL) return false;
  const reason = process.env.KITSUNE_SCHEMA_REGISTRY_SKIP_REASON ?? 'KITSUNE_TEST_SCHEMA_REGISTRY_URL is not set (npm test starts a registry for test/schema-registry/)';
  if (requireServices) throw new Error(`a schema registry is required (KITSUNE_REQUIRE_SERVICES=1) but ${reason}`);
  return `no schema registry: ${reason}`;
}

/** The test registry's Confluent API root. Only call inside a suite guarded by `schemaRegistrySkip`. */
export function schemaRegistryUrl(): string {
  return process.env.KITSUNE_TEST_SCHEMA_REGISTRY_URL ?? missing('KITSUNE_TEST_SCHEMA_REGISTRY_URL');
}

/** Bootstrap addresses of the test broker. Only call inside a suite guarded by `kafkaSkip`. */
export function kafkaBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? missing('KAFKA_BROKERS')).split(',');
}

export function postgresDsn(): string {
  return process.env.POSTGRES_DSN ?? missing('POSTGRES_DSN');
}

/**
 * PID of the test broker when the harness runs it, for tests that pause it (SIGSTOP). Undefined
 * when the broker was named in the environment: a test must not freeze someone else's broker.
 */
export function kafkaPid(): number | undefined {
  const pid = Number(process.env.KITSUNE_TEST_KAFKA_PID);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
