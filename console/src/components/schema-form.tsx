/**
 * A form generated from a command version's JSON Schema, checked in the browser with the very
 * validator the API uses (src/commands/payload.ts: Ajv 2020-12, the same formats and options),
 * so what this form accepts the API accepts, and its messages name the same fields.
 *
 * Fields: strings (email, date, enum as a list), integers and numbers, booleans; anything else
 * (objects, arrays) is a JSON text field. A field left empty is left out of the payload.
 */
import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { createSchemaCompiler, payloadValidator, type PayloadError } from '../../../src/commands/payload.ts';

export type JsonSchema = Record<string, unknown>;

interface Field {
  name: string;
  schema: JsonSchema;
  required: boolean;
  kind: 'text' | 'email' | 'number' | 'integer' | 'boolean' | 'enum' | 'json' | 'id';
}

function types(schema: JsonSchema): string[] {
  const type = schema.type;
  return Array.isArray(type) ? (type as string[]) : typeof type === 'string' ? [type] : [];
}

export function fieldsOf(schema: JsonSchema): Field[] {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const t = types(property);
    let kind: Field['kind'] = 'json';
    if (Array.isArray(property.enum)) kind = 'enum';
    else if (t.length === 1 && t[0] === 'string') kind = property.format === 'email' ? 'email' : 'text';
    else if (t.length === 1 && (t[0] === 'integer' || t[0] === 'number')) kind = t[0];
    else if (t.length === 1 && t[0] === 'boolean') kind = 'boolean';
    else if (t.length === 2 && t.includes('integer') && t.includes('string')) kind = 'id';
    return { name, schema: property, required: required.has(name), kind };
  });
}

/** The form's text as the payload JSON: numbers as numbers, empty fields left out. */
function payloadOf(fields: Field[], values: Record<string, string | boolean>): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  for (const field of fields) {
    const raw = values[field.name];
    if (field.kind === 'boolean') {
      if (raw !== undefined) payload[field.name] = raw === true;
      continue;
    }
    if (typeof raw !== 'string' || raw === '') continue;
    if (field.kind === 'integer' || field.kind === 'number') payload[field.name] = raw.trim() !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
    else if (field.kind === 'id') payload[field.name] = /^-?\d{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    else if (field.kind === 'json') {
      try {
        payload[field.name] = JSON.parse(raw);
      } catch {
        payload[field.name] = raw;
      }
    } else payload[field.name] = raw;
  }
  return payload;
}

export interface SchemaFormProps {
  idPrefix: string;
  schema: JsonSchema;
  onSubmit: (payload: Record<string, unknown>) => void;
  submitLabel: string;
  busy: boolean;
  /** Extra fields rendered before the button (log line, idempotency key). */
  children?: ComponentChildren;
}

export function SchemaForm({ idPrefix, schema, onSubmit, submitLabel, busy, children }: SchemaFormProps) {
  const fields = useMemo(() => fieldsOf(schema), [schema]);
  const validate = useMemo(() => payloadValidator(createSchemaCompiler().compile(schema)), [schema]);
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const [errors, setErrors] = useState<readonly PayloadError[]>([]);
  const errorFor = (name: string): PayloadError | undefined => errors.find((e) => e.field === `/payload/${name}`);
  const formErrors = errors.filter((e) => !fields.some((f) => e.field === `/payload/${f.name}`));
  const set = (name: string, value: string | boolean): void => setValues((current) => ({ ...current, [name]: value }));
  return (
    <form
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        const payload = payloadOf(fields, values);
        const checked = validate(payload);
        if (!checked.ok) {
          setErrors(checked.errors);
          const first = checked.errors[0];
          const name = first?.field.replace(/^\/payload\/?/, '').split('/')[0];
          document.getElementById(`${idPrefix}-${name ?? ''}`)?.focus();
          return;
        }
        setErrors([]);
        onSubmit(payload);
      }}
    >
      <fieldset>
        <legend>Payload</legend>
        {fields.map((field) => {
          const id = `${idPrefix}-${field.name}`;
          const error = errorFor(field.name);
          const hint = typeof field.schema.description === 'string' ? field.schema.description : hintOf(field);
          const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
          const common = { id, name: field.name, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy, 'aria-required': field.required };
          return (
            <div class="field" key={field.name}>
              <label for={id}>{field.name}{field.required && <span aria-hidden="true"> *</span>}</label>
              {field.kind === 'boolean' ? (
                <input {...common} type="checkbox" checked={values[field.name] === true} onChange={(e) => set(field.name, e.currentTarget.checked)} />
              ) : field.kind === 'enum' ? (
                <select {...common} value={String(values[field.name] ?? '')} onChange={(e) => set(field.name, e.currentTarget.value)}>
                  <option value="">(leave out)</option>
                  {(field.schema.enum as unknown[]).map((option) => <option key={String(option)} value={String(option)}>{String(option)}</option>)}
                </select>
              ) : field.kind === 'json' ? (
                <textarea {...common} rows={3} spellcheck={false} value={String(values[field.name] ?? '')} onInput={(e) => set(field.name, e.currentTarget.value)} />
              ) : (
                <input
                  {...common}
                  type="text"
                  inputMode={field.kind === 'email' ? 'email' : field.kind === 'integer' || field.kind === 'id' ? 'numeric' : field.kind === 'number' ? 'decimal' : undefined}
                  autoComplete="off"
                  spellcheck={false}
                  value={String(values[field.name] ?? '')}
                  onInput={(e) => set(field.name, e.currentTarget.value)}
                />
              )}
              {hint && <p id={`${id}-hint`} class="muted small">{hint}</p>}
              {error && <p id={`${id}-error`} class="error small">{field.name} {error.message}</p>}
            </div>
          );
        })}
        {formErrors.length > 0 && (
          <ul class="error" role="alert">
            {formErrors.map((e) => <li key={e.field + e.message}>{e.field === '/payload' ? 'payload' : e.field} {e.message}</li>)}
          </ul>
        )}
        {errors.length > 0 && formErrors.length === 0 && <p class="error" role="alert">Fix the fields marked above: {errors.length} problem{errors.length === 1 ? '' : 's'}.</p>}
      </fieldset>
      {children}
      <button type="submit" disabled={busy}>{submitLabel}</button>
    </form>
  );
}

function hintOf(field: Field): string | undefined {
  const s = field.schema;
  const parts: string[] = [];
  if (field.kind === 'email') parts.push('an email address');
  if (field.kind === 'id') parts.push('a whole number');
  if (typeof s.minLength === 'number' && typeof s.maxLength === 'number') parts.push(`${s.minLength} to ${s.maxLength} characters`);
  else if (typeof s.maxLength === 'number') parts.push(`at most ${s.maxLength} characters`);
  if (field.kind === 'json') parts.push('JSON');
  return parts.length > 0 ? parts.join(', ') : undefined;
}
