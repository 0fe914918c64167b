/**
 * The request bodies every ingest and end-to-end run sends: the seed's create_user with a log
 * line, a unique email per command (the users table has a unique email, so a repeated one would
 * be dead-lettered, not applied) and no idempotency key (each request is a new event).
 */

export type BodyKind = 'execute' | 'batch';

export interface CommandSource {
  /** One create_user command as a plain object. */
  command(): Record<string, unknown>;
  /** A request body: one command for /execute, `batchSize` of them for /execute/batch. */
  body(kind: BodyKind, batchSize: number): string;
}

/** `scope` keeps emails unique across processes and runs (e.g. the run id and the pid). */
export function commandSource(scope: string): CommandSource {
  let sequence = 0;
  const command = (): Record<string, unknown> => {
    const n = sequence++;
    return {
      command: 'create_user',
      version: '1',
      payload: { name: `Bench User ${n}`, email: `u${n}.${scope}@bench.example.com` },
      log: { level: 'INFO', message: `create_user accepted for bench user ${n}` },
      metadata: { source: 'bench' },
    };
  };
  return {
    command,
    body: (kind, batchSize) => JSON.stringify(kind === 'execute' ? command() : { commands: Array.from({ length: batchSize }, command) }),
  };
}

export const pathOf = (kind: BodyKind): string => (kind === 'execute' ? '/execute' : '/execute/batch');
