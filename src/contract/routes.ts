// The one route table of the contract: every (method, path template) of openapi.yaml, built once. The server, the
// mock, the test client and the benchmarks match requests here, so a path means the same operation everywhere.
// Browser-safe: it takes the parsed document and imports nothing from Node.
//
// Matching: an exact-path map first, then every template the path fits, found segment by segment in a tree of the
// templates (a literal segment, or a whole segment that is a parameter), and taken in order of how much literal
// text they hold (so /market/orders/{orderId} loses to nothing literal, /machines/{machineId}/graph beats
// /machines/{machineId}/{x}). A template with a parameter inside a segment (/files/{name}.json) is matched by a
// regular expression instead. A path that fits a template under another method is 405 with the methods it allows;
// anything else is 404. A trailing slash is ignored.
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
  /** Its place in the order of most literal text first (ties in document order). */
  rank: number;
  /**
   * Parameters by where their raw value is: the index of the path segment ('/'-split, so the first segment is 1),
   * or for a template matched by regular expression, the index of the capture group.
   */
  params: [at: number, name: string][];
  /** Templates with a parameter inside a segment: matched as a whole by regular expression. */
  re?: RegExp;
  methods: Map<HttpMethod, Route>;
}

/** A node of the template tree: the templates that end here, and where the next segment leads. */
interface TreeNode {
  literal: Map<string, TreeNode>;
  param?: TreeNode;
  ends: Template[];
}
const treeNode = (): TreeNode => ({ literal: new Map(), ends: [] });

/** Request methods as the route table keys them (anything else is lower-cased). */
const METHOD_KEYS = new Map<string, string>(HTTP_METHODS.map((m) => [m.toUpperCase(), m]));

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A template part that is a parameter and nothing else: `{name}`. */
const WHOLE_PARAM = /^\{([^}]+)\}$/;

function compileTemplate(template: string): { re: RegExp; params: Template['params'] } {
  const params: Template['params'] = [];
  const pattern = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = WHOLE_PARAM.exec(part);
      if (!m) return escapeRegExp(part);
      params.push([params.length + 1, m[1]!]);
      return '([^/]+)';
    })
    .join('');
  return { re: new RegExp(`^${pattern}$`), params };
}

/** Percent-decodes one parameter; malformed encoding is the client's error, not a miss. */
function decodeParam(name: string, raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError('VALIDATION_ERROR', `Invalid path: the ${name} segment is not valid percent-encoding.`, [
      { location: 'path', path: `/${name}`, rule: 'encoding', message: 'malformed percent-encoding' },
    ]);
  }
}

/**
 * A template's parameters from `raw` (the path's segments, or its regular expression's captures), or null when
 * the same name carries two values.
 */
function readParams(t: Template, raw: readonly string[]): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const [at, name] of t.params) {
    const value = decodeParam(name, raw[at]!);
    // The same name twice in one template must carry the same value.
    if (name in out && out[name] !== value) return null;
    out[name] = value;
  }
  return out;
}

/** Every template of the tree under `node` that the segments from `i` on fit. */
function collect(node: TreeNode, parts: string[], i: number, out: Template[]): void {
  if (i === parts.length) {
    for (const t of node.ends) out.push(t);
    return;
  }
  const segment = parts[i]!;
  const next = node.literal.size === 0 ? undefined : node.literal.get(segment);
  if (next) collect(next, parts, i + 1, out);
  if (node.param && segment !== '') collect(node.param, parts, i + 1, out);
}

export class RouteTable {
  private readonly exact = new Map<string, Map<HttpMethod, Route>>();
  /** The templates whose segments are each literal or a whole parameter, as a tree of segments. */
  private readonly tree = treeNode();
  /** Templates with a parameter inside a segment. */
  private readonly irregular: Template[] = [];
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
    const all: { template: string; literalLength: number; methods: Map<HttpMethod, Route> }[] = [];
    for (const [template, methods] of byTemplate) {
      if (!template.includes('{')) this.exact.set(template, methods);
      all.push({ template, literalLength: template.replace(/\{.*?\}/g, '').length, methods });
    }
    all.sort((a, b) => b.literalLength - a.literalLength);
    all.forEach(({ template, methods }, rank) => {
      const parts = template.split('/');
      if (parts[0] !== '' || parts.some((p) => p.includes('{') && !WHOLE_PARAM.test(p))) {
        this.irregular.push({ template, rank, ...compileTemplate(template), methods });
        return;
      }
      const t: Template = { template, rank, params: [], methods };
      let node = this.tree;
      for (let i = 1; i < parts.length; i++) {
        const name = WHOLE_PARAM.exec(parts[i]!)?.[1];
        if (name !== undefined) {
          t.params.push([i, name]);
          node = node.param ??= treeNode();
        } else {
          let next = node.literal.get(parts[i]!);
          if (!next) node.literal.set(parts[i]!, (next = treeNode()));
          node = next;
        }
      }
      node.ends.push(t);
    });
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
    const m = (METHOD_KEYS.get(method) ?? method.toLowerCase()) as HttpMethod;
    // A trailing slash is ignored: /api/v1/policies/ is /api/v1/policies.
    let path = rawPath;
    while (path.length > 1 && path.charCodeAt(path.length - 1) === 47 /* '/' */) path = path.slice(0, -1);
    const hit = this.exact.get(path)?.get(m);
    if (hit) return { kind: 'found', route: hit, params: {} };
    const parts = path.split('/');
    const fits: Template[] = [];
    if (parts[0] === '') collect(this.tree, parts, 1, fits);
    for (const t of this.irregular) if (t.re!.test(path)) fits.push(t);
    if (fits.length > 1) fits.sort((a, b) => a.rank - b.rank);
    let allowed: HttpMethod[] | undefined;
    for (const t of fits) {
      const route = t.methods.get(m);
      if (route) {
        const params = readParams(t, t.re ? t.re.exec(path)! : parts);
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
