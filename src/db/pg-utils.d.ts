// pg exports its lib/ files but ships no types for them; this is the one function Kitsune uses.
declare module 'pg/lib/utils.js' {
  const utils: {
    /** How pg turns a bound value into wire text: null stays null, Buffers pass, objects become JSON, arrays array literals. */
    prepareValue(value: unknown): string | Buffer | null;
  };
  export default utils;
}
