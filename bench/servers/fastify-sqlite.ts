// A peer: fastify 5 doing the same reads as the limit server (prepared better-sqlite3 statements, the server's row
// mapper) behind route schemas for the path and query parameters, as a user could build it instead.
import Fastify from 'fastify';
import Database from 'better-sqlite3';
import { toMachine, type MachineRow } from '../../src/modules/machines/repo.ts';
import { encodeCursor } from '../../src/store/pages.ts';

const db = new Database(process.env.BENCH_DB!, { readonly: true });
const byId = db.prepare('select * from machines where id = ?');
const firstPage = db.prepare('select * from machines order by created_at, id limit ?');
const app = Fastify({ logger: false });

app.get('/health', async () => ({ ok: true }));
app.get<{ Params: { machineId: string } }>(
  '/api/v1/machines/:machineId',
  {
    schema: {
      params: {
        type: 'object',
        required: ['machineId'],
        properties: { machineId: { type: 'string', minLength: 1, maxLength: 128 } },
      },
    },
  },
  async (req, reply) => {
    const row = byId.get(req.params.machineId) as MachineRow | undefined;
    if (!row) return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'Machine not found.' } });
    return { item: toMachine(row) };
  },
);
app.get<{ Querystring: { limit?: number } }>(
  '/api/v1/machines',
  {
    schema: {
      querystring: {
        type: 'object',
        properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
      },
    },
  },
  async (req) => {
    const limit = req.query.limit ?? 100;
    const rows = firstPage.all(limit + 1) as MachineRow[];
    const items = rows.slice(0, limit).map(toMachine);
    const last = items[items.length - 1];
    return { items, ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.createdAt, last.id) } : {}) };
  },
);

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.error(`listening on ${address}`);
