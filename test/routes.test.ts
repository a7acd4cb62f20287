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

  it('matches templates with a parameter inside a segment, in the same order of literal text', () => {
    const t = new RouteTable({
      paths: {
        '/files/{name}.json': { get: { operationId: 'json' } },
        '/files/{name}': { get: { operationId: 'any' }, delete: { operationId: 'remove' } },
        '/files/index.json': { put: { operationId: 'index' } },
        '/v{major}/ping': { get: { operationId: 'ping' } },
      },
    });
    expect(t.match('GET', '/files/a%20b.json')).toMatchObject({ kind: 'found', params: { name: 'a b' } });
    expect(t.operationIdOf('GET', '/files/a.json')).toBe('json');
    expect(t.operationIdOf('GET', '/files/a.txt')).toBe('any');
    expect(t.operationIdOf('DELETE', '/files/a.json')).toBe('remove');
    expect(t.operationIdOf('GET', '/v2/ping')).toBe('ping');
    // Every template the path fits says what it allows.
    expect(t.match('POST', '/files/index.json')).toEqual({
      kind: 'method-not-allowed',
      allowed: ['get', 'put', 'delete'],
    });
    expect(t.match('GET', '/files//x')).toEqual({ kind: 'not-found' });
    expect(t.match('GET', '/files/')).toEqual({ kind: 'not-found' });
  });

  it('routes every path as matching the templates one by one in order of literal text would', () => {
    // The definition the tree implements: each template as an anchored regular expression over the raw path,
    // tried from the most literal text down; 405 gathers the methods of every template the path fits.
    const templates = Object.keys(spec.paths as object)
      .map((template) => ({
        template,
        re: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)')}$`),
        literal: template.replace(/\{.*?\}/g, '').length,
      }))
      .sort((a, b) => b.literal - a.literal);
    const expected = (method: HttpMethod, path: string) => {
      const fits = templates.filter((t) => t.re.test(path.length > 1 ? path.replace(/\/+$/, '') : path));
      const hit = fits.find((t) => spec.paths[t.template][method]?.operationId);
      if (hit) return spec.paths[hit.template][method].operationId as string;
      return fits.length ? 'method-not-allowed' : 'not-found';
    };
    const segments = [
      'api',
      'v1',
      'machines',
      'market',
      'orders',
      'x',
      '',
      'graph',
      'agents',
      'tasks',
      'mch_1',
      'policies',
    ];
    // Every template with its parameters filled, and paths made of the words the templates use.
    const paths = templates.map((t) => t.template.replace(/\{[^}]+\}/g, 'p1'));
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 3000; i++) {
      const base = paths[next() % paths.length]!.split('/');
      base[1 + (next() % (base.length - 1))] = segments[next() % segments.length]!;
      paths.push(base.join('/') + (next() % 10 === 0 ? '/' : ''));
    }
    for (const path of paths) {
      for (const method of HTTP_METHODS) {
        const got = table.match(method.toUpperCase(), path);
        const want = expected(method, path);
        expect([method, path, got.kind === 'found' ? got.route.operationId : got.kind]).toEqual([method, path, want]);
      }
    }
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
