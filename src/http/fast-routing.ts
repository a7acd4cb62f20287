// openapi-backend's router rebuilds its operation list (lodash chains over the whole document) and compiles a
// RegExp per path template on every request, and its request parser deep-clones the query, re-serialises it,
// parses cookies and compiles the path template again, twice per request. With ~65 operations that dominates
// request cost. This replaces both with tables built once: an exact-path map, then templates pre-sorted by
// specificity, keeping the original 404/405 semantics; and a path-parameter matcher per template. Validation is
// untouched: openapi-backend's ajv validators still see the same parsed request.
import type { OpenAPIBackend } from 'openapi-backend';
import { ApiError } from './errors.ts';

type Param = { in?: string; name?: string; content?: unknown; explode?: boolean; $ref?: string };
type Op = { path: string; method: string; parameters?: Param[]; [k: string]: unknown };
type RawRequest = {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  query?: unknown;
  body?: unknown;
};

/** A path template as an anchored RegExp with one capture group per parameter, and the parameters' names. */
function compileTemplate(template: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  const pattern = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part);
      if (!m) return escapeRegExp(part);
      names.push(m[1]!);
      return '([^/]+)';
    })
    .join('');
  return { re: new RegExp(`^${pattern}$`), names };
}

/** A template's path-parameter reader: named values, percent-decoded, or null when the path does not fit. */
export function pathParamReader(template: string): (path: string) => Record<string, string> | null {
  const { re, names } = compileTemplate(template);
  return (path) => {
    const m = re.exec(path);
    if (!m) return null;
    const out: Record<string, string> = {};
    for (let i = 0; i < names.length; i++) {
      let value: string;
      try {
        value = decodeURIComponent(m[i + 1]!);
      } catch {
        throw new ApiError('VALIDATION_ERROR', `Invalid path: the ${names[i]} segment is not valid percent-encoding.`, [
          { location: 'path', path: `/${names[i]}`, rule: 'encoding', message: 'malformed percent-encoding' },
        ]);
      }
      // The same name twice in one template must carry the same value.
      if (names[i]! in out && out[names[i]!] !== value) return null;
      out[names[i]!] = value;
    }
    return out;
  };
}

// What openapi-backend's normalizeRequest computes, without its `{ ...req, path, method }`: spreading an object
// and then overriding its keys sends V8 down a slow path that cost more than the rest of request parsing together.
const normalizedMethod = (method: string) => method.trim().toLowerCase();
function normalizedPath(raw: string | undefined): string {
  const trimmed = (raw ?? '').trim();
  const withSlash = trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
  const q = withSlash.indexOf('?');
  return q === -1 ? withSlash : withSlash.slice(0, q);
}

const copyQuery = (query: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  if (query && typeof query === 'object')
    for (const [k, v] of Object.entries(query)) out[k] = Array.isArray(v) ? [...v] : v;
  return out;
};

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function installFastRouting(api: OpenAPIBackend): void {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- openapi-backend's router internals are untyped
  const router = api.router as any;
  const ops: Op[] = router.getOperations();
  router.getOperations = () => ops;

  const exact = new Map<string, Map<string, Op>>();
  const templates: { re: RegExp; literalLength: number; methods: Map<string, Op> }[] = [];
  const byTemplate = new Map<string, Map<string, Op>>();
  for (const op of ops) {
    let methods = byTemplate.get(op.path);
    if (!methods) byTemplate.set(op.path, (methods = new Map()));
    methods.set(op.method, op);
  }
  for (const [path, methods] of byTemplate) {
    if (!path.includes('{')) exact.set(path, methods);
    templates.push({ re: compileTemplate(path).re, literalLength: path.replace(/\{.*?\}/g, '').length, methods });
  }
  templates.sort((a, b) => b.literalLength - a.literalLength);

  // Request parsing. Operations whose query parameters need openapi-backend's style handling (JSON content,
  // explode: false), requests with cookies and non-object bodies keep the original parser.
  const originalParse = router.parseRequest.bind(router);
  const readers = new Map([...byTemplate.keys()].map((path) => [path, pathParamReader(path)]));
  const plain = new Set<Op>(
    ops.filter(
      (op) =>
        !(op.parameters ?? []).some(
          (p) => p.$ref !== undefined || (p.in === 'query' && (p.content !== undefined || p.explode === false)),
        ),
    ),
  );
  router.parseRequest = (req: RawRequest, operation?: Op) => {
    if (
      req.headers.cookie !== undefined ||
      (req.body !== undefined && req.body !== null && typeof req.body !== 'object') ||
      (operation && !plain.has(operation))
    ) {
      return originalParse(req, operation);
    }
    const path = normalizedPath(req.path);
    const params = (operation && readers.get(operation.path)?.(router.normalizePath(path))) ?? {};
    return {
      method: normalizedMethod(req.method),
      path,
      query: copyQuery(req.query),
      headers: { ...req.headers },
      body: req.body,
      params,
      cookies: {},
      requestBody: req.body,
    };
  };

  router.matchOperation = (rawReq: { method: string; path: string }, strict?: boolean) => {
    const req = { method: normalizedMethod(rawReq.method), path: normalizedPath(rawReq.path) };
    const fail = (message: string) => {
      if (strict) throw new Error(message);
      return undefined;
    };
    if (!router.isUnderApiRoot(req.path)) return fail('404-notFound: no route matches request');
    const path: string = router.normalizePath(req.path);
    const hit = exact.get(path)?.get(req.method);
    if (hit) return hit;
    let pathMatched = false;
    for (const t of templates) {
      if (!t.re.test(path)) continue;
      pathMatched = true;
      const op = t.methods.get(req.method);
      if (op) return op;
    }
    return pathMatched
      ? fail('405-methodNotAllowed: this method is not registered for the route')
      : fail('404-notFound: no route matches request');
  };
}
