/**
 * The ingest baseline: bare Fastify handlers that parse the same JSON bodies and answer 202 with
 * the same response shapes, with no validation and no broker. Run in its own process, like the
 * API it is compared with.
 */
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';

const accepted = (id: string): Record<string, unknown> => ({ id, status: 'accepted', idempotency_key: id, links: { self: `/events/${id}` } });

const app = Fastify({ logger: false });
app.post('/execute', (request, reply) => {
  void request.body;
  return reply.code(202).send(accepted(randomUUID()));
});
app.post('/execute/batch', (request, reply) => {
  const { commands } = request.body as { commands: unknown[] };
  const results = commands.map((_, index) => ({ index, ...accepted(randomUUID()) }));
  return reply.code(202).send({ accepted: results.length, rejected: 0, results });
});
const url = await app.listen({ port: Number(process.env.HTTP_PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${url}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
