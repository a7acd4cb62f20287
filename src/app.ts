// createApp(deps) -> a node:http request listener. request id -> API key (when required) -> JSON body (1 MiB) ->
// the contract's route table and validator -> module handler -> JSON. Every failure leaves in the
// error envelope. No web framework sits in between: the contract already says what every route accepts.
import type { IncomingHttpHeaders, IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Logger } from 'pino';
import type { Awaitable } from './awaitable.ts';
import type { Config } from './config.ts';
import type { Db } from './store/db.ts';
import type { Clock } from './clock.ts';
import { ApiError } from './errors.ts';
import { newRequestId } from './ids.ts';
import { accessLog, errorForLog, redactDeep, type AccessLog } from './logger.ts';
import { apiKeyAuth } from './http/api-key.ts';
import { checkParsedBody, hasBody, readJsonBody } from './http/body.ts';
import { createCors } from './http/cors.ts';
import { createDocs, DOC_PATHS } from './http/docs.ts';
import { checkUrl } from './http/hostile.ts';
import { clientKey } from './http/rate-limit.ts';
import { attachExchange, sendError, stampRequestId, type Exchange } from './http/respond.ts';
import { createRouter } from './http/router.ts';
import { createIdempotency } from './http/idempotency.ts';
import { StoreBusyError } from './store/busy.ts';
import type { HandlerMap, HttpRequest } from './http/types.ts';
import { contractValidator } from './contract/spec.ts';
import { buildServices, type Services } from './services.ts';
import { buildHandlers } from './handlers.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Reports each answer once, when it is written: the HTTP metrics and the access line. */
interface Reporter {
  metrics: Services['metrics'];
  access: AccessLog | undefined;
  operationOf(method: string, path: string): string | undefined;
}

/**
 * A request as the router sees it, and the API's state of its response (an Exchange). The child logger is made on
 * first use (most requests never log). An answer written by sendJson is reported as sendJson returns (no listener
 * per response); one written any other way (a preflight, the docs, /metrics, a host framework's) is reported on the
 * response's 'finish' (reportOnFinish). Either way, once.
 */
class Request implements HttpRequest, Exchange {
  body: unknown = undefined;
  keyRole: 'operator' | 'agent' | undefined = undefined;
  operationId: string | undefined = undefined;
  capture: ((status: number, body: unknown) => void) | undefined = undefined;
  /** HEAD is GET without the body (node:http leaves the body out of a HEAD response by itself). */
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string | string[]>;
  readonly rawQuery: string | undefined;
  #log: Logger | undefined;
  /** Whether the answer is reported (or will be, on 'finish'). */
  #reported: boolean;
  readonly #t0: number;
  constructor(
    /** The method and URL as sent (the access line and the metrics' method label). */
    private readonly sentMethod: string,
    private readonly url: string,
    readonly headers: IncomingHttpHeaders,
    readonly id: string,
    private readonly logger: Logger,
    private readonly reporter: Reporter | undefined,
  ) {
    this.method = sentMethod === 'HEAD' ? 'GET' : sentMethod;
    const q = url.indexOf('?');
    this.path = q === -1 ? url : url.slice(0, q);
    this.rawQuery = q === -1 ? undefined : url.slice(q + 1);
    this.query = this.rawQuery === undefined ? {} : (parseQuery(this.rawQuery) as Record<string, string | string[]>);
    this.#reported = reporter === undefined;
    this.#t0 = reporter === undefined ? 0 : performance.now();
  }
  get log(): Logger {
    return (this.#log ??= this.logger.child({ reqId: this.id }));
  }
  sent(status: number): void {
    if (this.#reported) return;
    this.#reported = true;
    this.report(status);
  }
  /** For an answer written outside sendJson: reported when the response finishes. */
  reportOnFinish(res: ServerResponse): void {
    if (this.#reported) return;
    this.#reported = true;
    res.on('finish', () => this.report(res.statusCode));
  }
  private report(status: number): void {
    const { metrics, access, operationOf } = this.reporter!;
    const ms = performance.now() - this.#t0;
    metrics?.http(
      this.operationId ?? operationOf(this.method, this.path) ?? 'unmatched',
      this.sentMethod,
      status,
      ms / 1000,
    );
    access?.(this.id, this.sentMethod, this.url, status, ms);
  }
}

export interface AppDeps {
  config: Config;
  db: Db;
  /** A read-only handle for hot reads (see createReadDb); defaults to `db`. */
  readDb?: Db;
  clock: Clock;
  logger: Logger;
  /** Overrides for tests (a fake fetch for MCR, a custom catalogue, ...). */
  services?: Partial<Services>;
}

/** How a host framework takes part in a request (the express adapter); node:http needs none of it. */
export interface RequestHooks {
  /** The body a body parser already read (express.json): used instead of reading the stream. */
  parsedBody?: { value: unknown };
  /** Unexpected errors go here instead of a 500 envelope (express: next(err)). */
  onUnexpected?: (err: unknown) => void;
}

export interface App {
  /** The request listener: `http.createServer(app)`. Answers every path (unknown ones with the 404 envelope). */
  app: RequestListener;
  /** The framework-neutral core behind `app`: one request, with a host framework's hooks. */
  handle(req: IncomingMessage, res: ServerResponse, hooks?: RequestHooks): void;
  /** Whether `path` (as seen below any mount point) is one this API answers: /health, /api/v1/..., the docs. */
  owns(path: string): boolean;
  services: Services;
  implemented: string[];
  close(): Promise<void>;
}

export async function createApp(deps: AppDeps): Promise<App> {
  const services = await buildServices(deps);
  const handlers: HandlerMap = buildHandlers(services);
  const logger = deps.logger;

  const { dispatch, operationOf } = createRouter({
    validator: contractValidator(),
    handlers,
    logger,
    validateResponses: deps.config.validateResponses,
  });
  const apiKey = apiKeyAuth({
    operatorKeys: deps.config.apiKeys,
    agentKeys: deps.config.agentApiKeys,
    required: deps.config.requireApiAuth,
  });
  const metrics = services.metrics;
  const idempotency = createIdempotency({
    store: services.idempotency,
    ...(metrics ? { onReplay: () => metrics.idempotentReplays.inc() } : {}),
  });
  const rateLimits = services.rateLimits;
  const knownKeys = new Set([...deps.config.apiKeys, ...deps.config.agentApiKeys]);
  const access = accessLog(logger);
  const reporter: Reporter | undefined = access || metrics ? { metrics, access, operationOf } : undefined;
  const logDebug = logger.isLevelEnabled('debug');
  const logTrace = logger.isLevelEnabled('trace');

  const cors = createCors(deps.config.corsOrigins);
  const docs = deps.config.serveDocs ? createDocs() : undefined;
  const isApi = (path: string) => path === '/api/v1' || path.startsWith('/api/v1/');
  const owns = (path: string) =>
    path === '/health' || isApi(path) || (!!docs && DOC_PATHS.includes(path)) || (!!metrics && path === '/metrics');

  const handleRequest = (req: IncomingMessage, res: ServerResponse, hooks: RequestHooks = {}) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : newRequestId();
    const request = new Request(req.method ?? 'GET', req.url ?? '/', req.headers, id, logger, reporter);
    const path = request.path;
    attachExchange(res, request);
    // CORS headers are set one by one, and a preflight is answered here: the id goes on first.
    if (cors) stampRequestId(res);
    if (cors?.apply(req, res)) {
      request.operationId = 'preflight';
      request.reportOnFinish(res);
      return;
    }
    if (docs && DOC_PATHS.includes(path)) {
      stampRequestId(res);
      if (docs.serve(path, req, res)) {
        request.operationId = 'docs';
        request.reportOnFinish(res);
        return;
      }
    }
    if (metrics && path === '/metrics') {
      request.operationId = 'metrics';
      request.reportOnFinish(res);
      stampRequestId(res);
      serveMetrics(req, res).catch((err: unknown) => fail(request, req, res, err, hooks));
      return;
    }
    // An error is thrown now or rejected later (awaitable.ts): either way it is answered by fail.
    try {
      const later = handle(request, req, res, hooks);
      if (later instanceof Promise) later.catch((err: unknown) => fail(request, req, res, err, hooks));
    } catch (err) {
      fail(request, req, res, err, hooks);
    }
  };

  // GET /metrics: outside /api/v1, an operator operation when API auth is on (an agent key is refused).
  const serveMetrics = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new ApiError(
        'METHOD_NOT_ALLOWED',
        `${req.method} is not allowed on /metrics.`,
        { allowed: ['get'] },
        { allow: 'GET, HEAD' },
      );
    const role = apiKey(req.headers);
    if (role instanceof ApiError) throw role;
    if (role === 'agent')
      throw new ApiError('AUTH_FORBIDDEN', '/metrics is an operator operation; an agent-scoped key cannot read it.');
    const text = await metrics!.registry.metrics();
    res.statusCode = 200;
    res.setHeader('content-type', metrics!.registry.contentType);
    res.setHeader('content-length', Buffer.byteLength(text));
    res.end(text);
  };

  const fail = (
    request: Request,
    req: IncomingMessage,
    res: ServerResponse,
    err: unknown,
    hooks: RequestHooks = {},
  ) => {
    if (err instanceof ApiError) return sendError(res, err);
    if (err instanceof StoreBusyError) {
      request.log.warn({ reason: err.message }, 'store busy');
      return sendError(res, new ApiError('STORE_BUSY', 'The database is busy: nothing was changed; retry shortly.'), {
        'retry-after': '1',
      });
    }
    if (req.destroyed && !req.complete) return; // the client went away mid-request: nobody to answer
    if (hooks.onUnexpected && !res.headersSent) {
      stampRequestId(res); // the host framework answers: with the id, as every answer here
      request.reportOnFinish(res);
      return hooks.onUnexpected(err);
    }
    request.log.error({ err: errorForLog(err) }, 'unhandled error');
    sendError(res, new ApiError('INTERNAL_ERROR', 'An internal error occurred.'));
  };

  // A request goes through three steps, each answered now unless it has to wait (awaitable.ts): the API key and
  // the rate limit (a charge waits on PostgreSQL), the URL and the body (a body is read from the stream), then
  // the idempotency layer or the router. A GET that waits for nothing is answered in the tick it arrived in.
  const handle = (
    request: Request,
    req: IncomingMessage,
    res: ServerResponse,
    hooks: RequestHooks,
  ): Awaitable<void> => {
    if (isApi(request.path)) {
      const role = apiKey(req.headers);
      if (role instanceof ApiError) throw role;
      request.keyRole = role;
      const presented = req.headers['x-api-key'];
      const key = Array.isArray(presented) ? presented[0] : presented;
      if (rateLimits.charges(request.method))
        return rateLimits
          .charge(
            request.method,
            request.path,
            key && knownKeys.has(key) ? clientKey(key) : `ip:${req.socket.remoteAddress ?? 'unknown'}`,
          )
          .then(() => withBody(request, req, res, hooks));
    }
    return withBody(request, req, res, hooks);
  };

  const withBody = (request: Request, req: IncomingMessage, res: ServerResponse, hooks: RequestHooks) => {
    checkUrl(request.path, request.rawQuery);
    // A request without a body (most reads) goes on without waiting for a body that is not coming.
    if (hooks.parsedBody) request.body = checkParsedBody(hooks.parsedBody.value);
    else if (hasBody(req))
      return readJsonBody(req).then((body) => {
        request.body = body;
        return run(request, req, res, hooks);
      });
    return run(request, req, res, hooks);
  };

  const run = (request: Request, req: IncomingMessage, res: ServerResponse, hooks: RequestHooks) => {
    // debug: what came in, headers included; trace: the body too. Secrets are redacted at any depth.
    if (logDebug) {
      request.log[logTrace ? 'trace' : 'debug'](
        {
          req: {
            method: req.method,
            url: req.url,
            headers: redactDeep(req.headers),
            ...(logTrace ? { body: redactDeep(request.body) } : {}),
          },
        },
        'request received',
      );
    }
    if (idempotency.applies(request))
      return idempotency.run(
        request,
        res,
        () => dispatch(request, res),
        (err) => fail(request, req, res, err, hooks),
      );
    return dispatch(request, res);
  };

  return {
    app: (req, res) => handleRequest(req, res),
    handle: handleRequest,
    owns,
    services,
    implemented: Object.keys(handlers),
    close: async () => {
      await services.close();
    },
  };
}
