// Validates HTTP responses against openapi.yaml with ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses).
// Schemas are compiled once per (operation, status) and cached; used by tests, the conformance kit and the mocks.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { addContractKeywords } from './keywords.ts';
import { loadSpec, listOperations, type OpenApiDoc, type OperationInfo } from './spec.ts';

// ajv-formats ships CommonJS; under NodeNext its default export is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => void;

export interface ValidationResult {
  ok: boolean;
  errors: string[];
  matchedStatus?: string;
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export class ContractValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly ops = new Map<string, OperationInfo>();

  constructor(
    readonly doc: OpenApiDoc = loadSpec(),
    readonly id = 'openapi.json',
  ) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addContractKeywords(this.ajv);
    addFormats(this.ajv);
    this.ajv.addSchema(doc, id);
    for (const op of listOperations(doc)) this.ops.set(op.operationId, op);
  }

  operation(operationId: string): OperationInfo {
    const op = this.ops.get(operationId);
    if (!op) throw new Error(`unknown operationId ${operationId}`);
    return op;
  }

  operations(): OperationInfo[] {
    return [...this.ops.values()];
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

  private lookup(ref: string): OpenApiDoc {
    return ref
      .replace(/^#\//, '')
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<OpenApiDoc>((node, part) => node?.[part], this.doc);
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
    const schemaRef = `${this.id}${pointer}/content/application~1json/schema`;
    let validate = this.compiled.get(schemaRef);
    if (!validate) {
      validate = this.ajv.compile({ $ref: schemaRef });
      this.compiled.set(schemaRef, validate);
    }
    const ok = validate(body) as boolean;
    return { ok, errors: ok ? [] : formatErrors(validate.errors), matchedStatus: key };
  }

  /** Validates any value against a named component schema. */
  validateSchema(name: string, value: unknown): ValidationResult {
    const ref = `${this.id}#/components/schemas/${name}`;
    let validate = this.compiled.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.compiled.set(ref, validate);
    }
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

let shared: ContractValidator | undefined;
export function contractValidator(): ContractValidator {
  shared ??= new ContractValidator();
  return shared;
}
