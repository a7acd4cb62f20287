// Baseline: a bare express route returning the same JSON.
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.get('/health', (_req, res) => void res.json({ ok: true }));
app.get(
  '/api/v1/machines/:id',
  (req, res) => void res.json({ item: { id: req.params.id, displayName: 'bench', status: 'active' } }),
);
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.error(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
