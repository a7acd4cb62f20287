// From a request to its operation's handler: the contract's route table (404, 405 with Allow), the role guard,
// the contract's validator (path, query and body; VALIDATION_ERROR with details), then the handler. Operations
// without a handler answer 501 NOT_IMPLEMENTED. Everything here comes from openapi.yaml through src/contract/, the
// same table and validator the mock and the test client use.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ApiError } from '../errors.ts';
import { andThen, type Awaitable } from '../awaitable.ts';
import type { HandlerMap, HandlerResult, HttpRequest, RequestContext } from './types.ts';
import { sendJson } from './respond.ts';
import type { ContractValidator } from '../contract/validator.ts';
import type { Caller, Role } from '../auth/caller.ts';
import { rolesByOperation } from './roles.ts';

export interface RouterOptions {
  validator: ContractValidator;
  handlers: HandlerMap;
  logger: Logger;
  /** Check every response against openapi.yaml and log an error when one does not match (PEAQOS_VALIDATE_RESPONSES). */
  validateResponses?: boolean;
}

type UntypedHandler = (ctx: OperationContext) => Awaitable<HandlerResult>;

/** What a handler sees: the validated request. The logger comes from the request, made on first use. */
class OperationContext implements RequestContext {
  readonly headers: HttpRequest['headers'];
  readonly requestId: string;
  readonly caller: Caller;
  constructor(
    readonly operationId: string,
    readonly params: Record<string, string>,
    readonly query: Record<string, unknown>,
    readonly body: unknown,
    private readonly req: HttpRequest,
  ) {
    const token = req.headers['x-agent-pairing-token'];
    this.caller = {
      role: req.keyRole ?? 'operator',
      pairingToken: (Array.isArray(token) ? token[0] : token) || undefined,
    };
    this.headers = req.headers;
    this.requestId = req.id;
  }
  get log(): Logger {
    return this.req.log;
  }
}

export function createRouter(opts: RouterOptions) {
  const { validator, handlers, logger } = opts;
  const routes = validator.routes;

  // The one guard: the roles each operation admits come from openapi.yaml (x-peaqos-roles). An agent-scoped key
  // reaches only operations open to agents (or runtime agents); everything else is an operator's.
  const roles = rolesByOperation(validator.doc);
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

  /**
   * Routes, guards, validates and runs the operation. Answers now when the handler does (awaitable.ts), else
   * returns the promise of the answer. Errors are thrown now or rejected later, whatever the handler threw.
   */
  const dispatch = (req: HttpRequest, res: ServerResponse): Awaitable<void> => {
    const match = routes.match(req.method, req.path);
    if (match.kind === 'not-found') throw new ApiError('NOT_FOUND', `No route for ${req.method} ${req.path}.`);
    if (match.kind === 'method-not-allowed') {
      // GET routes answer HEAD too; OPTIONS (outside a CORS preflight) just lists what the path allows.
      const allowed = match.allowed;
      const allow = [
        ...allowed.map((m) => m.toUpperCase()),
        ...(allowed.includes('get') ? ['HEAD'] : []),
        'OPTIONS',
      ].join(', ');
      if (req.method === 'OPTIONS') {
        sendJson(res, 204, undefined, { allow });
        return;
      }
      throw new ApiError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}.`, { allowed }, { allow });
    }
    const { route, params } = match;
    const operationId = route.operationId;
    req.operationId = operationId;
    // Who may call comes before what was sent: an agent key on an operator operation learns nothing more.
    admits(operationId, req);
    const check = validator.validateRequest(operationId, {
      params,
      query: req.query,
      body: req.body,
      hasBody: req.body !== undefined,
    });
    if (check.details.length) {
      const first = check.details[0]!;
      throw new ApiError(
        'VALIDATION_ERROR',
        `Invalid ${first.location} ${first.path}: ${first.message}.`,
        check.details,
      );
    }
    // The one untyped step: the validator has just checked params, query and body against this operation's
    // schemas, which is what the handler's OperationContext<Id> type promises.
    const handler = (handlers as Record<string, UntypedHandler | undefined>)[operationId];
    if (!handler) throw new ApiError('NOT_IMPLEMENTED', `${operationId} is not implemented by this server.`);
    return andThen(handler(new OperationContext(operationId, params, check.query, req.body, req)), (result) =>
      answer(res, operationId, result),
    );
  };

  /** Sends a handler's answer (checked against openapi.yaml first when PEAQOS_VALIDATE_RESPONSES asks). */
  const answer = (res: ServerResponse, operationId: string, result: HandlerResult) => {
    if (opts.validateResponses) {
      const v = validator.validateResponse(operationId, result.status, result.body);
      if (!v.ok)
        logger.error({ operationId, status: result.status, errors: v.errors }, 'response does not match openapi.yaml');
    }
    sendJson(res, result.status, result.body, result.headers);
  };

  /** The operation a method and path route to, if any (labels for answers given before routing: 401, 429, replays). */
  const operationOf = (method: string, path: string): string | undefined => routes.operationIdOf(method, path);

  return { dispatch, operationOf };
}
