/**
 * The ingest baseline: a bare Fastify handler that parses the same JSON body and answers 202,
 * with no validation and no broker. Run in its own process, like the API it is compared with.
 */
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';

const app = Fastify({ logger: false });
app.post('/execute', (request, reply) => {
  const id = randomUUID();
  void request.body;
  return reply.code(202).send({ id, status: 'accepted', idempotency_key: id, links: { self: `/events/${id}` } });
});
const url = await app.listen({ port: Number(process.env.HTTP_PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${url}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
