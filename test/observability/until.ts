import assert from 'node:assert/strict';

/** Polls `probe` every 250 ms until it returns a value; fails after `timeoutMs` with the last error. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = `: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 250));
  }
}
