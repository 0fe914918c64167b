/**
 * Checks of numeric options and a guard for observability hooks, shared by the circuit breaker,
 * the backoff policy and the Loki client.
 */
import { ErrorCodes, KitsuneError, toError } from './errors.ts';

/**
 * Rejects a bad numeric option when its owner is built, naming the option, instead of
 * letting a NaN delay or a zero threshold surface as odd behaviour at the first failure.
 */
export function checkNumber(
  owner: string,
  name: string,
  value: number,
  rule: { min: number; integer?: boolean },
): number {
  const integer = rule.integer ?? false;
  if (!Number.isFinite(value) || value < rule.min || (integer && !Number.isInteger(value))) {
    const kind = integer ? 'an integer' : 'a number';
    throw new KitsuneError(ErrorCodes.INVALID_CONFIG, `${owner}: ${name} must be ${kind} >= ${rule.min}, got ${String(value)}`, {
      retryable: false,
    });
  }
  return value;
}

/**
 * Runs an observability hook (onRetry, onStateChange). A hook that throws is
 * reported as a process warning and otherwise ignored: a bug in logging or metrics must not change
 * whether a message is acknowledged, nor leave the breaker half-way through a state change.
 */
export function runHook(name: string, hook: () => void): void {
  try {
    hook();
  } catch (thrown) {
    process.emitWarning(toError(thrown), { type: 'KitsuneHookWarning', detail: `${name} hook threw; ignored` });
  }
}
