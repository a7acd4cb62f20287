// openapi-backend wiring: routes by operationId, validates params, query, headers and body with ajv, and maps
// every failure class to the error envelope. Operations without a handler answer 501 NOT_IMPLEMENTED.
import type { ServerResponse } from 'node:http';
import { OpenAPIBackend, type Context, type Document } from 'openapi-backend';
import type { ErrorObject } from 'ajv';
import type { Logger } from 'pino';
import { ApiError } from './errors.ts';
import type { HandlerMap, HandlerResult, HttpRequest, RequestContext } from './types.ts';
import { sendError, sendJson } from './respond.ts';
import { installFastRouting } from './fast-routing.ts';
import { addContractKeywords } from '../contract/keywords.ts';
import type { ContractValidator } from '../contract/validator.ts';
import type { OpenApiDoc } from '../contract/spec.ts';
import type { Caller, Role } from '../auth/caller.ts';
import { rolesByOperation } from './roles.ts';

export interface RouterOptions {
  spec: OpenApiDoc;
  handlers: HandlerMap;
  logger: Logger;
  responseValidator?: ContractValidator;
  /** Replace openapi-backend's per-request route scan with a precompiled table (on unless benchmarking). */
  fastRouting?: boolean;
}

export interface ValidationDetail {
  location: string;
  path: string;
  rule: string;
  message: string;
}

const LOCATIONS: Record<string, string> = {
  requestBody: 'body',
  query: 'query',
  path: 'path',
  headers: 'header',
  cookies: 'cookie',
};

/** What a handler sees: the validated request. The logger comes from the request, made on first use. */
class OperationContext implements RequestContext {
  readonly operationId: string;
  readonly params: Record<string, string>;
  readonly query: Record<string, unknown>;
  readonly body: unknown;
  readonly headers: HttpRequest['headers'];
  readonly requestId: string;
  readonly caller: Caller;
  constructor(
    c: Context,
    private readonly req: HttpRequest,
  ) {
    this.operationId = c.operation.operationId as string;
    const token = req.headers['x-agent-pairing-token'];
    this.caller = {
      role: req.keyRole ?? 'operator',
      pairingToken: (Array.isArray(token) ? token[0] : token) || undefined,
    };
    this.params = (c.request.params ?? {}) as Record<string, string>;
    this.query = (c.request.query ?? {}) as Record<string, unknown>;
    this.body = c.request.requestBody;
    this.headers = req.headers;
    this.requestId = req.id;
  }
  get log(): Logger {
    return this.req.log;
  }
}

export function validationDetails(errors: ErrorObject[] | null | undefined): ValidationDetail[] {
  return (errors ?? []).map((e) => {
    const parts = e.instancePath.split('/').filter(Boolean);
    const location = LOCATIONS[parts[0] ?? ''] ?? 'request';
    let rest = parts.slice(1);
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required' && typeof params.missingProperty === 'string')
      rest = [...rest, params.missingProperty];
    if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string')
      rest = [...rest, params.additionalProperty];
    if (e.keyword === 'required' && parts.length === 0 && params.missingProperty === 'requestBody') {
      return { location: 'body', path: '/', rule: 'required', message: 'a JSON request body is required' };
    }
    return { location, path: `/${rest.join('/')}`, rule: e.keyword, message: e.message ?? e.keyword };
  });
}

export async function createRouter(opts: RouterOptions) {
  const api = new OpenAPIBackend({
    definition: structuredClone(opts.spec) as Document,
    // The document is validated by redocly lint in CI; openapi-backend's own check only knows OpenAPI 3.0.
    quick: true,
    validate: true,
    strict: false,
    ajvOpts: { strict: false, allErrors: true },
    // The contract's own keywords (x-peaqos-decimals), as the mock's and the response validator's Ajv have them.
    customizeAjv: (ajv) => addContractKeywords(ajv),
  });

  // The one guard: the roles each operation admits come from openapi.yaml (x-peaqos-roles). An agent-scoped key
  // reaches only operations open to agents (or runtime agents); everything else is an operator's.
  const roles = rolesByOperation(opts.spec);
  const admits = (operationId: string, req: HttpRequest) => {
    if (req.keyRole !== 'agent') return;
    const allowed: Role[] = roles.get(operationId) ?? ['operator'];
    if (!allowed.includes('agent') && !allowed.includes('machine-agent') && !allowed.includes('public')) {
      throw new ApiError(
        'AUTH_FORBIDDEN',
        `${operationId} is an operator operation; an agent-scoped key cannot call it.`,
      );
    }
  };
  const toContext = (c: Context, req: HttpRequest): RequestContext => new OperationContext(c, req);

  const respond = (c: Context, res: ServerResponse, result: HandlerResult) => {
    if (opts.responseValidator && c.operation?.operationId) {
      const check = opts.responseValidator.validateResponse(c.operation.operationId, result.status, result.body);
      if (!check.ok)
        opts.logger.error(
          { operationId: c.operation.operationId, status: result.status, errors: check.errors },
          'response does not match openapi.yaml',
        );
    }
    sendJson(res, result.status, result.body, result.headers);
  };

  for (const [operationId, handler] of Object.entries(opts.handlers)) {
    api.register(operationId, async (c: Context, req: HttpRequest, res: ServerResponse) => {
      req.operationId = operationId;
      admits(operationId, req);
      respond(c, res, await handler(toContext(c, req)));
    });
  }

  api.register({
    validationFail: (c: Context, req: HttpRequest, res: ServerResponse) => {
      req.operationId = c.operation.operationId as string;
      // Who may call comes before what was sent: an agent key on an operator operation learns nothing more.
      admits(c.operation.operationId as string, req);
      const details = validationDetails(c.validation.errors);
      const first = details[0];
      const message = first
        ? `Invalid ${first.location} ${first.path}: ${first.message}.`
        : 'Request validation failed.';
      sendError(res, new ApiError('VALIDATION_ERROR', message, details));
    },
    notFound: (_c: Context, req: HttpRequest, res: ServerResponse) =>
      sendError(res, new ApiError('NOT_FOUND', `No route for ${req.method} ${req.path}.`)),
    methodNotAllowed: (_c: Context, req: HttpRequest, res: ServerResponse) => {
      const allowed = allowedMethods(api, req.path);
      // GET routes answer HEAD too; OPTIONS (outside a CORS preflight) just lists what the path allows.
      const allow = [
        ...allowed.map((m) => m.toUpperCase()),
        ...(allowed.includes('get') ? ['HEAD'] : []),
        'OPTIONS',
      ].join(', ');
      if (req.method === 'OPTIONS') {
        res.statusCode = 204;
        res.setHeader('allow', allow);
        res.end();
        return;
      }
      sendError(res, new ApiError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}.`, { allowed }), {
        allow,
      });
    },
    notImplemented: (c: Context, _req: HttpRequest, res: ServerResponse) =>
      sendError(res, new ApiError('NOT_IMPLEMENTED', `${c.operation.operationId} is not implemented by this server.`)),
  });

  // Authentication is enforced outside openapi-backend, where the deployment's settings are known: the API key
  // in the HTTP layer (PEAQOS_REQUIRE_API_AUTH), pairing and agent tokens in the services that own them. The
  // schemes in the contract document those checks; openapi-backend's own per-scheme gate is not used.
  for (const name of Object.keys(opts.spec.components?.securitySchemes ?? {}))
    api.registerSecurityHandler(name, () => true);

  await api.init();
  if (opts.fastRouting !== false) installFastRouting(api);

  // Unknown query parameters are ignored (a cache-buster such as ?_=123 must not fail a request): only the
  // parameters the operation declares reach validation and the handler.
  type Param = { in?: string; name?: string; $ref?: string };
  const deref = (p: Param): Param =>
    p.$ref ? (opts.spec.components?.parameters?.[p.$ref.split('/').pop()!] as Param) : p;
  const queryNames = new Map<string, Set<string>>();
  for (const item of Object.values(opts.spec.paths ?? {})) {
    const shared = ((item as { parameters?: Param[] }).parameters ?? []).map(deref);
    for (const o of Object.values(item as Record<string, unknown>)) {
      const operation = o as { operationId?: string; parameters?: Param[] };
      if (!operation?.operationId) continue;
      const params = [...shared, ...(operation.parameters ?? []).map(deref)];
      queryNames.set(operation.operationId, new Set(params.filter((p) => p?.in === 'query').map((p) => p.name!)));
    }
  }
  const declaredQuery = (req: HttpRequest): Record<string, string | string[]> => {
    const keys = Object.keys(req.query);
    if (keys.length === 0) return req.query;
    let op: { operationId?: string } | undefined;
    try {
      op = api.router.matchOperation({ method: req.method, path: req.path, headers: {} }) as
        { operationId?: string } | undefined;
    } catch {
      return req.query;
    }
    const names = op?.operationId ? queryNames.get(op.operationId) : undefined;
    if (!names || keys.every((k) => names.has(k))) return req.query;
    return Object.fromEntries(keys.filter((k) => names.has(k)).map((k) => [k, req.query[k]!]));
  };

  /** Routes, validates and runs the operation; rejects with whatever the handler threw. */
  const dispatch = (req: HttpRequest, res: ServerResponse): Promise<unknown> =>
    api.handleRequest(
      {
        method: req.method,
        path: req.path,
        query: declaredQuery(req),
        headers: req.headers as Record<string, string | string[]>,
        body: req.body,
      },
      req,
      res,
    );
  /** The operation a method and path route to, if any (labels for answers given before routing: 401, 429, replays). */
  const operationOf = (method: string, path: string): string | undefined => {
    try {
      return (api.router.matchOperation({ method, path, headers: {} }) as { operationId?: string } | undefined)
        ?.operationId;
    } catch {
      return undefined;
    }
  };
  return { api, dispatch, operationOf };
}

function allowedMethods(api: OpenAPIBackend, path: string): string[] {
  return ['get', 'put', 'post', 'patch', 'delete'].filter((method) => {
    try {
      return !!api.router.matchOperation({ method, path, headers: {} }, false);
    } catch {
      return false;
    }
  });
}
