/**
 * How the API checks requests against its route schemas: JSON Schema draft 2020-12 (the dialect of
 * OpenAPI 3.1 and of the registry's payload schemas) with the formats the document names, so a
 * request is judged by the rules the document states. Bodies are checked as sent; query strings,
 * path parameters and headers arrive as text, so numbers in them are read as numbers first.
 * Nothing is dropped or defaulted: an unknown property is an error, not a silent loss.
 */
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { FastifySchemaCompiler } from 'fastify';
import { createSchemaCompiler, toFieldError } from '../../commands/payload.ts';
import type { FieldLocation } from '../../contract/http.ts';
import { problem, type ApiError } from './problems.ts';

export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodies = createSchemaCompiler();
  const text = createSchemaCompiler({ coerceTypes: true });
  return ({ schema, httpPart }) => (httpPart === 'body' ? bodies : text).compile(schema as object);
}

const locations: Record<string, FieldLocation> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

/** Fastify's FST_ERR_VALIDATION as Kitsune's invalid_request, naming every field at fault. */
export function validationProblem(errors: readonly ErrorObject[], context: string | undefined): ApiError {
  const where = locations[context ?? 'body'] ?? 'body';
  const fields = errors.map((error) => toFieldError(error, '')).map(({ field, message }) => ({ field: field === '' ? '/' : field, message }));
  const first = fields[0] ?? { field: '/', message: 'is invalid' };
  const name = where === 'body' ? (first.field === '/' ? 'the body' : first.field) : first.field.slice(1) || `the ${where === 'path' ? 'path' : where}`;
  const what = where === 'query' ? 'query parameter ' : where === 'path' ? 'path parameter ' : where === 'header' ? 'header ' : '';
  return problem('invalid_request', `${what}${name} ${first.message}`, first.field, fields, where);
}

/**
 * For routes whose handler checks the body against the same schemas the document shows (a
 * command is checked by its version's schema, with the caller's grant): the body passes through
 * here, and the other parts of the request are checked as usual.
 */
export function bodyCheckedByHandler(compile: FastifySchemaCompiler<unknown>): FastifySchemaCompiler<unknown> {
  return (route) => (route.httpPart === 'body' ? () => true : compile(route));
}
