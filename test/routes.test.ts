// The contract's route table, operation by operation: every operation of openapi.yaml is matched from a concrete
// path, with its parameters decoded; every other method on that path is 405 with the methods the path allows; paths
// near the templates are 404. The same cases run through the server, which routes with this table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouteTable, HTTP_METHODS, type HttpMethod } from '../src/contract/routes.ts';
import { loadSpec } from '../src/contract/spec.ts';
import { ApiError } from '../src/errors.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

const spec = loadSpec();
const table = new RouteTable(spec);
const routes = table.routes();

/** A concrete path for a template: each parameter gets a value naming it, with a character that needs encoding. */
const sample = (template: string) => {
  const params: Record<string, string> = {};
  const path = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    params[name] = `v ${name}.1`;
    return encodeURIComponent(params[name]!);
  });
  return { path, params };
};

/** The methods the contract gives a path template. */
const methodsOf = (template: string) => HTTP_METHODS.filter((m) => spec.paths[template]?.[m]);

describe('the route table', () => {
  it('holds every operation of openapi.yaml once', () => {
    const ids = Object.values<Record<string, { operationId?: string }>>(spec.paths).flatMap((item) =>
      HTTP_METHODS.map((m) => item[m]?.operationId).filter(Boolean),
    );
    expect(routes.map((r) => r.operationId).sort()).toEqual([...ids].sort());
    expect(routes.length).toBe(65);
  });

  it.each(routes.map((r) => [r.operationId, r] as const))('matches %s from a concrete path', (_, route) => {
    const { path, params } = sample(route.template);
    const hit = table.match(route.method.toUpperCase(), path);
    expect(hit).toMatchObject({ kind: 'found', route: { operationId: route.operationId } });
    expect(hit.kind === 'found' && hit.params).toEqual(params);
    // A trailing slash is the same route.
    expect(table.operationIdOf(route.method, `${path}/`)).toBe(route.operationId);
  });

  it('answers 405 with the allowed methods for every other method on every path', () => {
    let checked = 0;
    for (const template of Object.keys(spec.paths)) {
      const { path } = sample(template);
      const defined = methodsOf(template);
      for (const m of HTTP_METHODS.filter((x) => !defined.includes(x))) {
        const r = table.match(m, path);
        // Another template may own that method for this concrete path (a literal segment read as a parameter).
        if (r.kind === 'found') {
          expect(r.route.template).not.toBe(template);
          continue;
        }
        expect(r.kind, `${m} ${path}`).toBe('method-not-allowed');
        expect(r.kind === 'method-not-allowed' && r.allowed).toEqual(expect.arrayContaining(defined));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(150);
  });

  it('answers 404 for paths outside the templates', () => {
    for (const template of Object.keys(spec.paths)) {
      const { path } = sample(template);
      for (const near of [`${path}/extra-segment`, path.replace(/\/[^/]+$/, '') + '/x/y/z', `/v2${path}`]) {
        if (table.match('GET', near).kind === 'found') continue; // a deeper template owns it
        const r = table.match('GET', near);
        if (r.kind === 'method-not-allowed') continue;
        expect(r.kind, near).toBe('not-found');
      }
    }
    expect(table.match('GET', '/api/v1/no-such-route').kind).toBe('not-found');
    expect(table.match('GET', '/').kind).toBe('not-found');
    expect(table.match('GET', '/api/v1/machines//graph').kind).toBe('not-found');
  });

  it('prefers literal segments over parameters, and reads the same name twice only when equal', () => {
    const t = new RouteTable({
      paths: {
        '/a/{x}': { get: { operationId: 'byParam' } },
        '/a/b': { get: { operationId: 'literal' } },
        '/a/{x}/c/{x}': { get: { operationId: 'twice' } },
      },
    });
    expect(t.operationIdOf('GET', '/a/b')).toBe('literal');
    expect(t.operationIdOf('GET', '/a/q')).toBe('byParam');
    expect(t.operationIdOf('GET', '/a/1/c/1')).toBe('twice');
    expect(t.operationIdOf('GET', '/a/1/c/2')).toBeUndefined();
    expect(t.match('POST', '/a/b')).toEqual({ kind: 'method-not-allowed', allowed: ['get'] });
  });

  it('refuses malformed percent-encoding in a parameter as VALIDATION_ERROR', () => {
    expect(() => table.match('GET', '/api/v1/machines/%E0%A4%A')).toThrow(ApiError);
    try {
      table.match('GET', '/api/v1/machines/%ZZ');
    } catch (err) {
      expect((err as ApiError).code).toBe('VALIDATION_ERROR');
    }
  });
});

describe('the server routes with the table', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(async () => srv?.close());

  it('answers 405 with Allow on every path for a method the contract does not give it, and 404 elsewhere', async () => {
    for (const template of Object.keys(spec.paths)) {
      const { path } = sample(template);
      const defined = methodsOf(template);
      const missing = HTTP_METHODS.find((m) => !defined.includes(m) && table.match(m, path).kind !== 'found') as
        HttpMethod | undefined;
      if (!missing) continue;
      const res = await fetch(`${srv.url}${path}`, { method: missing.toUpperCase() });
      const body = (await res.json()) as { error: { code: string; details: { allowed: string[] } } };
      expect(res.status, `${missing} ${path}`).toBe(405);
      expect(body.error.code).toBe('METHOD_NOT_ALLOWED');
      for (const m of defined) expect(res.headers.get('allow')).toContain(m.toUpperCase());
    }
    const res = await fetch(`${srv.url}/api/v1/no-such-route`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });
});
