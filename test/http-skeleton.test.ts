// The HTTP skeleton: routing, validation, every failure class in the error envelope, API-key auth, the list of
// operations still answering 501, and that a rejected request writes nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../src/server.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { listOperations } from '../src/contract/spec.ts';
import { ApiError } from '../src/errors.ts';

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

const machineBody = {
  displayName: 'Rover',
  ownerId: 'acme',
  machineType: 'rover',
  runtimeProfile: 'jetson',
  identityRef: 'did:peaq:0x2F6D5B3A0EE31Ac9C4A5C46e0E4C84C4d0d3f6A1',
};

const count = async (s: TestServer, table: string) => Number((await s.db(table).count({ n: '*' }))[0]!.n);

describe('HTTP skeleton', () => {
  it('GET /health answers { ok: true } at the host root', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const r = await srv.client.get('/health');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true });
    expect(r.headers.get('x-request-id')).toBeTruthy();
  });

  it('readiness reports real checks and fails when the store is gone', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const ok = await srv.client.get('/api/v1/readiness');
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('ready');
    expect(ok.body.checks.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining(['store', 'auth', 'identity']),
    );
  });

  it('readiness is not_ready when MCR is unreachable and identity verification is required', async () => {
    srv = await startTestServer({ env: { PEAQOS_MCR_API_URL: 'http://127.0.0.1:9' } });
    const r = await srv.client.get('/api/v1/readiness');
    expect(r.status).toBe(503);
    expect(r.body.status).toBe('not_ready');
    expect(r.body.checks.find((c: { name: string }) => c.name === 'identity').ok).toBe(false);
  });

  it('validation failures are 400 VALIDATION_ERROR naming the field and the rule, and write nothing', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const r = await srv.client.post('/api/v1/machines', { ...machineBody, displayName: 42, extra: true });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_ERROR');
    expect(r.body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ location: 'body', path: '/displayName', rule: 'type' }),
        expect.objectContaining({ location: 'body', path: '/extra', rule: 'additionalProperties' }),
      ]),
    );
    const q = await srv.client.get('/api/v1/machines?limit=501');
    expect(q.status).toBe(400);
    expect(q.body.error.details[0]).toMatchObject({ location: 'query', path: '/limit', rule: 'maximum' });
    const nonInt = await srv.client.get('/api/v1/machines?limit=1.5');
    expect(nonInt.status).toBe(400);
    const cursor = await srv.client.get('/api/v1/machines?cursor=bm90LWEtY3Vyc29y');
    expect(cursor.status).toBe(400);
    expect(cursor.body.error.code).toBe('VALIDATION_ERROR');
    expect(await count(srv, 'machines')).toBe(0);
    expect(await count(srv, 'audit_events')).toBe(0);
  });

  it('malformed JSON is 400, a body over 1 MiB is 413, unknown routes 404, wrong methods 405', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const bad = await srv.client.call('POST', '/api/v1/machines', {
      rawBody: '{"displayName": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_ERROR');
    const big = await srv.client.call('POST', '/api/v1/machines', {
      rawBody: JSON.stringify({ ...machineBody, labels: { x: 'y'.repeat(1_100_000) } }),
      headers: { 'content-type': 'application/json' },
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const missing = await srv.client.get('/api/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    const wrong = await srv.client.call('DELETE', '/api/v1/machines');
    expect(wrong.status).toBe(405);
    expect(wrong.body.error.code).toBe('METHOD_NOT_ALLOWED');
    expect(wrong.headers.get('allow')).toBe('GET, POST, HEAD, OPTIONS');
    expect(await count(srv, 'machines')).toBe(0);
  });

  it('unexpected errors are 500 INTERNAL_ERROR with no internals in the body', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    await srv.db.schema.dropTable('machines');
    const r = await srv.client.get('/api/v1/machines');
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'An internal error occurred.' } });
    expect(JSON.stringify(r.body)).not.toMatch(/sqlite|machines|stack|at /i);
    expect(srv.logs.join('')).toMatch(/unhandled error/);
  });

  it('an error thrown now by a step answered without a promise gets the same answers as a rejected one', async () => {
    // GET /machines/{id} on a SQLite file is answered in the tick it arrives in (awaitable.ts): its errors are
    // thrown, not rejected. Both kinds must give the envelope, and the server must go on serving.
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const made = await srv.client.post('/api/v1/machines', machineBody);
    expect(made.status).toBe(201);
    const id = made.body.item.id;
    const real = srv.services.machines.get.bind(srv.services.machines);
    for (const [thrown, status, code] of [
      [new ApiError('MACHINE_NOT_ACTIVE', 'thrown now'), 409, 'MACHINE_NOT_ACTIVE'],
      [new Error('boom now'), 500, 'INTERNAL_ERROR'],
    ] as const) {
      for (const later of [false, true]) {
        srv.services.machines.get = later
          ? () => Promise.reject(thrown)
          : () => {
              throw thrown;
            };
        const r = await srv.client.get(`/api/v1/machines/${id}`);
        expect([r.status, r.body.error.code, later]).toEqual([status, code, later]);
        expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      }
    }
    expect(srv.logs.join('')).toMatch(/boom now/);
    srv.services.machines.get = real;
    const again = await srv.client.get(`/api/v1/machines/${id}`);
    expect([again.status, again.body.item.id]).toEqual([200, id]);
    expect((await srv.client.get('/api/v1/machines/mch_missing')).body.error.code).toBe('NOT_FOUND');
  });

  it('API-key auth: AUTH_REQUIRED, AUTH_INVALID, any configured key works, /health exempt', async () => {
    srv = await startTestServer({
      env: {
        PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled',
        PEAQOS_REQUIRE_API_AUTH: 'true',
        PEAQOS_API_KEY: 'key-one',
        PEAQOS_API_KEYS: 'key-two,key-three',
      },
    });
    expect((await srv.client.get('/health')).status).toBe(200);
    const none = await srv.client.get('/api/v1/machines');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('AUTH_REQUIRED');
    const wrong = await srv.client.get('/api/v1/machines', { headers: { 'x-api-key': 'key-on' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('AUTH_INVALID');
    for (const k of ['key-one', 'key-two', 'key-three'])
      expect((await srv.client.get('/api/v1/machines', { headers: { 'x-api-key': k } })).status).toBe(200);
    const write = await srv.client.post('/api/v1/machines', machineBody, { headers: { 'x-api-key': 'nope' } });
    expect(write.status).toBe(401);
    expect(await count(srv, 'machines')).toBe(0);
    expect(srv.logs.join('')).not.toContain('key-one');
  });

  it('without PEAQOS_REQUIRE_API_AUTH no key is needed', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    expect((await srv.client.get('/api/v1/machines')).status).toBe(200);
  });

  it('lists the operations that still answer 501 NOT_IMPLEMENTED', async () => {
    srv = await startTestServer({ env: { PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' } });
    const implemented = new Set(srv.app.implemented);
    const missing = listOperations().filter((o) => !implemented.has(o.operationId));
    for (const op of missing) {
      const path = op.path.replace(/\{[^}]+\}/g, 'x');
      const r = await srv.client.call(op.method.toUpperCase(), path, { unchecked: true });
      // A bad request may be refused before the handler; an unimplemented handler itself always says 501.
      if (r.status !== 400) {
        expect(r.status, `${op.operationId}`).toBe(501);
        expect(r.body.error.code).toBe('NOT_IMPLEMENTED');
      }
    }
    console.log(
      `${missing.length} of ${listOperations().length} operations answer 501 NOT_IMPLEMENTED:${missing.map((o) => `\n  ${o.operationId} (${o.method.toUpperCase()} ${o.path})`).join('')}`,
    );
    expect(missing.length + implemented.size).toBe(listOperations().length);
  });
});

describe('answers in the tick a request arrives in', () => {
  it('on a SQLite file, GET /health and GET /machines/{id} are written before the request event returns', async () => {
    // The server as `npm start` runs it (read-only handle included). A listener added after the server's own sees
    // whether the answer is already written when the app's listener has returned (README: decisions).
    const dir = mkdtempSync(join(tmpdir(), 'peaqos-tick-'));
    const running = await startServer({
      env: {
        PEAQOS_DATABASE_URL: join(dir, 'tick.sqlite'),
        PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled',
        PEAQOS_AGENT_PAIRING_SESSION_SECRET: 'tick-tick-tick-tick-tick-tick-tick-tick!',
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
        PORT: '0',
      },
    });
    try {
      const written: Array<[string, boolean]> = [];
      running.server.on('request', (req: IncomingMessage, res: ServerResponse) =>
        written.push([`${req.method} ${req.url}`, res.writableEnded]),
      );
      const post = await fetch(`${running.url}/api/v1/machines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(machineBody),
      });
      expect(post.status).toBe(201);
      const id = ((await post.json()) as { item: { id: string } }).item.id;
      // The first read opens the read-only connection (through knex); the reads after it answer at once.
      for (let i = 0; i < 3; i++) expect((await fetch(`${running.url}/api/v1/machines/${id}`)).status).toBe(200);
      expect((await fetch(`${running.url}/api/v1/machines/mch_missing`)).status).toBe(404);
      expect((await fetch(`${running.url}/health`)).status).toBe(200);
      expect(written).toEqual([
        ['POST /api/v1/machines', false], // a body to read and a transaction: answered later
        [`GET /api/v1/machines/${id}`, false],
        [`GET /api/v1/machines/${id}`, true],
        [`GET /api/v1/machines/${id}`, true],
        ['GET /api/v1/machines/mch_missing', true], // the error too, in its envelope
        ['GET /health', true],
      ]);
    } finally {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
