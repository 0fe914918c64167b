/**
 * Several statements in one round trip. pg sends a statement and waits for its answer before it
 * sends the next, so N statements cost N round trips; on loopback that wait, not PostgreSQL's
 * work, is most of a small INSERT. A pipeline writes Parse/Bind/Describe/Execute for every
 * statement and a single Sync, then reads the answers in order.
 *
 * It is a pg Submittable (the extension point pg-cursor and pg-query-stream use), so it queues
 * on the client like any query and encodes with pg's own wire writer, value conversion and type
 * parsers: a value binds, and a column parses, exactly as `client.query` would do it.
 *
 * One Sync means one unit: the statements run in order, and the first error makes the server
 * skip the rest. Outside a transaction they commit or roll back together; inside one, the
 * transaction is aborted as after any failed statement.
 *
 * A statement with a `name` is prepared once per connection and then only bound and executed:
 * PostgreSQL parses and plans it once instead of on every batch. It is recorded on the connection
 * (where pg keeps its own named statements) only when the server confirms its Parse, so a
 * pipeline that fails before it leaves nothing half-known. Statements without a name are parsed
 * each time and leave no server-side state.
 */
import pg from 'pg';
import { bindValue } from './array-literal.ts';

export interface PipelineStatement {
  text: string;
  values?: readonly unknown[];
  /** Prepared once per connection under this name (unique per text). (Default: unnamed) */
  name?: string;
}

/** pg's record of the statements prepared on a connection: name → text. */
const preparedOn = (connection: pg.Connection): Record<string, string> => (connection as unknown as { parsedStatements: Record<string, string> }).parsedStatements;

/**
 * Forgets every named statement of the client's connection, on the server and in pg's record:
 * after a failure that may come from a stale one (a table changed under a cached plan).
 */
export async function forgetPreparedStatements(client: pg.ClientBase): Promise<void> {
  await client.query('DEALLOCATE ALL');
  const prepared = preparedOn((client as unknown as { connection: pg.Connection }).connection);
  for (const name of Object.keys(prepared)) delete prepared[name];
}

export interface PipelineResult<Row = Record<string, unknown>> {
  /** The command tag's verb: INSERT, UPDATE, SELECT, ... */
  command: string;
  /** Rows the statement affected or returned; null for commands without a count. */
  rowCount: number | null;
  rows: Row[];
}

/** The statement at `index` failed; statements before it ran (their results are kept), those after it were skipped. */
export class PipelineError extends Error {
  readonly code = 'KITSUNE_PIPELINE_STATEMENT_FAILED';
  constructor(
    readonly index: number,
    options: { cause: unknown },
    readonly results: readonly PipelineResult[] = [],
  ) {
    super(`statement ${index} of the pipeline failed: ${(options.cause as Error).message}`, options);
  }
}

/** Runs the statements in one round trip; resolves with one result per statement, in order. */
export function runPipeline<Row = Record<string, unknown>>(
  client: pg.ClientBase,
  statements: readonly PipelineStatement[],
): Promise<PipelineResult<Row>[]> {
  if (statements.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    client.query(new Pipeline(statements, resolve as (results: PipelineResult[]) => void, reject));
  });
}

// The backend messages pg hands a Submittable (pg-protocol's shapes, reduced to what is read here).
interface FieldDescription {
  name: string;
  dataTypeID: number;
  format: 'text' | 'binary';
}
interface RowDescriptionMessage {
  fields: FieldDescription[];
}
interface DataRowMessage {
  fields: (string | null)[];
}
interface CommandCompleteMessage {
  text: string;
}

// pg's typings return `any` for a parser; a text column's parser takes the column's text.
const textParser = pg.types.getTypeParser as (oid: number, format?: 'text') => (value: string) => unknown;

/** What runPipeline hands the client; exported so a client wrapper can inspect the statements it is asked to run. */
export class Pipeline implements pg.Submittable {
  readonly statements: readonly PipelineStatement[];
  readonly #resolve: (results: PipelineResult[]) => void;
  readonly #reject: (error: Error) => void;
  readonly #results: PipelineResult[] = [];
  #fields: FieldDescription[] = [];
  #parsers: ((value: string) => unknown)[] = [];
  #rows: Record<string, unknown>[] = [];
  /** A row that could not be parsed, and its statement; the answer is still read to the end before rejecting. */
  #parseError: { index: number; cause: unknown } | undefined;
  #settled = false;
  /** Stops following the connection's ParseComplete messages. */
  #detach: () => void = () => undefined;

  constructor(statements: readonly PipelineStatement[], resolve: (results: PipelineResult[]) => void, reject: (error: Error) => void) {
    this.statements = statements;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Called by the client when the pipeline's turn comes. Returning an Error fails it before anything is sent. */
  submit(connection: pg.Connection): Error | undefined {
    let bound: (string | Buffer | null)[][];
    try {
      bound = this.statements.map((statement) => (statement.values ?? []).map(bindValue));
    } catch (error) {
      return new PipelineError(0, { cause: error });
    }
    const prepared = preparedOn(connection);
    // The named statement each Parse sent prepares ('' for unnamed), in order: ParseComplete answers them in turn.
    const parsing: { name: string; text: string }[] = [];
    for (const { name, text } of this.statements) {
      if (name && prepared[name] !== undefined && prepared[name] !== text) return new PipelineError(0, { cause: new Error(`prepared statement ${name} was used for another text`) });
    }
    const onParseComplete = (): void => {
      const next = parsing.shift();
      if (next?.name) prepared[next.name] = next.text;
    };
    connection.on('parseComplete', onParseComplete);
    this.#detach = () => connection.off('parseComplete', onParseComplete);
    // Corked, the whole pipeline leaves in as few TCP segments as the socket allows.
    connection.stream.cork();
    try {
      this.statements.forEach((statement, index) => {
        const name = statement.name ?? '';
        // A name already sent in this pipeline is parsed by then (the server handles messages in order).
        if (!name || (prepared[name] === undefined && !parsing.some((p) => p.name === name))) {
          parsing.push({ name, text: statement.text });
          connection.parse({ name, text: statement.text, types: [] }, true);
        }
        connection.bind({ portal: '', statement: name, values: bound[index] }, true);
        connection.describe({ type: 'P', name: '' }, true);
        connection.execute({ portal: '', rows: undefined }, true);
      });
      connection.sync();
    } finally {
      connection.stream.uncork();
    }
    return undefined;
  }

  handleRowDescription(message: RowDescriptionMessage): void {
    this.#fields = message.fields;
    // Results are always requested in text format (Bind asks for no binary columns).
    this.#parsers = message.fields.map((field) => textParser(field.dataTypeID));
  }

  handleDataRow(message: DataRowMessage): void {
    if (this.#parseError !== undefined) return;
    try {
      const row: Record<string, unknown> = {};
      message.fields.forEach((raw, i) => {
        row[this.#fields[i]!.name] = raw === null ? null : this.#parsers[i]!(raw);
      });
      this.#rows.push(row);
    } catch (error) {
      this.#parseError = { index: this.#results.length, cause: error };
    }
  }

  handleCommandComplete(message: CommandCompleteMessage): void {
    const words = message.text.split(' ');
    const last = words.at(-1) ?? '';
    this.#results.push({
      command: words[0] ?? '',
      rowCount: words.length > 1 && /^\d+$/.test(last) ? Number(last) : null,
      rows: this.#rows,
    });
    this.#fields = [];
    this.#parsers = [];
    this.#rows = [];
  }

  handleEmptyQuery(): void {
    this.#results.push({ command: '', rowCount: null, rows: [] });
  }

  /** A backend error, or a client-side one (connection lost); the client expects no more calls after it. */
  handleError(error: Error): void {
    this.#settle(new PipelineError(this.#results.length, { cause: error }, this.#results));
  }

  handleReadyForQuery(): void {
    const parseError = this.#parseError;
    this.#settle(parseError ? new PipelineError(parseError.index, { cause: parseError.cause }, this.#results.slice(0, parseError.index)) : undefined);
  }

  handlePortalSuspended(): void {
    // Never sent: every Execute asks for all rows.
  }

  handleCopyInResponse(connection: pg.Connection): void {
    // COPY FROM STDIN needs a data source a pipeline does not have; the server then reports an error.
    (connection as unknown as { sendCopyFail(message: string): void }).sendCopyFail('COPY FROM STDIN is not supported in a pipeline');
  }

  handleCopyData(): void {
    // COPY TO STDOUT output is not collected.
  }

  #settle(error: Error | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#detach();
    if (error) this.#reject(error);
    else this.#resolve(this.#results);
  }
}
