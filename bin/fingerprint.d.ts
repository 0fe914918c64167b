/** Every file under `dir` (relative path) with its size and modification time. */
export function sourceFingerprint(dir: string): Record<string, string>;
/** True when `built` (a build's recorded fingerprint) matches `dir` now, file for file. */
export function fingerprintMatches(built: Record<string, string>, dir: string): boolean;
