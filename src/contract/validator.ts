// The one validator of the contract: one Ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses) compiled from openapi.yaml,
// with the contract's own keywords and the standard formats. The server validates requests with it, the mock
// validates requests with it, and the tests, the kit and (optionally) the server check responses with it, so a
// keyword means the same thing everywhere. Browser-safe: it takes the parsed document; schemas compile on first
// use and are cached.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { addContractKeywords } from './keywords.ts';
import { RouteTable } from './routes.ts';
import type { OpenApiDoc } from './spec.ts';
import { operationsOf, type OperationInfo } from './operations.ts';

// ajv-formats ships CommonJS; under NodeNext its default export is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => void;

export interface ValidationResult {
  ok: boolean;
  errors: string[];
  matchedStatus?: string;
}

/** One failed rule of a request, as VALIDATION_ERROR details carry it. */
export interface ValidationDetail {
  location: string;
  path: string;
  rule: string;
  message: string;
}

/** A request as the validator reads it: path parameters decoded, the query as parsed, the body parsed. */
export interface RequestInput {
  params: Record<string, string>;
  query: Record<string, string | string[] | undefined>;
  body: unknown;
  /** Whether a body was sent at all (an empty body is not `null`). */
  hasBody: boolean;
}

export interface RequestCheck {
  details: ValidationDetail[];
  /** The declared query parameters only, converted to their schema types (unknown ones are dropped). */
  query: Record<string, unknown>;
}

interface CompiledParam {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  type: string | undefined;
  validate: ValidateFunction;
}

interface CompiledRequest {
  params: CompiledParam[];
  body?: { required: boolean; validate: ValidateFunction };
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const NUMERIC = /^-?\d+(\.\d+)?$/;

/** A query or path value as its schema type: numbers and booleans from their text; anything else unchanged. */
function coerce(raw: string | string[], type: string | undefined): unknown {
  if (typeof raw !== 'string') return raw;
  if (type === 'integer' || type === 'number') return NUMERIC.test(raw) ? Number(raw) : raw;
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

export class ContractValidator {
  readonly routes: RouteTable;
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly requests = new Map<string, CompiledRequest>();
  private readonly ops = new Map<string, OperationInfo>();

  constructor(
    readonly doc: OpenApiDoc,
    readonly id = 'openapi.json',
  ) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addContractKeywords(this.ajv);
    addFormats(this.ajv);
    this.ajv.addSchema(doc, id);
    for (const op of operationsOf(doc)) this.ops.set(op.operationId, op);
    this.routes = new RouteTable(doc);
  }

  operation(operationId: string): OperationInfo {
    const op = this.ops.get(operationId);
    if (!op) throw new Error(`unknown operationId ${operationId}`);
    return op;
  }

  operations(): OperationInfo[] {
    return [...this.ops.values()];
  }

  private lookup(ref: string): OpenApiDoc {
    return ref
      .replace(/^#\//, '')
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<OpenApiDoc>((node, part) => node?.[part], this.doc);
  }

  private deref(node: OpenApiDoc): OpenApiDoc {
    let cur = node;
    while (cur && typeof cur.$ref === 'string') cur = this.lookup(cur.$ref);
    return cur;
  }

  private compileRef(ref: string): ValidateFunction {
    let validate = this.compiled.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.compiled.set(ref, validate);
    }
    return validate;
  }

  private compileRequest(operationId: string): CompiledRequest {
    const hit = this.requests.get(operationId);
    if (hit) return hit;
    const { path, method, operation } = this.operation(operationId);
    const item = this.doc.paths[path];
    // Each parameter's schema is compiled by JSON pointer into the document, so $refs inside it resolve.
    const pointers: Array<[OpenApiDoc, string]> = [
      ...((item.parameters ?? []) as OpenApiDoc[]).map(
        (p, i) => [p, `#/paths/${escape(path)}/parameters/${i}`] as [OpenApiDoc, string],
      ),
      ...((operation.parameters ?? []) as OpenApiDoc[]).map(
        (p, i) => [p, `#/paths/${escape(path)}/${method}/parameters/${i}`] as [OpenApiDoc, string],
      ),
    ].map(([p, ptr]) => (p.$ref ? [this.deref(p), p.$ref as string] : [p, ptr]));
    const compiled: CompiledRequest = {
      params: pointers
        .filter(([p]) => p.in === 'path' || p.in === 'query')
        .map(([p, ptr]) => ({
          name: p.name,
          in: p.in,
          required: !!p.required,
          type: this.deref(p.schema ?? {}).type,
          validate: this.compileRef(`${this.id}${ptr}/schema`),
        })),
    };
    const body = operation.requestBody ? this.deref(operation.requestBody) : undefined;
    if (body?.content?.['application/json']) {
      compiled.body = {
        required: !!body.required,
        validate: this.compileRef(
          `${this.id}#/paths/${escape(path)}/${method}/requestBody/content/application~1json/schema`,
        ),
      };
    }
    this.requests.set(operationId, compiled);
    return compiled;
  }

  /**
   * Checks a request's path parameters, query and body against the operation. Query and path values are read as
   * their schema types; query parameters the operation does not declare are ignored (a cache-buster such as
   * `?_=123` must not fail a request).
   */
  validateRequest(operationId: string, req: RequestInput): RequestCheck {
    const c = this.compileRequest(operationId);
    const details: ValidationDetail[] = [];
    const query: Record<string, unknown> = {};
    for (const p of c.params) {
      const raw = p.in === 'query' ? req.query[p.name] : req.params[p.name];
      if (raw === undefined) {
        if (p.required)
          details.push({
            location: p.in,
            path: `/${p.name}`,
            rule: 'required',
            message: `must have required property '${p.name}'`,
          });
        continue;
      }
      const value = coerce(raw, p.type);
      if (p.in === 'query') query[p.name] = value;
      if (!p.validate(value))
        for (const e of p.validate.errors ?? [])
          details.push({ location: p.in, path: `/${p.name}`, rule: e.keyword, message: e.message ?? e.keyword });
    }
    if (c.body) {
      if (!req.hasBody) {
        if (c.body.required)
          details.push({ location: 'body', path: '/', rule: 'required', message: 'a JSON request body is required' });
      } else if (!c.body.validate(req.body)) {
        for (const e of c.body.validate.errors ?? []) {
          const params = e.params as Record<string, unknown>;
          const extra =
            e.keyword === 'required'
              ? `/${String(params.missingProperty)}`
              : e.keyword === 'additionalProperties'
                ? `/${String(params.additionalProperty)}`
                : '';
          details.push({
            location: 'body',
            path: `${e.instancePath}${extra}` || '/',
            rule: e.keyword,
            message: e.message ?? e.keyword,
          });
        }
      }
    }
    return { details, query };
  }

  /** The response status key in the spec that documents `status` (exact, then `4XX`-style, then `default`). */
  responseKey(operationId: string, status: number): string | undefined {
    const responses = this.operation(operationId).operation.responses ?? {};
    const exact = String(status);
    if (responses[exact]) return exact;
    const range = `${exact[0]}XX`;
    if (responses[range]) return range;
    return responses.default ? 'default' : undefined;
  }

  private resolveResponse(operationId: string, key: string): { pointer: string; response: OpenApiDoc } {
    const op = this.operation(operationId);
    let pointer = `#/paths/${escape(op.path)}/${op.method}/responses/${escape(key)}`;
    let response = op.operation.responses[key];
    while (response?.$ref) {
      pointer = response.$ref;
      response = this.lookup(response.$ref);
    }
    return { pointer, response };
  }

  /** Validates a response body (undefined for an empty body) for the given operation and status. */
  validateResponse(operationId: string, status: number, body: unknown, contentType?: string | null): ValidationResult {
    const key = this.responseKey(operationId, status);
    if (!key) return { ok: false, errors: [`status ${status} is not documented for ${operationId}`] };
    const { pointer, response } = this.resolveResponse(operationId, key);
    const content = response?.content as OpenApiDoc | undefined;
    if (!content) {
      return body === undefined || body === ''
        ? { ok: true, errors: [], matchedStatus: key }
        : {
            ok: false,
            errors: [`status ${status} of ${operationId} has no body, but one was sent`],
            matchedStatus: key,
          };
    }
    if (contentType !== undefined && contentType !== null && !/^application\/json\b/i.test(contentType)) {
      return { ok: false, errors: [`content-type ${contentType} is not application/json`], matchedStatus: key };
    }
    const validate = this.compileRef(`${this.id}${pointer}/content/application~1json/schema`);
    const ok = validate(body) as boolean;
    return { ok, errors: ok ? [] : formatErrors(validate.errors), matchedStatus: key };
  }

  /** Validates any value against a named component schema. */
  validateSchema(name: string, value: unknown): ValidationResult {
    const validate = this.compileRef(`${this.id}#/components/schemas/${name}`);
    const ok = validate(value) as boolean;
    return { ok, errors: ok ? [] : formatErrors(validate.errors) };
  }
}

export function formatErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map(
    (e) =>
      `${e.instancePath || '(root)'} ${e.message ?? e.keyword}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
  );
}
