// A proxy in front of the reference server that breaks the contract in one chosen way, to prove the
// conformance kit notices.
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | 'wrong-success-status'
  | 'missing-required-field'
  | 'extra-envelope-wrapper'
  | 'null-next-cursor'
  | 'echoed-auth-token'
  | 'accepted-replayed-challenge'
  | 'wrong-error-code'
  | '500-on-bad-input'
  | 'ignored-api-key'
  // Stateful faults: each answer is well-formed on its own; only state across requests gives them away.
  | 'cached-gets'
  | 'swallowed-deletes'
  | 'dropped-list-item';

interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a proxied JSON answer of any shape, altered per fault
  body: any;
}

export async function startBrokenProxy(target: string, fault: Fault): Promise<{ url: string; close(): Promise<void> }> {
  const successes = new Map<string, Reply>();
  const getCache = new Map<string, { status: number; text: string }>();
  const mutate = (req: IncomingMessage, reqBody: string, r: Reply): Reply => {
    const path = (req.url ?? '').split('?')[0]!;
    const isList = r.body && Array.isArray(r.body.items);
    switch (fault) {
      case 'wrong-success-status':
        return req.method === 'POST' && path === '/api/v1/policies' && r.status === 201 ? { ...r, status: 200 } : r;
      case 'missing-required-field':
        if (path === '/api/v1/policies' && req.method === 'GET' && isList)
          r.body.items.forEach((i: Record<string, unknown>) => delete i.name);
        return r;
      case 'extra-envelope-wrapper':
        return path === '/api/v1/policies' && req.method === 'GET' && isList ? { ...r, body: { data: r.body } } : r;
      case 'null-next-cursor':
        if (isList && r.body.nextCursor === undefined) r.body.nextCursor = null;
        return r;
      case 'echoed-auth-token':
        if (path.includes('/runtime-endpoints') && r.body?.item) r.body.item.authToken = 'echoed-secret';
        return r;
      case 'accepted-replayed-challenge': {
        let proof: string | undefined;
        try {
          proof = JSON.parse(reqBody)?.identityProof?.challengeId;
        } catch {
          /* not JSON */
        }
        if (proof && r.status < 300) successes.set(proof, r);
        if (proof && r.body?.error?.message?.includes('already been used') && successes.has(proof))
          return successes.get(proof)!;
        return r;
      }
      case 'wrong-error-code':
        if (r.body?.error?.code === 'NOT_FOUND') r.body.error.code = 'RESOURCE_MISSING';
        return r;
      case 'dropped-list-item':
        if (req.method === 'GET' && isList && r.body.items.length > 0) r.body.items.splice(0, 1);
        return r;
      case '500-on-bad-input':
        return r.status === 400 && r.body?.error?.code === 'VALIDATION_ERROR'
          ? { status: 500, body: { error: { code: 'INTERNAL_ERROR', message: 'boom' } } }
          : r;
      default:
        return r;
    }
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
      if (fault === 'ignored-api-key') delete headers['x-api-key'];
      if (fault === 'swallowed-deletes' && req.method === 'DELETE') {
        res.writeHead(204);
        res.end();
        return;
      }
      const cached = fault === 'cached-gets' && req.method === 'GET' ? getCache.get(req.url!) : undefined;
      if (cached) {
        res.writeHead(cached.status, { 'content-type': 'application/json' });
        res.end(cached.text);
        return;
      }
      const upstream = await fetch(`${target}${req.url}`, {
        method: req.method,
        headers,
        body: ['GET', 'HEAD'].includes(req.method!) ? undefined : raw,
      });
      const text = await upstream.text();
      if (fault === 'cached-gets' && req.method === 'GET' && upstream.ok)
        getCache.set(req.url!, { status: upstream.status, text });
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      const out = mutate(req, raw, { status: upstream.status, body });
      if (out.body === undefined) {
        res.writeHead(out.status);
        res.end();
      } else {
        res.writeHead(out.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out.body));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
