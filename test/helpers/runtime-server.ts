// A real local HTTP server standing in for a QVAC-style runtime: OpenAI-compatible /v1/models and
// /v1/chat/completions, an optional bearer token, and switchable failure.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRuntime {
  url: string;
  requests: Array<{ method: string; path: string; headers: IncomingMessage['headers']; body: unknown }>;
  mode: 'ok' | 'fail' | 'hang';
  close(): Promise<void>;
}

export async function startFakeRuntime(opts: { token?: string } = {}): Promise<FakeRuntime> {
  const state: FakeRuntime = { url: '', requests: [], mode: 'ok', close: async () => undefined };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      state.requests.push({ method: req.method!, path: req.url!, headers: req.headers, body });
      const json = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (state.mode === 'hang') return;
      if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`)
        return json(401, { error: { message: 'bad token' } });
      if (state.mode === 'fail') return json(500, { error: { message: 'model crashed' } });
      if (req.method === 'GET' && req.url === '/v1/models')
        return json(200, { object: 'list', data: [{ id: 'llama-3.2-3b', object: 'model' }] });
      if (req.method === 'POST' && req.url === '/v1/chat/completions') {
        const b = body as { model?: string; messages?: Array<{ content: string }> };
        return json(200, {
          id: 'chatcmpl-1',
          object: 'chat.completion',
          model: b?.model ?? 'default',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: `echo: ${b?.messages?.at(-1)?.content ?? ''}` },
              finish_reason: 'stop',
            },
          ],
        });
      }
      if (req.method === 'POST' && req.url === '/v1/embeddings')
        return json(200, { object: 'list', data: [{ embedding: [0.1, 0.2] }] });
      if (req.method === 'POST' && req.url === '/transfers')
        return json(200, { transferId: 'wdk-1', status: 'submitted' });
      if (req.method === 'GET' && req.url === '/health') return json(200, { ok: true });
      json(404, { error: { message: 'not found' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
