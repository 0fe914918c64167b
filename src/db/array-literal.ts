/**
 * A bound value as pg sends it, with arrays encoded in one pass. pg builds an array parameter's
 * literal by appending element after element to a string and escaping each with two regular
 * expressions (`arrayString`): for the DB worker's set statements, a dozen arrays of up to 500
 * elements per batch, that was about a sixth of everything the worker allocated per event
 * (decision 0050), and allocation is what fills its heap and costs its young-generation
 * collections. The literal here is the same text, byte for byte: elements that are strings,
 * numbers, bigints, booleans, null or Buffers; any other element (a Date, an object, a nested
 * array) leaves the whole array to pg.
 */
import pgUtils from 'pg/lib/utils.js';

const needsEscape = /["\\]/;
const escapable = /["\\]/g;

/** `value` encoded for a Bind message, exactly as pg's `prepareValue` encodes it. */
export function bindValue(value: unknown): string | Buffer | null {
  if (!Array.isArray(value)) return pgUtils.prepareValue(value);
  const elements = new Array<string>(value.length);
  for (let i = 0; i < value.length; i++) {
    const element: unknown = value[i];
    if (element === null || element === undefined) elements[i] = 'NULL';
    else if (typeof element === 'string') elements[i] = quoted(element);
    else if (typeof element === 'number' || typeof element === 'bigint' || typeof element === 'boolean') elements[i] = quoted(String(element));
    else if (Buffer.isBuffer(element)) elements[i] = `\\\\x${element.toString('hex')}`;
    else return pgUtils.prepareValue(value);
  }
  return `{${elements.join(',')}}`;
}

function quoted(text: string): string {
  return needsEscape.test(text) ? `"${text.replace(escapable, '\\$&')}"` : `"${text}"`;
}
