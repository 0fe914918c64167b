/**
 * Payload validation with JSON Schema draft 2020-12 (Ajv2020): the current draft, and the one
 * OpenAPI 3.1 uses, so `GET /commands` can hand the schemas to clients as they are.
 *
 * Schemas are compiled once, when the registry loads; validating is a call to generated code.
 * Costs and limits: `allErrors` reports every failure (what a client wants) but keeps checking
 * after the first one, so keep `pattern`s simple and lengths bounded on untrusted input. Strict
 * mode rejects unknown keywords and `required` names missing from `properties` (including inside
 * `anyOf` branches, which must repeat the property).
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export const schemaDialect = 'https://json-schema.org/draft/2020-12/schema';

export interface PayloadError {
  /** JSON Pointer into the request body: `/payload/email`. */
  readonly field: string;
  readonly message: string;
  /** The JSON Schema keyword that failed (`required`, `format`, `additionalProperties`, ...). */
  readonly keyword: string;
}

export type PayloadValidation = { readonly ok: true } | { readonly ok: false; readonly errors: readonly PayloadError[] };

const valid: PayloadValidation = Object.freeze({ ok: true });

/**
 * One Ajv per registry (the API's request checks use the same settings; `coerceTypes` reads
 * numbers in query strings). `allowUnionTypes` lets an id be `type: [integer, string]`: PostgreSQL
 * returns bigint as a string, and a client should be able to send back what it was given.
 */
export function createSchemaCompiler(options: { coerceTypes?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, coerceTypes: options.coerceTypes ?? false });
  addFormats.default(ajv);
  return ajv;
}

/** Wraps a compiled schema; the result never shares state between calls. */
export function payloadValidator(validate: ValidateFunction): (payload: unknown) => PayloadValidation {
  return (payload) => {
    if (validate(payload)) return valid;
    return { ok: false, errors: (validate.errors ?? []).map(toPayloadError) };
  };
}

const toPayloadError = (error: ErrorObject): PayloadError => toFieldError(error, '/payload');

/**
 * An Ajv error as a field and a message, the field a JSON Pointer under `prefix`. Points
 * `required` and `additionalProperties` errors at the property itself, not its parent.
 */
export function toFieldError(error: ErrorObject, prefix: string): PayloadError {
  const field = `${prefix}${error.instancePath}`;
  const params = error.params as { missingProperty?: unknown; additionalProperty?: unknown; unevaluatedProperty?: unknown };
  if (typeof params.missingProperty === 'string') {
    return { field: `${field}/${pointerEscape(params.missingProperty)}`, message: 'is required', keyword: error.keyword };
  }
  const extra = params.additionalProperty ?? params.unevaluatedProperty;
  if (typeof extra === 'string') {
    return { field: `${field}/${pointerEscape(extra)}`, message: 'is not allowed', keyword: error.keyword };
  }
  return { field, message: error.message ?? `fails ${error.keyword}`, keyword: error.keyword };
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
function pointerEscape(name: string): string {
  return name.replaceAll('~', '~0').replaceAll('/', '~1');
}
