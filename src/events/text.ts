/**
 * Strings PostgreSQL cannot hold as they are: U+0000 (refused in `text` and `jsonb`, SQLSTATE
 * 22021 / 22P05) and lone surrogates (not well-formed UTF-16: there is no UTF-8 for them, so pg
 * sends U+FFFD instead and two different values become one, or `jsonb` refuses the escape).
 * Records from any producer can carry both, so every string from a record is checked before it
 * is trusted, and escaped before it is stored or put in a header as a diagnostic.
 */

/** U+0000, a high surrogate without its low half, or a low surrogate without its high half. */
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what this looks for
const unstorablePattern = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unstorableGlobal = new RegExp(unstorablePattern.source, 'g');

const codePoint = (unit: string): string => `U+${unit.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

/** What makes `text` unstorable ("contains U+0000", "contains a lone surrogate U+D800"), or undefined. */
export function unstorableIn(text: string): string | undefined {
  const found = unstorablePattern.exec(text);
  if (!found) return undefined;
  return found[0] === '\u0000' ? 'contains U+0000' : `contains a lone surrogate ${codePoint(found[0])}`;
}

/**
 * `text` with each unstorable code unit written as the six characters `\uXXXX`, so PostgreSQL,
 * Kafka headers and the Postgres log all take it. For diagnostics and dead-letter fields: an
 * escaped value cannot be told from one that contained the backslash sequence itself; the raw
 * record, kept as bytes in the DLQ, is the exact original.
 */
export function storable(text: string): string {
  if (!unstorablePattern.test(text)) return text;
  return text.replace(unstorableGlobal, (unit) => `\\u${unit.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
}

/** At most `max` UTF-16 units, without leaving half a surrogate pair at the end. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** A value from a record, quoted for an error message: escaped and at most 64 characters. */
export const quoted = (text: string): string => `'${storable(truncate(text, 64))}'`;
