// pg exports its lib/ files but ships no types for them; this is the one function Kitsune uses.
declare module 'pg/lib/utils.js' {
  /** How pg turns a bound value into wire text: null stays null, Buffers pass, objects become JSON, arrays array literals. */
  function prepareValue(value: unknown): string | Buffer | null;
  const utils: { prepareValue: typeof prepareValue };
  export default utils;
}
