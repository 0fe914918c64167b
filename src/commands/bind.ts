/**
 * Turns a validated payload into the values for `$1..$n`. Values are always bound, never
 * interpolated into the SQL.
 *
 * - A property the payload lacks (an optional one) or sets to null binds SQL NULL.
 * - Objects and arrays bind as JSON text, for `json`/`jsonb` parameters (`:tags::jsonb`). pg would
 *   otherwise send a JS array as a PostgreSQL array literal; to fill a `text[]`, write
 *   `ARRAY(SELECT jsonb_array_elements_text(:tags::jsonb))`.
 * - Strings, numbers and booleans pass through. Limit: JSON numbers beyond 2^53 have already lost
 *   precision when the body was parsed, so large bigint ids should travel as strings.
 */
export function bindParameters(parameters: readonly string[], payload: Readonly<Record<string, unknown>>): unknown[] {
  return parameters.map((name) => {
    // Own properties only: a payload never reaches `toString` or `__proto__` on Object.prototype.
    const value = Object.hasOwn(payload, name) ? payload[name] : undefined;
    if (value === undefined || value === null) return null;
    if (typeof value === 'object') return JSON.stringify(value);
    return value;
  });
}
