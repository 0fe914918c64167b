/**
 * fast-check generators of hostile request bodies for a registered command: every payload
 * property gets a plausible value or something meant to break a naive implementation (SQL
 * quotes and terminators, `$1`, `:name`, backslashes, U+0000, a 1 MB string, an array or an
 * object where a scalar belongs, `__proto__`), or is left out; sometimes the payload itself
 * carries a `__proto__` key. Every string a generator writes contains `marker`, so a test can
 * search for it where it must never appear (in SQL text, say).
 */
import fc from 'fast-check';

export interface HostileBody {
  /** The JSON text of a POST /execute body. */
  body: string;
  /** Contained in every string value of the payload. */
  marker: string;
}

const nasties = ["'", "''", "';--", "'); DROP TABLE users; --", '$1', '$$', '$tag$', ':name', '\\', '\\x00', '\u0000', '"', '/*', '\n', 'é', '🦊'];

interface PropertySchema {
  type?: string | string[];
  format?: string;
}

let counter = 0;

function valueFor(name: string, schema: PropertySchema, marker: string): fc.Arbitrary<unknown> {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type ?? 'string'];
  const plausible: Array<fc.Arbitrary<unknown>> = [];
  if (types.includes('integer')) plausible.push(fc.integer({ min: 1, max: 1_000_000 }));
  if (types.includes('string')) {
    plausible.push(
      schema.format === 'email'
        ? fc.constant(null).map(() => `${marker}${counter++}@example.com`)
        : fc.constantFrom(...nasties).map((nasty) => `${marker} ${name} ${nasty} end`),
    );
  }
  if (types.includes('boolean')) plausible.push(fc.boolean());
  return fc.oneof(
    { weight: 4, arbitrary: fc.oneof(...plausible) },
    { weight: 1, arbitrary: fc.constantFrom(...nasties).map((nasty) => `${marker}${nasty}`) },
    { weight: 1, arbitrary: fc.constant(null).map(() => `${marker}${'x'.repeat(1_048_576)}`) },
    { weight: 1, arbitrary: fc.constant([marker, `${marker}'`]) },
    { weight: 1, arbitrary: fc.constant(JSON.parse(`{"__proto__":{"polluted":"${marker}"}}`) as unknown) },
    { weight: 1, arbitrary: fc.constantFrom(null, -1, 0, 1.5, 2 ** 63, true) },
  );
}

/** A body for `command`/`version` whose payload follows `schema`'s properties, hostilely. */
export function hostileBody(command: string, version: string, schema: Readonly<Record<string, unknown>>): fc.Arbitrary<HostileBody> {
  const properties = (schema.properties ?? {}) as Record<string, PropertySchema>;
  return fc.integer({ min: 1_000, max: 9_999_999 }).chain((n) => {
    const marker = `zqk${n}q`;
    const fields = Object.entries(properties).map(([name, property]) => fc.option(valueFor(name, property, marker), { nil: undefined }).map((value) => [name, value] as const));
    return fc.tuple(fc.tuple(...fields), fc.boolean()).map(([pairs, protoKey]) => {
      const payload = Object.fromEntries(pairs.filter(([, value]) => value !== undefined));
      let payloadText = JSON.stringify(payload);
      if (protoKey) payloadText = payloadText.replace(/^\{/, `{"__proto__":{"admin":"${marker}"}${payloadText === '{}' ? '' : ','}`);
      return { body: `{"command":${JSON.stringify(command)},"version":${JSON.stringify(version)},"payload":${payloadText}}`, marker };
    });
  });
}
