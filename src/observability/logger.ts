/** Kitsune's own logs: structured JSON lines on stdout (pino), one logger per process. */
import { pino, type Logger } from 'pino';

export function createLogger(options: { level: string; service: string; role: string }): Logger {
  return pino({
    level: options.level,
    base: { service: options.service, role: options.role },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
