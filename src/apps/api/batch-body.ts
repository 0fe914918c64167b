/**
 * The body of POST /execute/batch: `{ "commands": [ ... ] }`, nothing else. The document states
 * it whole (each item a `Command`); the server checks the frame here and each item on its own
 * (CommandSchemas), so one bad item is rejected in its result instead of failing the batch.
 */
import { createSchemaCompiler } from '../../commands/payload.ts';
import { ref } from '../../contract/schemas.ts';
import { commandComponent } from './command-schemas.ts';
import { problem } from './problems.ts';
import { validationProblem } from './validation.ts';

const frame = (items: Record<string, unknown>, maxItems?: number): Record<string, unknown> => ({
  type: 'object',
  required: ['commands'],
  additionalProperties: false,
  properties: { commands: { type: 'array', minItems: 1, ...(maxItems === undefined ? {} : { maxItems }), items } },
});

export function batchBody(maxItems: number): { documented: Record<string, unknown>; check: (body: unknown) => unknown[] } {
  const validateFrame = createSchemaCompiler().compile(frame({}));
  return {
    documented: frame(ref(commandComponent), maxItems),
    check(body) {
      if (!validateFrame(body)) throw validationProblem(validateFrame.errors ?? [], 'body');
      const { commands } = body as { commands: unknown[] };
      if (commands.length > maxItems) {
        throw problem('batch_too_large', `a batch holds at most ${maxItems} commands (got ${commands.length})`, '/commands');
      }
      return commands;
    },
  };
}
