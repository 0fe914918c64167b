/**
 * RFC 3339 dates and date-times, read exactly as the `date` and `date-time` formats of the
 * document (ajv-formats) accept them: `t` or any space between date and time, `z` in either case,
 * offsets with or without a colon, a leap second. Date.parse reads fewer of these, so it is not used.
 */
const dateTime = /^(\d{4})-(\d{2})-(\d{2})(?:[tT\s](\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)(?:[zZ]|([+-])(\d{2})(?::?(\d{2}))?))?$/;

/** The earliest and latest instants PostgreSQL's timestamptz and JavaScript both read plainly. */
const earliest = new Date('0001-01-01T00:00:00Z').getTime();
const latest = new Date('9999-12-31T23:59:59.999Z').getTime();

/** Milliseconds since the epoch of a value the schema accepted, clamped to years 1 to 9999. */
export function timestampMs(value: string): number {
  const match = dateTime.exec(value);
  if (!match) throw new TypeError(`not an RFC 3339 date or date-time: ${value}`);
  const [, year, month, day, hours = '0', minutes = '0', seconds = '0', sign, offsetHours = '0', offsetMinutes = '0'] = match;
  const at = new Date(0);
  at.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  const offset = (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
  const ms = at.getTime() + Number(hours) * 3_600_000 + Number(minutes) * 60_000 + Math.round(Number(seconds) * 1_000) - (sign ? offset : 0);
  return Math.min(latest, Math.max(earliest, ms));
}
