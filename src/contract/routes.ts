// The one route table of the contract: every (method, path template) of openapi.yaml, built once. The server, the
// mock, the test client and the benchmarks match requests here, so a path means the same operation everywhere.
// Browser-safe: it takes the parsed document and imports nothing from Node.
//
// Matching: an exact-path map first, then the templates sorted by how much literal text they hold (so
// /market/orders/{orderId} loses to nothing literal, /machines/{machineId}/graph beats /machines/{machineId}/{x}).
// A path that fits a template under another method is 405 with the methods it allows; anything else is 404. A
// trailing slash is ignored.
import { ApiError } from '../errors.ts';
import type { OpenApiDoc } from './spec.ts';

export const HTTP_METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface Route {
  operationId: string;
  method: HttpMethod;
  /** The path template as openapi.yaml writes it, e.g. /api/v1/machines/{machineId}. */
  template: string;
  /** The operation object from openapi.yaml. */
  operation: OpenApiDoc;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allowed: HttpMethod[] }
  | { kind: 'not-found' };

interface Template {
  template: string;
  /** The literal text before the first parameter: a path that does not start with it cannot match. */
  prefix: string;
  re: RegExp;
  names: string[];
  literalLength: number;
  methods: Map<HttpMethod, Route>;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

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

/** Percent-decodes each captured segment; malformed encoding is the client's error, not a miss. */
function readParams(names: string[], m: RegExpExecArray): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    let value: string;
    try {
      value = decodeURIComponent(m[i + 1]!);
    } catch {
      throw new ApiError('VALIDATION_ERROR', `Invalid path: the ${name} segment is not valid percent-encoding.`, [
        { location: 'path', path: `/${name}`, rule: 'encoding', message: 'malformed percent-encoding' },
      ]);
    }
    // The same name twice in one template must carry the same value.
    if (name in out && out[name] !== value) return null;
    out[name] = value;
  }
  return out;
}

/** How many '/'-separated segments a path (or template) has. */
function segments(path: string): number {
  let n = 0;
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) n++;
  return n;
}

export class RouteTable {
  private readonly exact = new Map<string, Map<HttpMethod, Route>>();
  /** Templates by their number of path segments (a parameter never spans a slash), most literal text first. */
  private readonly templates = new Map<number, Template[]>();
  private readonly byId = new Map<string, Route>();

  constructor(doc: OpenApiDoc) {
    const byTemplate = new Map<string, Map<HttpMethod, Route>>();
    for (const [template, item] of Object.entries<OpenApiDoc>(doc.paths ?? {})) {
      for (const method of HTTP_METHODS) {
        const operation = item[method];
        if (!operation?.operationId) continue;
        const route: Route = { operationId: operation.operationId, method, template, operation };
        let methods = byTemplate.get(template);
        if (!methods) byTemplate.set(template, (methods = new Map()));
        methods.set(method, route);
        this.byId.set(route.operationId, route);
      }
    }
    const all: Template[] = [];
    for (const [template, methods] of byTemplate) {
      if (!template.includes('{')) this.exact.set(template, methods);
      const { re, names } = compileTemplate(template);
      const brace = template.indexOf('{');
      const prefix = brace === -1 ? template : template.slice(0, brace);
      all.push({ template, prefix, re, names, literalLength: template.replace(/\{.*?\}/g, '').length, methods });
    }
    all.sort((a, b) => b.literalLength - a.literalLength);
    for (const t of all) {
      const n = segments(t.template);
      const list = this.templates.get(n);
      if (list) list.push(t);
      else this.templates.set(n, [t]);
    }
  }

  /** Every route, in the document's order. */
  routes(): Route[] {
    return [...this.byId.values()];
  }

  route(operationId: string): Route | undefined {
    return this.byId.get(operationId);
  }

  /**
   * The operation for a method and a path (without the query string, not decoded). Throws VALIDATION_ERROR when
   * the path fits a template but a segment is malformed percent-encoding.
   */
  match(method: string, rawPath: string): RouteMatch {
    const m = method.toLowerCase() as HttpMethod;
    // A trailing slash is ignored: /api/v1/policies/ is /api/v1/policies.
    let path = rawPath;
    while (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const hit = this.exact.get(path)?.get(m);
    if (hit) return { kind: 'found', route: hit, params: {} };
    let allowed: HttpMethod[] | undefined;
    for (const t of this.templates.get(segments(path)) ?? []) {
      if (!path.startsWith(t.prefix)) continue;
      const found = t.re.exec(path);
      if (!found) continue;
      const route = t.methods.get(m);
      if (route) {
        const params = readParams(t.names, found);
        if (params) return { kind: 'found', route, params };
        continue;
      }
      allowed ??= [];
      for (const x of t.methods.keys()) if (!allowed.includes(x)) allowed.push(x);
    }
    return allowed
      ? { kind: 'method-not-allowed', allowed: HTTP_METHODS.filter((x) => allowed.includes(x)) }
      : { kind: 'not-found' };
  }

  /** The operationId a method and path route to, if any; never throws. */
  operationIdOf(method: string, path: string): string | undefined {
    try {
      const r = this.match(method, path);
      return r.kind === 'found' ? r.route.operationId : undefined;
    } catch {
      return undefined;
    }
  }
}
