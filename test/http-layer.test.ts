// The framework-free HTTP layer: JSON body rules (types, charsets, encodings, limits, strictness), request ids,
// request logs, and malformed path encoding. Every refusal is the error envelope and writes nothing.
import { gzipSync, brotliCompressSync, deflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { isJsonType } from '../src/http/body.ts';

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

const machine = (n: number) => ({
  displayName: 'Rover',
  ownerId: 'acme',
  machineType: 'rover',
  runtimeProfile: 'jetson',
  identityRef: `peaqos:machine:${n}`,
});
const count = async (s: TestServer) => Number((await s.db('machines').count({ n: '*' }))[0]!.n);

async function post(body: BodyInit | undefined, headers: Record<string, string>, path = '/api/v1/machines') {
  const res = await fetch(`${srv!.url}${path}`, { method: 'POST', headers, body });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as { item?: { identityRef: string }; error?: { code: string; message: string } },
  };
}

describe('JSON request bodies', () => {
  it('accepts identity, gzip, deflate and br bodies, and application/*+json types', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const plain = await post(JSON.stringify(machine(1)), { 'content-type': 'application/json; charset=utf-8' });
    expect(plain.status).toBe(201);
    const gz = await post(gzipSync(JSON.stringify(machine(2))), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(gz.status).toBe(201);
    expect(gz.body.item!.identityRef).toBe('peaqos:machine:2');
    expect(
      (
        await post(deflateSync(JSON.stringify(machine(3))), {
          'content-type': 'application/json',
          'content-encoding': 'deflate',
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await post(brotliCompressSync(JSON.stringify(machine(4))), {
          'content-type': 'application/json',
          'content-encoding': 'br',
        })
      ).status,
    ).toBe(201);
    expect((await post(JSON.stringify(machine(5)), { 'content-type': 'application/vnd.peaqos+json' })).status).toBe(
      201,
    );
    expect(await count(srv)).toBe(5);
  });

  it('refuses bad bodies with VALIDATION_ERROR or PAYLOAD_TOO_LARGE and writes nothing', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const cases: [BodyInit, Record<string, string>, number, string, RegExp][] = [
      ['"a string"', { 'content-type': 'application/json' }, 400, 'VALIDATION_ERROR', /not valid JSON/],
      ['42', { 'content-type': 'application/json' }, 400, 'VALIDATION_ERROR', /not valid JSON/],
      ['{"displayName": ', { 'content-type': 'application/json' }, 400, 'VALIDATION_ERROR', /not valid JSON/],
      [
        JSON.stringify(machine(1)),
        { 'content-type': 'application/json; charset=latin1' },
        400,
        'VALIDATION_ERROR',
        /charset "latin1"/,
      ],
      [
        JSON.stringify(machine(1)),
        { 'content-type': 'application/json', 'content-encoding': 'compress' },
        400,
        'VALIDATION_ERROR',
        /content-encoding "compress"/,
      ],
      [
        Buffer.from('not gzip at all'),
        { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        400,
        'VALIDATION_ERROR',
        /decompressed/,
      ],
      // The limit applies to the inflated size: 2 MiB of JSON gzips to a few kB.
      [
        gzipSync(JSON.stringify({ ...machine(1), labels: { x: 'y'.repeat(2 * 1024 * 1024) } })),
        { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        413,
        'PAYLOAD_TOO_LARGE',
        /1 MiB/,
      ],
      // A body that is not JSON at all is not read: the contract then finds the required body missing.
      ['displayName=Rover', { 'content-type': 'application/x-www-form-urlencoded' }, 400, 'VALIDATION_ERROR', /body/],
    ];
    for (const [body, headers, status, code, message] of cases) {
      const r = await post(body, headers);
      expect(r.status, `${JSON.stringify(headers)} ${String(body).slice(0, 20)}`).toBe(status);
      expect(r.body.error!.code).toBe(code);
      expect(r.body.error!.message).toMatch(message);
    }
    expect(await count(srv)).toBe(0);
  });

  it('treats an empty body as no body: the contract then says a JSON body is required', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const res = await fetch(`${srv.url}/api/v1/machines`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    const body = (await res.json()) as { error: { code: string; details: { path: string; rule: string }[] } };
    expect(res.status).toBe(400);
    expect(body.error.code).toBe('VALIDATION_ERROR');
    expect(body.error.details).toEqual([
      { location: 'body', path: '/', rule: 'required', message: 'a JSON request body is required' },
    ]);
    expect(await count(srv)).toBe(0);
  });

  it('knows the JSON media types', () => {
    expect(isJsonType('application/json')).toBe(true);
    expect(isJsonType('Application/JSON ; charset=utf-8')).toBe(true);
    expect(isJsonType('application/merge-patch+json')).toBe(true);
    expect(isJsonType('text/json')).toBe(false);
    expect(isJsonType('application/jsonx')).toBe(false);
    expect(isJsonType(undefined)).toBe(false);
  });
});

describe('request ids, logs and paths', () => {
  it('puts the request id on every answer, whichever part of the server wrote it, and logs each answer once', async () => {
    const key = 'operator-key-0123456789abcdef';
    const env = {
      PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled',
      PEAQOS_REQUIRE_API_AUTH: 'true',
      PEAQOS_API_KEYS: key,
      PEAQOS_RATE_LIMIT_WRITES_PER_MINUTE: '1',
    };
    const post = (n: number): RequestInit => ({
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(machine(n)),
    });
    type Answer = [name: string, path: string, init: RequestInit, status: number];
    const check = async (answers: Answer[]) => {
      for (const [name, path, init, status] of answers) {
        const id = `rid-${name.replace(/ /g, '-')}`;
        const res = await fetch(`${srv!.url}${path}`, { ...init, headers: { ...init.headers, 'x-request-id': id } });
        await res.arrayBuffer();
        expect([name, res.status, res.headers.get('x-request-id')]).toEqual([name, status, id]);
        // The body's length is said (no chunked framing).
        if (status !== 204 && status !== 301 && init.method !== 'HEAD')
          expect([name, res.headers.get('transfer-encoding')]).toEqual([name, null]);
      }
      // One access line per answer, with its status: answers written by sendJson are reported as it returns, the
      // others (preflight, docs, /metrics, and sendJson's error answers after them) on 'finish'.
      await new Promise((r) => setTimeout(r, 50));
      const lines = srv!.logs
        .flatMap((chunk) => chunk.split('\n'))
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { msg: string; req?: { id: string }; res?: { statusCode: number } })
        .filter((l) => l.msg === 'request completed' || l.msg === 'request errored');
      for (const [name, , , status] of answers) {
        const id = `rid-${name.replace(/ /g, '-')}`;
        const mine = lines.filter((l) => l.req?.id === id);
        expect([name, mine.map((l) => l.res?.statusCode)]).toEqual([name, [status]]);
      }
    };
    srv = await startTestServer({ env });
    await check([
      ['json', '/health', {}, 200],
      ['head', '/health', { method: 'HEAD' }, 200],
      ['not found', '/api/v1/machines/mch_missing', { headers: { 'x-api-key': key } }, 404],
      ['no key', '/api/v1/machines', {}, 401],
      ['method not allowed', '/health', { method: 'DELETE' }, 405],
      ['allow', '/api/v1/machines', { method: 'OPTIONS', headers: { 'x-api-key': key } }, 204],
      ['docs', '/openapi.json', {}, 200],
      ['redirect', '/docs/', { redirect: 'manual' }, 301],
      ['metrics', '/metrics', { headers: { 'x-api-key': key } }, 200],
      ['metrics refused', '/metrics', {}, 401],
      ['created', '/api/v1/machines', post(1), 201],
      ['rate limited', '/api/v1/machines', post(2), 429],
    ]);
    const generated = await fetch(`${srv.url}/api/v1/machines/mch_missing`, { headers: { 'x-api-key': key } });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.headers.get('content-length')).toBe(String((await generated.text()).length));
    await srv.close();

    srv = await startTestServer({ env: { ...env, PEAQOS_CORS_ORIGINS: 'http://app.test' } });
    await check([
      [
        'preflight',
        '/api/v1/machines',
        { method: 'OPTIONS', headers: { origin: 'http://app.test', 'access-control-request-method': 'POST' } },
        204,
      ],
      ['cors', '/health', { headers: { origin: 'http://app.test' } }, 200],
      [
        'cors not found',
        '/api/v1/machines/mch_missing',
        { headers: { origin: 'http://app.test', 'x-api-key': key } },
        404,
      ],
    ]);
  });

  it('echoes a well-formed x-request-id, replaces a malformed one, and logs one line per request', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const mine = await fetch(`${srv.url}/health`, { headers: { 'x-request-id': 'trace-123.abc_DEF' } });
    expect(mine.headers.get('x-request-id')).toBe('trace-123.abc_DEF');
    const bad = await fetch(`${srv.url}/health`, { headers: { 'x-request-id': 'has spaces and <angle>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await fetch(`${srv.url}/api/v1/machines/mch_missing`);
    await new Promise((r) => setTimeout(r, 20));
    const lines = srv.logs.map(
      (l) =>
        JSON.parse(l) as {
          level: number;
          msg: string;
          req?: { id: string; method: string; url: string };
          res?: { statusCode: number };
          responseTime?: number;
        },
    );
    const done = lines.filter((l) => l.msg === 'request completed');
    expect(done.find((l) => l.req!.id === 'trace-123.abc_DEF')).toMatchObject({
      level: 30,
      req: { method: 'GET', url: '/health' },
      res: { statusCode: 200 },
    });
    expect(done.find((l) => l.req!.url === '/api/v1/machines/mch_missing')).toMatchObject({
      level: 40,
      res: { statusCode: 404 },
    });
    expect(done.every((l) => typeof l.responseTime === 'number')).toBe(true);
  });

  it('answers malformed percent-encoding in a path parameter with 400, not 500', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const r = await srv.client.call('GET', '/api/v1/machines/%E0%A4%A', { unchecked: true });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ location: 'path', path: '/machineId', rule: 'encoding' }],
    });
  });
});
