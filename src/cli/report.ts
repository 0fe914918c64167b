/**
 * How a command that failed is reported: one line on stderr that names the fix, and an exit code
 * from the table in exit-codes.ts. The stack trace (and the causes) only with --verbose, since it
 * buries the fix for a user and helps only whoever debugs Kitsune.
 */
import { inspect } from 'node:util';
import { ErrorCodes, KitsuneError, toError } from '../errors.ts';
import { CliError, ExitCodes, type ExitCode } from './exit-codes.ts';

/** One line: multi-line messages (a config or registry with several problems) joined by "; ". */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim().replace(/^-\s+/, ''))
    .filter((line) => line !== '')
    .join('; ')
    .replace(/:;/g, ':');
}

/** The exit code for `error`, read from its class and code, never from its message. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof KitsuneError) {
    switch (error.code) {
      case ErrorCodes.INVALID_CONFIG:
        return ExitCodes.config;
      // A schema the schema registry refused is fixed in the registry file too.
      case ErrorCodes.REGISTRY_INVALID:
      case ErrorCodes.SCHEMA_REFUSED:
        return ExitCodes.registry;
      default:
        return ExitCodes.failed;
    }
  }
  // node:util parseArgs: an unknown option, a missing value, an unexpected argument.
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) return ExitCodes.usage;
  return ExitCodes.internal;
}

/** The line to print for `error` raised by `kitsune <command>`, and the code to exit with. */
export function describeFailure(error: unknown, command: string | undefined, verbose: boolean): { code: ExitCode; text: string } {
  const code = exitCodeOf(error);
  const prefix = command === undefined ? 'kitsune' : `kitsune ${command}`;
  const message = oneLine(toError(error).message);
  let line = message.startsWith('kitsune') ? message : `${prefix}: ${message}`;
  if (code === ExitCodes.usage && !/--help/.test(line)) line += ` (${prefix} --help)`;
  if (code === ExitCodes.internal) {
    line = `${prefix}: internal error: ${message}. This is a bug in Kitsune${verbose ? '' : '; run again with --verbose for the stack trace'}`;
  }
  const details = verbose ? `\n${inspect(error, { depth: 6 })}` : '';
  return { code, text: `${line}${details}\n` };
}
