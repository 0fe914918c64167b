/**
 * A small typed client for the parts of Confluent Schema Registry's REST API that Kitsune uses,
 * over fetch (docs/decisions/0014-schema-registry.md says why not a library). Any registry that
 * speaks this API works: Confluent's, Apicurio's `/apis/ccompat/v7`, Karapace, Redpanda.
 *
 * Failures: a registry that cannot be reached, times out or answers 5xx/429 is a retryable
 * UNAVAILABLE error; refused credentials are INVALID_CONFIG; any other refusal is a
 * SchemaRegistryError carrying the HTTP status and Confluent's `error_code`.
 */
import { ErrorCodes, KitsuneError, toError } from '../errors.ts';
import type { CompatibilityLevel } from '../commands/index.ts';

export interface SchemaRegistryClientOptions {
  /** The API root: `https://registry:8081`, or Apicurio's `http://host:8080/apis/ccompat/v7`. */
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  timeoutMs: number;
}

/** Confluent's error codes that Kitsune reads (https://docs.confluent.io/platform/current/schema-registry/develop/api.html). */
export const RegistryErrorCodes = {
  subjectNotFound: 40401,
  versionNotFound: 40402,
  schemaNotFound: 40403,
  subjectLevelConfigNotFound: 40408,
} as const;

/** The registry answered a request with a refusal (4xx other than bad credentials). */
export class SchemaRegistryError extends KitsuneError {
  constructor(
    message: string,
    readonly status: number,
    /** Confluent's `error_code` (40401 subject not found, 409 incompatible, ...), when given. */
    readonly errorCode: number | undefined,
  ) {
    super(ErrorCodes.SCHEMA_REFUSED, message, { retryable: false });
  }
}

export interface RegisteredVersion {
  subject: string;
  version: number;
  id: number;
  /** The schema's text, as the registry stores it. */
  schema: string;
}

export interface CompatibilityResult {
  compatible: boolean;
  /** The registry's reasons when it gives them (Confluent: `messages`; Apicurio 2.x: `reason`). */
  reasons: string[];
}

export interface SchemaRegistryClient {
  readonly url: string;
  /** The subject's version holding this exact schema, or undefined when it has none. */
  lookup(subject: string, schema: string): Promise<RegisteredVersion | undefined>;
  /** The subject's version numbers; empty when the subject does not exist. */
  versions(subject: string): Promise<number[]>;
  version(subject: string, version: number): Promise<RegisteredVersion>;
  /** The schema text with this id, or undefined when the registry has no such id. */
  schemaById(id: number): Promise<string | undefined>;
  /** Checks a schema against the subject's latest version, under the subject's compatibility level. */
  checkCompatibility(subject: string, schema: string): Promise<CompatibilityResult>;
  /** Registers the schema (or finds it registered) and returns its id. 409: incompatible. */
  register(subject: string, schema: string): Promise<number>;
  /** The subject's own compatibility level, or undefined when it follows the registry's default. */
  compatibility(subject: string): Promise<CompatibilityLevel | undefined>;
  setCompatibility(subject: string, level: CompatibilityLevel): Promise<void>;
}

const contentType = 'application/vnd.schemaregistry.v1+json';

export function createSchemaRegistryClient(options: SchemaRegistryClientOptions): SchemaRegistryClient {
  const base = options.url.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: `${contentType}, application/json`, 'content-type': contentType };
  if (options.username !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
  }

  /** The parsed answer, or undefined for a 404 whose error_code is in `absent`. */
  async function call<T>(method: string, path: string, body?: unknown, absent: readonly number[] = []): Promise<T | undefined> {
    const where = `schema registry ${method} ${base}${path}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      // The deadline covers the body too: a registry that sends headers and then stalls times out here.
      text = await response.text();
    } catch (error) {
      throw new KitsuneError(ErrorCodes.UNAVAILABLE, `${where}: ${toError(error).message}`, { retryable: true, cause: error });
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (response.ok) return parsed as T;
    const { error_code: errorCode, message } = (parsed ?? {}) as { error_code?: unknown; message?: unknown };
    const code = typeof errorCode === 'number' ? errorCode : undefined;
    const reason = typeof message === 'string' ? message : text.slice(0, 500) || response.statusText;
    if (response.status === 404 && code !== undefined && absent.includes(code)) return undefined;
    if (response.status >= 500 || response.status === 429) {
      throw new KitsuneError(ErrorCodes.UNAVAILABLE, `${where}: ${response.status} ${reason}`, { retryable: true });
    }
    if (response.status === 401 || response.status === 403) {
      throw new KitsuneError(ErrorCodes.INVALID_CONFIG, `${where}: ${response.status} ${reason} (check KITSUNE_SCHEMA_REGISTRY_USERNAME and _PASSWORD)`, { retryable: false });
    }
    throw new SchemaRegistryError(`${where}: ${response.status} ${reason}`, response.status, code);
  }

  const subjectPath = (subject: string): string => `/subjects/${encodeURIComponent(subject)}`;
  const schemaBody = (schema: string): { schemaType: 'JSON'; schema: string } => ({ schemaType: 'JSON', schema });
  const { subjectNotFound, versionNotFound, schemaNotFound, subjectLevelConfigNotFound } = RegistryErrorCodes;

  return {
    url: base,
    async lookup(subject, schema) {
      const found = await call<RegisteredVersion>('POST', subjectPath(subject), schemaBody(schema), [subjectNotFound, schemaNotFound]);
      return found === undefined ? undefined : { subject, version: found.version, id: found.id, schema: found.schema };
    },
    async versions(subject) {
      return (await call<number[]>('GET', `${subjectPath(subject)}/versions`, undefined, [subjectNotFound])) ?? [];
    },
    async version(subject, version) {
      const found = await call<RegisteredVersion>('GET', `${subjectPath(subject)}/versions/${version}`);
      if (found === undefined) throw new SchemaRegistryError(`schema registry: ${subject} version ${version} came back empty`, 200, undefined);
      return { subject, version: found.version, id: found.id, schema: found.schema };
    },
    async schemaById(id) {
      const found = await call<{ schema: string }>('GET', `/schemas/ids/${id}`, undefined, [schemaNotFound]);
      return found?.schema;
    },
    async checkCompatibility(subject, schema) {
      const path = `/compatibility${subjectPath(subject)}/versions/latest?verbose=true`;
      const answer = await call<{ is_compatible?: unknown; messages?: unknown; reason?: unknown }>('POST', path, schemaBody(schema), [subjectNotFound, versionNotFound]);
      // No subject or no version yet: nothing to be incompatible with.
      if (answer === undefined) return { compatible: true, reasons: [] };
      const messages = Array.isArray(answer.messages) ? answer.messages.filter((m): m is string => typeof m === 'string') : [];
      const reasons = typeof answer.reason === 'string' && answer.reason !== '' ? [...messages, answer.reason] : messages;
      return { compatible: answer.is_compatible === true, reasons };
    },
    async register(subject, schema) {
      const answer = await call<{ id: number }>('POST', `${subjectPath(subject)}/versions`, schemaBody(schema));
      if (typeof answer?.id !== 'number') throw new SchemaRegistryError(`schema registry: registering ${subject} returned no id`, 200, undefined);
      return answer.id;
    },
    async compatibility(subject) {
      const path = `/config/${encodeURIComponent(subject)}`;
      const answer = await call<{ compatibilityLevel?: CompatibilityLevel }>('GET', path, undefined, [subjectNotFound, subjectLevelConfigNotFound]);
      return answer?.compatibilityLevel;
    },
    async setCompatibility(subject, level) {
      await call('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
    },
  };
}
