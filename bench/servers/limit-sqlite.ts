// The limit: what node:http and better-sqlite3 do for the same reads with nothing else on the path. It opens the
// benchmark's SQLite file read-only, reads with prepared statements, maps rows with the server's own mapper and
// answers the same JSON envelope (nextCursor included on lists). No validation, auth, logging or identity checks.
import { createServer } from 'node:http';
import Database from 'better-sqlite3';
import { toMachine, type MachineRow } from '../../src/modules/machines/repo.ts';
import { encodeCursor } from '../../src/store/pages.ts';

const db = new Database(process.env.BENCH_DB!, { readonly: true });
const byId = db.prepare('select * from machines where id = ?');
const firstPage = db.prepare('select * from machines order by created_at, id limit ?');

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  let body: string;
  if (url === '/health') body = '{"ok":true}';
  else if (url.startsWith('/api/v1/machines?')) {
    const limit = Number(new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('limit') ?? 100);
    const rows = firstPage.all(limit + 1) as MachineRow[];
    const items = rows.slice(0, limit).map(toMachine);
    const last = items[items.length - 1];
    body = JSON.stringify({
      items,
      ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.createdAt, last.id) } : {}),
    });
  } else if (url.startsWith('/api/v1/machines/')) {
    const row = byId.get(decodeURIComponent(url.slice('/api/v1/machines/'.length))) as MachineRow | undefined;
    if (!row) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"NOT_FOUND","message":"Machine not found."}}');
      return;
    }
    body = JSON.stringify({ item: toMachine(row) });
  } else {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  res.end(body);
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.error(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
