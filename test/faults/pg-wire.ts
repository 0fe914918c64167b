/**
 * Just enough of PostgreSQL's frontend wire protocol (protocol 3.0, "Message Formats") to find
 * message boundaries in what a client sends, and the SQL text of Query ('Q') and Parse ('P').
 *
 * The first message of a connection has no type byte (StartupMessage, SSLRequest,
 * GSSENCRequest, CancelRequest: an Int32 length, then an Int32 code); every later one is a type
 * byte, an Int32 length that counts itself, and a body. SSLRequest and GSSENCRequest are
 * followed by another untyped message, the real StartupMessage, once the server said 'N'.
 */

export interface FrontendMessage {
  /** The type byte as a character; '' for an untyped start-up message. */
  type: string;
  /** The whole message, header included, as it goes on the wire. */
  bytes: Buffer;
}

const sslRequestCode = 80_877_103;
const gssEncRequestCode = 80_877_104;

/** Splits a client's byte stream into messages, however the chunks fall. */
export class FrontendMessageReader {
  #pending: Buffer = Buffer.alloc(0);
  #untyped = true;

  /** Adds a chunk; returns every message now complete, in order. */
  push(chunk: Buffer): FrontendMessage[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const messages: FrontendMessage[] = [];
    for (;;) {
      const headerLength = this.#untyped ? 4 : 5;
      if (this.#pending.length < headerLength) break;
      const length = this.#untyped ? this.#pending.readInt32BE(0) : this.#pending.readInt32BE(1) + 1;
      if (this.#pending.length < length) break;
      const bytes = this.#pending.subarray(0, length);
      this.#pending = this.#pending.subarray(length);
      if (this.#untyped) {
        const code = bytes.length >= 8 ? bytes.readInt32BE(4) : 0;
        // Encryption requests are answered 'N' or 'S'/'G'; the start-up message comes next, untyped.
        this.#untyped = code === sslRequestCode || code === gssEncRequestCode;
        messages.push({ type: '', bytes });
      } else {
        messages.push({ type: String.fromCharCode(bytes[0]!), bytes });
      }
    }
    return messages;
  }
}

/** The SQL of a Query or Parse message; undefined for any other. */
export function sqlOf(message: FrontendMessage): string | undefined {
  if (message.type === 'Q') return cString(message.bytes, 5).text;
  if (message.type === 'P') {
    const name = cString(message.bytes, 5);
    return cString(message.bytes, name.next).text;
  }
  return undefined;
}

/** The parameter values of a Bind message, as text (null for SQL NULL); undefined for any other. */
export function bindValuesOf(message: FrontendMessage): Array<string | null> | undefined {
  if (message.type !== 'B') return undefined;
  const { bytes } = message;
  let at = cString(bytes, cString(bytes, 5).next).next;
  const formatCount = bytes.readInt16BE(at);
  at += 2 + 2 * formatCount;
  const valueCount = bytes.readInt16BE(at);
  at += 2;
  const values: Array<string | null> = [];
  for (let i = 0; i < valueCount; i++) {
    const length = bytes.readInt32BE(at);
    at += 4;
    if (length < 0) {
      values.push(null);
      continue;
    }
    values.push(bytes.subarray(at, at + length).toString('utf8'));
    at += length;
  }
  return values;
}

/** The statement name a Parse prepares ('' for the unnamed one), or a Bind binds; undefined for any other message. */
export function statementNameOf(message: FrontendMessage): string | undefined {
  if (message.type === 'P') return cString(message.bytes, 5).text;
  if (message.type === 'B') return cString(message.bytes, cString(message.bytes, 5).next).text;
  return undefined;
}

function cString(bytes: Buffer, from: number): { text: string; next: number } {
  const end = bytes.indexOf(0, from);
  if (end < 0) throw new Error('malformed message: unterminated string');
  return { text: bytes.subarray(from, end).toString('utf8'), next: end + 1 };
}

/** True for COMMIT, END and COMMIT/END WORK|TRANSACTION: the statements that end a transaction by committing it. */
export const isCommit = (sql: string): boolean => /^\s*(commit|end)(\s+(work|transaction))?\s*;?\s*$/i.test(sql);
