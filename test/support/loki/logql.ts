/**
 * The part of LogQL the test server evaluates: a stream selector with `=`, `!=`, `=~`, `!~`,
 * followed by any number of line filters (`|=`, `!=`, `|~`, `!~`) and label filters on stream
 * labels or structured metadata (`| trace_id="abc"`, same four operators).
 *
 * Limits: no parsers (`| json`, `| logfmt`), formatters or metric queries; they are rejected with
 * 400 saying so. Regexes are Go RE2 in Loki and JavaScript here: label matchers are anchored
 * (`^(?:re)$`) as in Loki, line filters are not, and a leading `(?i)` becomes the `i` flag; other
 * RE2-only syntax fails to compile and is answered with 400.
 */
import { LokiHttpError } from './http.ts';

export const MatchOps = { EQ: '=', NEQ: '!=', RE: '=~', NRE: '!~' } as const;
export type MatchOp = (typeof MatchOps)[keyof typeof MatchOps];
const matchOps = new Map<string, MatchOp>(Object.values(MatchOps).map((op) => [op, op]));

export const LineFilterOps = { CONTAINS: '|=', NOT_CONTAINS: '!=', MATCHES: '|~', NOT_MATCHES: '!~' } as const;
export type LineFilterOp = (typeof LineFilterOps)[keyof typeof LineFilterOps];

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
  /** An absent label matches as the empty string, as in Loki. */
  matches(value: string | undefined): boolean;
}

export interface LineFilter {
  readonly op: LineFilterOp;
  readonly value: string;
  matches(line: string): boolean;
}

export interface LogQuery {
  readonly selector: readonly LabelMatcher[];
  readonly lineFilters: readonly LineFilter[];
  /** Applied to stream labels and structured metadata together. */
  readonly labelFilters: readonly LabelMatcher[];
}

type Token =
  | { kind: 'punct'; text: '{' | '}' | ',' | '|' }
  | { kind: 'op'; text: '=' | '!=' | '=~' | '!~' | '|=' | '|~' }
  | { kind: 'ident'; text: string }
  | { kind: 'string'; text: string };

function parseError(message: string): LokiHttpError {
  return new LokiHttpError(400, `parse error : ${message}`);
}

function compile(pattern: string, anchored: boolean): RegExp {
  let source = pattern;
  let flags = '';
  const inline = /^\(\?([is]+)\)/.exec(source);
  if (inline !== null) {
    flags = inline[1] ?? '';
    source = source.slice(inline[0].length);
  }
  try {
    return new RegExp(anchored ? `^(?:${source})$` : source, flags);
  } catch (error) {
    throw parseError(`invalid regex ${JSON.stringify(pattern)}: ${(error as Error).message}`);
  }
}

function readString(query: string, start: number): { text: string; end: number } {
  const quote = query[start];
  if (quote === '`') {
    const end = query.indexOf('`', start + 1);
    if (end < 0) throw parseError('unterminated raw string');
    return { text: query.slice(start + 1, end), end: end + 1 };
  }
  let i = start + 1;
  while (i < query.length && query[i] !== '"') i += query[i] === '\\' ? 2 : 1;
  if (i >= query.length) throw parseError('unterminated string');
  try {
    return { text: JSON.parse(query.slice(start, i + 1)) as string, end: i + 1 };
  } catch {
    throw parseError(`invalid string ${query.slice(start, i + 1)}`);
  }
}

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query[i] ?? '';
    const two = query.slice(i, i + 2);
    if (/\s/.test(c)) {
      i += 1;
    } else if (two === '!=' || two === '=~' || two === '!~' || two === '|=' || two === '|~') {
      tokens.push({ kind: 'op', text: two });
      i += 2;
    } else if (c === '=') {
      tokens.push({ kind: 'op', text: '=' });
      i += 1;
    } else if (c === '{' || c === '}' || c === ',' || c === '|') {
      tokens.push({ kind: 'punct', text: c });
      i += 1;
    } else if (c === '"' || c === '`') {
      const { text, end } = readString(query, i);
      tokens.push({ kind: 'string', text });
      i = end;
    } else {
      const ident = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(query.slice(i));
      if (ident === null) throw parseError(`unexpected character ${JSON.stringify(c)} at position ${i}`);
      tokens.push({ kind: 'ident', text: ident[0] });
      i += ident[0].length;
    }
  }
  return tokens;
}

function labelMatcher(name: string, op: MatchOp, value: string): LabelMatcher {
  if (op === MatchOps.EQ) return { name, op, value, matches: (v) => (v ?? '') === value };
  if (op === MatchOps.NEQ) return { name, op, value, matches: (v) => (v ?? '') !== value };
  const re = compile(value, true);
  const positive = op === MatchOps.RE;
  return { name, op, value, matches: (v) => re.test(v ?? '') === positive };
}

function lineFilter(op: LineFilterOp, value: string): LineFilter {
  if (op === LineFilterOps.CONTAINS) return { op, value, matches: (line) => line.includes(value) };
  if (op === LineFilterOps.NOT_CONTAINS) return { op, value, matches: (line) => !line.includes(value) };
  const re = compile(value, false);
  const positive = op === LineFilterOps.MATCHES;
  return { op, value, matches: (line) => re.test(line) === positive };
}

class Parser {
  readonly #tokens: Token[];
  #at = 0;

  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  done(): boolean {
    return this.#at >= this.#tokens.length;
  }

  peek(ahead = 0): Token | undefined {
    return this.#tokens[this.#at + ahead];
  }

  next(expected: string): Token {
    const token = this.#tokens[this.#at];
    if (token === undefined) throw parseError(`unexpected end of query, expected ${expected}`);
    this.#at += 1;
    return token;
  }

  expect(kind: Token['kind'], expected: string, text?: string): Token {
    const token = this.next(expected);
    if (token.kind !== kind || (text !== undefined && token.text !== text)) {
      throw parseError(`unexpected ${JSON.stringify(token.text)}, expected ${expected}`);
    }
    return token;
  }

  matcher(): LabelMatcher {
    const name = this.expect('ident', 'a label name').text;
    const op = this.expect('op', 'one of = != =~ !~').text;
    const matchOp = matchOps.get(op);
    if (matchOp === undefined) throw parseError(`unexpected ${op} after label ${name}`);
    return labelMatcher(name, matchOp, this.expect('string', 'a quoted value').text);
  }
}

/** Parses a log query, or throws a 400 LokiHttpError. */
export function parseLogQuery(query: string): LogQuery {
  const parser = new Parser(tokenize(query));
  parser.expect('punct', '{', '{');
  const selector: LabelMatcher[] = [];
  const isPunct = (token: Token | undefined, text: string): boolean => token?.kind === 'punct' && token.text === text;
  while (!isPunct(parser.peek(), '}')) {
    selector.push(parser.matcher());
    if (!isPunct(parser.peek(), ',')) break;
    parser.next(',');
  }
  parser.expect('punct', '}', '}');
  if (!selector.some((m) => (m.op === MatchOps.EQ || m.op === MatchOps.RE) && !m.matches(''))) {
    throw parseError(
      'queries require at least one regexp or equality matcher that does not have an empty-compatible value. ' +
        'For instance, app=~".*" does not meet this requirement, but app=~".+" will',
    );
  }
  const lineFilters: LineFilter[] = [];
  const labelFilters: LabelMatcher[] = [];
  while (!parser.done()) {
    const token = parser.next('a pipeline stage');
    if (token.kind === 'op' && (token.text === '|=' || token.text === '!=' || token.text === '|~' || token.text === '!~')) {
      lineFilters.push(lineFilter(token.text, parser.expect('string', 'a quoted filter').text));
    } else if (token.kind === 'punct' && token.text === '|') {
      const stage = parser.peek();
      if (stage?.kind !== 'ident') throw parseError(`unexpected ${stage === undefined ? 'end of query' : JSON.stringify(stage.text)} after |`);
      if (parser.peek(1)?.kind !== 'op') throw parseError(`the "${stage.text}" stage is not supported by the Loki test server`);
      labelFilters.push(parser.matcher());
    } else {
      throw parseError(`unexpected ${JSON.stringify(token.text)}; only line filters and label filters may follow the selector`);
    }
  }
  return { selector, lineFilters, labelFilters };
}
