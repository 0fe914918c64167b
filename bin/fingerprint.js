// What a build of src/ was made from: every file's path, size and modification time. Plain
// JavaScript, because bin/kitsune.js reads it before any TypeScript loader is registered.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** @param {string} dir @returns {Record<string, string>} relative path → "size:mtimeMs" */
export function sourceFingerprint(dir) {
  /** @type {Record<string, string>} */
  const files = {};
  const walk = (/** @type {string} */ at) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const stat = statSync(path);
        files[relative(dir, path)] = `${stat.size}:${stat.mtimeMs}`;
      }
    }
  };
  walk(dir);
  return files;
}

/** True when `built` (a build's recorded fingerprint) matches `dir` now, file for file. */
export function fingerprintMatches(built, dir) {
  const now = sourceFingerprint(dir);
  const names = Object.keys(now);
  return names.length === Object.keys(built).length && names.every((name) => built[name] === now[name]);
}
