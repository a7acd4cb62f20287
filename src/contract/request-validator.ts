// Validates requests (path, query, body) against openapi.yaml with ajv, the same way the server does, and
// reports failures as VALIDATION_ERROR details naming the location, the field and the rule. Browser-safe: it
// takes the parsed spec instead of reading files, so the MSW mock can use it in a service worker page.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { addContractKeywords } from './keywords.ts';

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => void;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed OpenAPI document of any shape; readers narrow what they use
type Doc = Record<string, any>;

export interface Detail {
  location: string;
  path: string;
  rule: string;
  message: string;
}

interface Compiled {
  params: Array<{ name: string; in: string; required: boolean; validate: ValidateFunction; type?: string }>;
  body?: { required: boolean; validate: ValidateFunction };
}

export class RequestValidator {
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<string, Compiled>();

  constructor(
    private readonly doc: Doc,
    private readonly id = 'request-spec.json',
  ) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addContractKeywords(this.ajv);
    addFormats(this.ajv);
    this.ajv.addSchema(doc, id);
  }

  private deref<T>(node: T): T {
    let cur = node as Doc;
    while (cur && typeof cur.$ref === 'string') {
      cur = (cur.$ref as string)
        .replace(/^#\//, '')
        .split('/')
        .reduce<Doc>((n, k) => n?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], this.doc);
    }
    return cur as T;
  }

  private compile(path: string, method: string): Compiled {
    const key = `${method} ${path}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const item = this.doc.paths[path];
    const op = item[method];
    const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
    // Each parameter's schema is compiled by JSON pointer into the spec, so $refs inside it resolve.
    const pointers: Array<[Doc, string]> = [
      ...((item.parameters ?? []) as Doc[]).map((p, i) => [p, `#/paths/${esc(path)}/parameters/${i}`] as [Doc, string]),
      ...((op.parameters ?? []) as Doc[]).map(
        (p, i) => [p, `#/paths/${esc(path)}/${method}/parameters/${i}`] as [Doc, string],
      ),
    ].map(([p, ptr]) => (p.$ref ? [this.deref(p), p.$ref as string] : [p, ptr]));
    const compiled: Compiled = {
      params: pointers.map(([p, ptr]) => ({
        name: p.name,
        in: p.in,
        required: !!p.required,
        validate: this.ajv.compile({ $ref: `${this.id}${ptr}/schema` }),
        type: this.deref(p.schema ?? {}).type,
      })),
    };
    const body = op.requestBody ? this.deref(op.requestBody) : undefined;
    if (body?.content?.['application/json']) {
      compiled.body = {
        required: !!body.required,
        validate: this.ajv.compile({
          $ref: `${this.id}#/paths/${esc(path)}/${method}/requestBody/content/application~1json/schema`,
        }),
      };
    }
    this.cache.set(key, compiled);
    return compiled;
  }

  /** Returns the failures (empty when valid). Query and path values are coerced to their schema types first. */
  validate(
    path: string,
    method: string,
    req: { params: Record<string, string>; query: Record<string, string>; body: unknown; hasBody: boolean },
  ): Detail[] {
    const c = this.compile(path, method);
    const out: Detail[] = [];
    for (const p of c.params) {
      if (p.in !== 'query' && p.in !== 'path') continue;
      const raw = p.in === 'query' ? req.query[p.name] : req.params[p.name];
      if (raw === undefined) {
        if (p.required)
          out.push({
            location: p.in,
            path: `/${p.name}`,
            rule: 'required',
            message: `must have required property '${p.name}'`,
          });
        continue;
      }
      const value =
        p.type === 'integer' || p.type === 'number'
          ? /^-?\d+(\.\d+)?$/.test(raw)
            ? Number(raw)
            : raw
          : p.type === 'boolean'
            ? raw === 'true'
              ? true
              : raw === 'false'
                ? false
                : raw
            : raw;
      if (!p.validate(value))
        for (const e of p.validate.errors ?? [])
          out.push({ location: p.in, path: `/${p.name}`, rule: e.keyword, message: e.message ?? e.keyword });
    }
    if (c.body) {
      if (!req.hasBody) {
        if (c.body.required)
          out.push({ location: 'body', path: '/', rule: 'required', message: 'a JSON request body is required' });
      } else if (!c.body.validate(req.body)) {
        for (const e of c.body.validate.errors ?? []) {
          const params = e.params as Record<string, unknown>;
          const extra =
            e.keyword === 'required'
              ? `/${String(params.missingProperty)}`
              : e.keyword === 'additionalProperties'
                ? `/${String(params.additionalProperty)}`
                : '';
          out.push({
            location: 'body',
            path: `${e.instancePath}${extra}` || '/',
            rule: e.keyword,
            message: e.message ?? e.keyword,
          });
        }
      }
    }
    return out;
  }
}
