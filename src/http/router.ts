// openapi-backend wiring: routes by operationId, validates params, query, headers and body with ajv, and maps
// every failure class to the error envelope. Operations without a handler answer 501 NOT_IMPLEMENTED.
import type { NextFunction, Request, Response } from 'express';
import { OpenAPIBackend, type Context, type Document } from 'openapi-backend';
import type { ErrorObject } from 'ajv';
import type { Logger } from 'pino';
import { ApiError } from './errors.ts';
import type { HandlerMap, HandlerResult, RequestContext } from './types.ts';
import { installFastRouting } from './fast-routing.ts';
import type { ContractValidator } from '../contract/validator.ts';
import type { OpenApiDoc } from '../contract/spec.ts';

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

const LOCATIONS: Record<string, string> = { requestBody: 'body', query: 'query', path: 'path', headers: 'header', cookies: 'cookie' };

export function validationDetails(errors: ErrorObject[] | null | undefined): ValidationDetail[] {
  return (errors ?? []).map((e) => {
    const parts = e.instancePath.split('/').filter(Boolean);
    const location = LOCATIONS[parts[0] ?? ''] ?? 'request';
    let rest = parts.slice(1);
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required' && typeof params.missingProperty === 'string') rest = [...rest, params.missingProperty];
    if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') rest = [...rest, params.additionalProperty];
    if (e.keyword === 'required' && parts.length === 0 && params.missingProperty === 'requestBody') {
      return { location: 'body', path: '/', rule: 'required', message: 'a JSON request body is required' };
    }
    return { location, path: `/${rest.join('/')}`, rule: e.keyword, message: e.message ?? e.keyword };
  });
}

export function sendError(res: Response, err: ApiError): void {
  res.status(err.status).json(err.toBody());
}

export async function createRouter(opts: RouterOptions) {
  const api = new OpenAPIBackend({
    definition: structuredClone(opts.spec) as Document,
    // The document is validated by redocly lint in CI; openapi-backend's own check only knows OpenAPI 3.0.
    quick: true,
    validate: true,
    strict: false,
    ajvOpts: { strict: false, allErrors: true },
  });

  const toContext = (c: Context, req: Request): RequestContext => ({
    operationId: c.operation.operationId as string,
    params: (c.request.params ?? {}) as Record<string, string>,
    query: (c.request.query ?? {}) as Record<string, unknown>,
    body: c.request.requestBody,
    headers: req.headers,
    requestId: String(req.id ?? ''),
    log: (req as Request & { log?: Logger }).log ?? opts.logger,
  });

  const respond = (c: Context, res: Response, result: HandlerResult) => {
    if (opts.responseValidator && c.operation?.operationId) {
      const check = opts.responseValidator.validateResponse(c.operation.operationId, result.status, result.body);
      if (!check.ok) opts.logger.error({ operationId: c.operation.operationId, status: result.status, errors: check.errors }, 'response does not match openapi.yaml');
    }
    if (result.headers) res.set(result.headers);
    if (result.body === undefined) res.status(result.status).end();
    else res.status(result.status).json(result.body);
  };

  for (const [operationId, handler] of Object.entries(opts.handlers)) {
    api.register(operationId, async (c: Context, req: Request, res: Response) => {
      respond(c, res, await handler(toContext(c, req)));
    });
  }

  api.register({
    validationFail: (c: Context, _req: Request, res: Response) => {
      const details = validationDetails(c.validation.errors);
      const first = details[0];
      const message = first ? `Invalid ${first.location} ${first.path}: ${first.message}.` : 'Request validation failed.';
      sendError(res, new ApiError('VALIDATION_ERROR', message, details));
    },
    notFound: (_c: Context, req: Request, res: Response) => sendError(res, new ApiError('NOT_FOUND', `No route for ${req.method} ${req.path}.`)),
    methodNotAllowed: (c: Context, req: Request, res: Response) => {
      const allowed = allowedMethods(api, req.path);
      if (allowed.length) res.set('Allow', allowed.join(', ').toUpperCase());
      sendError(res, new ApiError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}.`, { allowed }));
      void c;
    },
    notImplemented: (c: Context, _req: Request, res: Response) =>
      sendError(res, new ApiError('NOT_IMPLEMENTED', `${c.operation.operationId} is not implemented by this server.`)),
  });

  await api.init();
  if (opts.fastRouting !== false) installFastRouting(api);

  const middleware = (req: Request, res: Response, next: NextFunction) => {
    api
      .handleRequest(
        { method: req.method, path: req.path, query: req.query as Record<string, string | string[]>, headers: req.headers as Record<string, string | string[]>, body: req.body },
        req,
        res,
      )
      .catch(next);
  };
  return { api, middleware };
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
