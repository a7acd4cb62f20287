// Baseline: a bare node:http server answering the same JSON shapes the scenarios ask for.
import { createServer } from 'node:http';

const body = JSON.stringify({ item: { id: 'mch_bench', displayName: 'bench', status: 'active' } });
const server = createServer((req, res) => {
  const text = req.url === '/health' ? '{"ok":true}' : body;
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.error(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
