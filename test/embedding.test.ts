// The API inside a real express 5 app (express.json() in front, a host route beside, mounted at the root and at a
// sub-path, next(err) for unexpected errors), and the HTTP details browsers and generic clients rely on: CORS
// preflight and headers, HEAD on GET routes, Allow on 405, OPTIONS, unknown query parameters ignored, and the
// contract and docs served outside /api/v1.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createMachineMarketsMiddleware, type MachineMarketsMiddleware } from '../src/express.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { startMachineMarketsHttp } from '../mocks/machine-markets/node.ts';
import { loadConfig } from '../src/config.ts';

const env = {
  PEAQOS_DATABASE_URL: ':memory:',
  PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled',
  PEAQOS_AGENT_PAIRING_SESSION_SECRET: 's'.repeat(40),
  PEAQOS_RUNTIME_PROBE_INTERVAL_MS: '0',
  LOG_LEVEL: 'silent',
};
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(app: express.Express): Promise<string> {
  const server: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function middleware(opts = {}): Promise<MachineMarketsMiddleware> {
  const mw = await createMachineMarketsMiddleware({ env, ...opts });
  cleanups.push(() => mw.close());
  return mw;
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('express adapter', () => {
  it('mounted at the root behind express.json(): serves the API, leaves host routes to the host', async () => {
    const app = express();
    app.use(express.json());
    app.get('/host', (_req, res) => void res.json({ host: true }));
    app.use(await middleware());
    app.use((_req, res) => void res.status(404).send('host 404'));
    const url = await listen(app);
    expect(await (await fetch(`${url}/host`)).json()).toEqual({ host: true });
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ ok: true });
    const created = await post(`${url}/api/v1/policies`, { name: 'from express' });
    expect(created.status).toBe(201);
    expect(((await created.json()) as { item: { name: string } }).item.name).toBe('from express');
    expect(((await (await fetch(`${url}/api/v1/policies`)).json()) as { items: unknown[] }).items).toHaveLength(1);
    // Not the API's: the host answers.
    expect(await (await fetch(`${url}/elsewhere`)).text()).toBe('host 404');
    // The API's own unknown routes keep the envelope.
    const unknown = await fetch(`${url}/api/v1/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    // A body express.json() parsed gets the same checks as one read from the stream.
    const nul = await fetch(`${url}/api/v1/policies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"a\\u0000b"}',
    });
    expect(nul.status).toBe(400);
    const bad = await post(`${url}/api/v1/policies`, { nope: 1 });
    expect(bad.status).toBe(400);
  });

  it('mounted under a path, without a body parser: routes below the mount point and reads the stream', async () => {
    const app = express();
    app.use('/machine-markets', await middleware());
    const url = await listen(app);
    expect((await fetch(`${url}/machine-markets/health`)).status).toBe(200);
    expect((await post(`${url}/machine-markets/api/v1/policies`, { name: 'mounted' })).status).toBe(201);
    expect((await fetch(`${url}/api/v1/policies`)).status).toBe(404); // not mounted there
    const docs = await fetch(`${url}/machine-markets/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('docs/redoc.standalone.js');
    expect((await fetch(`${url}/machine-markets/openapi.yaml`)).status).toBe(200);
  });

  it('passes unexpected errors to next(err); configured from the environment with no argument', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    let mw: MachineMarketsMiddleware;
    try {
      mw = await createMachineMarketsMiddleware();
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    cleanups.push(() => mw.close());
    expect(mw.orchestrator.config.machineIdentityVerification).toBe('disabled');
    mw.orchestrator.services.policies.create = async () => {
      throw new Error('boom');
    };
    const app = express();
    app.use(express.json());
    app.use(mw);
    app.use(
      (err: Error, _req: Request, res: Response, _next: NextFunction) =>
        void res.status(500).json({ host: 'error handler', message: err.message }),
    );
    const url = await listen(app);
    const r = await post(`${url}/api/v1/policies`, { name: 'x' });
    expect(r.status).toBe(500);
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/); // the host's answer carries the id too
    expect(await r.json()).toEqual({ host: 'error handler', message: 'boom' });
    // The host's answer is counted once, with the host's status, when it finishes.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const text = await mw.orchestrator.services.metrics!.registry.metrics();
    expect(text).toContain('peaqos_http_requests_total{operation="createPolicy",method="POST",status="500"} 1\n');
    // The same for an error thrown now, by a step answered without a promise (GET /machines/{id}: awaitable.ts).
    mw.orchestrator.services.machines.get = () => {
      throw new Error('boom now');
    };
    const now = await fetch(`${url}/api/v1/machines/mch_any`);
    expect(now.status).toBe(500);
    expect(await now.json()).toEqual({ host: 'error handler', message: 'boom now' });
    // Errors the API knows keep its envelope.
    expect(
      ((await (await fetch(`${url}/api/v1/policies/pol_missing`)).json()) as { error: { code: string } }).error.code,
    ).toBe('NOT_FOUND');
  });
});

describe('HTTP details', () => {
  let srv: TestServer | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  it('answers CORS preflights and marks responses for the configured origins only', async () => {
    srv = await startTestServer({ env: { PEAQOS_CORS_ORIGINS: 'https://app.example.com,http://127.0.0.1:5173' } });
    const pre = await fetch(`${srv.url}/api/v1/market/orders`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, x-agent-pairing-token, idempotency-key',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    for (const h of ['content-type', 'x-api-key', 'x-agent-pairing-token', 'idempotency-key', 'x-request-id'])
      expect(pre.headers.get('access-control-allow-headers')).toContain(h);
    expect(pre.headers.get('vary')).toContain('Origin');
    const get = await fetch(`${srv.url}/api/v1/policies`, { headers: { origin: 'http://127.0.0.1:5173' } });
    expect(get.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5173');
    expect(get.headers.get('access-control-expose-headers')).toContain('x-request-id');
    const other = await fetch(`${srv.url}/api/v1/policies`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    await srv.close();
    srv = await startTestServer();
    const none = await fetch(`${srv.url}/api/v1/policies`, { headers: { origin: 'https://app.example.com' } });
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
    expect(() =>
      loadConfig({ PEAQOS_CORS_ORIGINS: '*', PEAQOS_REQUIRE_API_AUTH: 'true', PEAQOS_API_KEY: 'k' }),
    ).toThrow(/PEAQOS_CORS_ORIGINS/);
    expect(() => loadConfig({ PEAQOS_CORS_ORIGINS: 'https://a.example/path' })).toThrow(/PEAQOS_CORS_ORIGINS/);
  });

  it('answers HEAD on GET routes like GET without a body, Allow on 405 and OPTIONS, and ignores unknown query parameters', async () => {
    srv = await startTestServer();
    await srv.client.post('/api/v1/policies', { name: 'p' });
    const get = await fetch(`${srv.url}/api/v1/policies`);
    const head = await fetch(`${srv.url}/api/v1/policies`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'));
    expect(await head.text()).toBe('');
    expect((await fetch(`${srv.url}/health`, { method: 'HEAD' })).status).toBe(200);
    const wrong = await fetch(`${srv.url}/api/v1/policies`, { method: 'PUT' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST, HEAD, OPTIONS');
    const options = await fetch(`${srv.url}/api/v1/policies`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, POST, HEAD, OPTIONS');
    const busted = await srv.client.get('/api/v1/policies?_=123&limit=1');
    expect(busted.status).toBe(200);
    expect(busted.body.items).toHaveLength(1);
    expect((await srv.client.get('/api/v1/policies?limit=0&_=1')).status).toBe(400); // declared ones are still checked
  });

  it('serves the contract and the docs page outside /api/v1 without a key, and can turn them off', async () => {
    srv = await startTestServer({ env: { PEAQOS_REQUIRE_API_AUTH: 'true', PEAQOS_API_KEY: 'k' } });
    const yaml = await fetch(`${srv.url}/openapi.yaml`);
    expect(yaml.status).toBe(200);
    expect(await yaml.text()).toContain('openapi: 3.1');
    const json = (await (await fetch(`${srv.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(json.paths).length).toBeGreaterThan(40);
    expect((await fetch(`${srv.url}/docs`)).headers.get('content-type')).toContain('text/html');
    const bundle = await fetch(`${srv.url}/docs/redoc.standalone.js`);
    expect(bundle.status).toBe(200);
    expect(Number(bundle.headers.get('content-length'))).toBeGreaterThan(100_000);
    await srv.close();
    srv = await startTestServer({ env: { PEAQOS_SERVE_DOCS: 'false' } });
    expect((await fetch(`${srv.url}/docs`)).status).toBe(404);
    expect((await fetch(`${srv.url}/openapi.yaml`)).status).toBe(404);
  });

  it('the HTTP mock answers preflights for any origin by default', async () => {
    const mock = await startMachineMarketsHttp({ seed: 'empty' });
    try {
      const pre = await fetch(`${mock.url}/api/v1/policies`, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');
      expect(
        (await fetch(`${mock.url}/api/v1/policies`, { headers: { origin: 'http://localhost:3000' } })).headers.get(
          'access-control-allow-origin',
        ),
      ).toBe('*');
      expect((await fetch(`${mock.url}/api/v1/policies?_=42`)).status).toBe(200);
    } finally {
      await mock.close();
    }
  });
});
