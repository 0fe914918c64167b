/** Kitsune's version, from package.json (two levels up from src/cli and from dist/cli alike). */
import { readFileSync } from 'node:fs';

export function kitsuneVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}
