// An HTTP client for tests that checks every response against openapi.yaml: the operation is found from the
// method and path, and the status, content type and body must match what the contract documents.
import type { ContractValidator } from '../../src/contract/validator.ts';
import { contractValidator } from '../../src/contract/spec.ts';

export interface CallResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reads any field of a JSON answer already validated against openapi.yaml
  body: any;
  headers: Headers;
  operationId: string | null;
}

export interface CallOptions {
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  /** Skip the contract check (only for tests that deliberately break the protocol, e.g. raw bodies). */
  unchecked?: boolean;
}

export class ContractClient {
  readonly validator: ContractValidator;
  defaultHeaders: Record<string, string> = {};

  constructor(
    readonly baseUrl: string,
    validator: ContractValidator = contractValidator(),
  ) {
    this.validator = validator;
  }

  /** The operation the contract's route table gives this method and path (the server's own table). */
  operationFor(method: string, path: string): string | null {
    return this.validator.routes.operationIdOf(method, path.split('?')[0]!) ?? null;
  }

  async call(method: string, path: string, opts: CallOptions = {}): Promise<CallResult> {
    const headers: Record<string, string> = { ...this.defaultHeaders, ...opts.headers };
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const operationId = this.operationFor(method, path);
    if (!opts.unchecked) this.check(method, path, operationId, res, parsed);
    return { status: res.status, body: parsed, headers: res.headers, operationId };
  }

  private check(method: string, path: string, operationId: string | null, res: Response, body: unknown) {
    const ct = res.headers.get('content-type');
    if (operationId) {
      const r = this.validator.validateResponse(operationId, res.status, body, body === undefined ? undefined : ct);
      if (!r.ok)
        throw new Error(
          `${method} ${path} -> ${res.status} does not match openapi.yaml (${operationId}): ${r.errors.join('; ')}\n${JSON.stringify(body)}`,
        );
      if (res.status >= 400 && (body as { error?: unknown })?.error) this.checkErrorCode(operationId, body);
    } else {
      const r = this.validator.validateSchema('ErrorResponse', body);
      if (!r.ok)
        throw new Error(
          `${method} ${path} -> ${res.status} (no operation) is not an error envelope: ${r.errors.join('; ')}`,
        );
    }
  }

  /** An error code must be in the root table with this status. */
  private checkErrorCode(operationId: string, body: unknown) {
    const code = (body as { error?: { code?: string } })?.error?.code;
    const table = this.validator.doc['x-peaqos-error-codes'] as Record<string, { status: number }>;
    if (!code || !table[code]) throw new Error(`${operationId}: error code ${code} is not in x-peaqos-error-codes`);
  }

  get = (path: string, opts?: CallOptions) => this.call('GET', path, opts);
  post = (path: string, body?: unknown, opts?: CallOptions) => this.call('POST', path, { ...opts, body });
  patch = (path: string, body?: unknown, opts?: CallOptions) => this.call('PATCH', path, { ...opts, body });
  put = (path: string, body?: unknown, opts?: CallOptions) => this.call('PUT', path, { ...opts, body });
  delete = (path: string, opts?: CallOptions) => this.call('DELETE', path, opts);
}
