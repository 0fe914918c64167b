/**
 * `:name` → `$n` for the registry's SQL: a small lexer, hand-written because the rewrite must
 * leave alone everything PostgreSQL does not read as code (string literals, quoted identifiers,
 * dollar quotes, comments, `::type` casts).
 *
 * Limits: it knows PostgreSQL's lexical rules, not its grammar. It assumes
 * `standard_conforming_strings = on` (the default since 9.1), so backslashes escape only inside
 * `E'...'`. A `:` directly after a letter, digit, `_` or `$` is not a parameter, so array slices
 * read as `a[lo:hi]` are left alone (write `a[:lo : :hi]` to bind both bounds). Parameter names are
 * ASCII: `[A-Za-z_][A-Za-z0-9_]*`.
 */
import { ErrorCodes, KitsuneError } from '../errors.ts';

export interface CompiledSql {
  /** The statement with `$1`, `$2`, ... in place of the `:name` parameters. */
  readonly text: string;
  /** Parameter names in `$n` order: `parameters[0]` is `$1`. A name used twice appears once. */
  readonly parameters: readonly string[];
  /** Offset in the source SQL of each parameter's first use, in `parameters` order. */
  readonly parameterOffsets: readonly number[];
}

/** The SQL cannot be compiled; `offset` is where in the source the problem starts. */
export class SqlCompileError extends KitsuneError {
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(ErrorCodes.REGISTRY_INVALID, message, { retryable: false });
    this.name = 'SqlCompileError';
    this.offset = offset;
  }
}

const identChar = /[A-Za-z0-9_$\u0080-\uffff]/;
const paramStart = /[A-Za-z_]/;
const paramChar = /[A-Za-z0-9_]/;
const dollarTag = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;
const whitespace = /\s/;

const is = (pattern: RegExp, char: string | undefined): boolean => char !== undefined && pattern.test(char);

/**
 * Rewrites `:name` parameters to `$n`, numbering names by first use. Throws SqlCompileError for an
 * unterminated literal or comment, a positional `$1` (mixing the two styles would misnumber), no
 * statement at all, or more than one statement (a trailing `;` is fine).
 */
export function compileSql(sql: string): CompiledSql {
  const parameters: string[] = [];
  const parameterOffsets: number[] = [];
  const numbers = new Map<string, number>();
  const chunks: string[] = [];
  let copiedTo = 0;
  let semicolonAt = -1;
  let sawCode = false;
  let i = 0;

  while (i < sql.length) {
    const char = sql[i] as string;
    const next = sql[i + 1];
    if (char === '-' && next === '-') {
      i = skipLineComment(sql, i);
      continue;
    }
    if (char === '/' && next === '*') {
      i = skipBlockComment(sql, i);
      continue;
    }
    if (whitespace.test(char)) {
      i += 1;
      continue;
    }
    if (semicolonAt >= 0) {
      throw new SqlCompileError('only one statement is allowed per command; remove what follows the ";"', i);
    }
    if (char !== ';') sawCode = true;
    switch (char) {
      case ';':
        semicolonAt = i;
        i += 1;
        break;
      case "'":
        i = skipQuoted(sql, i, "'", isEscapeString(sql, i));
        break;
      case '"':
        i = skipQuoted(sql, i, '"', false);
        break;
      case '$':
        i = skipDollar(sql, i);
        break;
      case ':': {
        if (next === ':') {
          i += 2; // a `::type` cast
          break;
        }
        if (is(identChar, sql[i - 1]) || !is(paramStart, next)) {
          i += 1;
          break;
        }
        let end = i + 2;
        while (is(paramChar, sql[end])) end += 1;
        const name = sql.slice(i + 1, end);
        let number = numbers.get(name);
        if (number === undefined) {
          parameters.push(name);
          parameterOffsets.push(i);
          number = parameters.length;
          numbers.set(name, number);
        }
        chunks.push(sql.slice(copiedTo, i), `$${number}`);
        copiedTo = end;
        i = end;
        break;
      }
      default:
        i += 1;
    }
  }
  if (!sawCode) throw new SqlCompileError('the SQL has no statement', 0);
  chunks.push(sql.slice(copiedTo));
  return { text: chunks.join(''), parameters, parameterOffsets };
}

function skipLineComment(sql: string, start: number): number {
  for (let i = start + 2; i < sql.length; i += 1) {
    if (sql[i] === '\n' || sql[i] === '\r') return i;
  }
  return sql.length;
}

/** PostgreSQL block comments nest: `/* a /* b *\/ still a comment *\/`. */
function skipBlockComment(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth += 1;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  throw new SqlCompileError('unterminated /* comment', start);
}

/** `E'...'` (not `someE'...'`) is the one literal where a backslash escapes the next character. */
function isEscapeString(sql: string, quoteAt: number): boolean {
  const prefix = sql[quoteAt - 1];
  return (prefix === 'E' || prefix === 'e') && !is(identChar, sql[quoteAt - 2]);
}

/** Skips `'...'` or `"..."`, where a doubled quote is an escaped quote. */
function skipQuoted(sql: string, start: number, quote: "'" | '"', backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const char = sql[i];
    if (backslashEscapes && char === '\\') {
      i += 2;
    } else if (char === quote) {
      if (sql[i + 1] !== quote) return i + 1;
      i += 2;
    } else {
      i += 1;
    }
  }
  const what = quote === "'" ? 'string literal' : 'quoted identifier';
  throw new SqlCompileError(`unterminated ${what} (missing closing ${quote})`, start);
}

/** `$tag$...$tag$` (or `$$...$$`); a `$` inside an identifier (`a$b`) is just part of it. */
function skipDollar(sql: string, start: number): number {
  if (is(identChar, sql[start - 1])) return start + 1;
  if (is(/[0-9]/, sql[start + 1])) {
    throw new SqlCompileError('positional parameters like $1 are not allowed: use :name parameters', start);
  }
  dollarTag.lastIndex = start;
  const tag = dollarTag.exec(sql)?.[0];
  if (tag === undefined) return start + 1;
  const close = sql.indexOf(tag, start + tag.length);
  if (close < 0) throw new SqlCompileError(`unterminated dollar-quoted string (missing closing ${tag})`, start);
  return close + tag.length;
}

