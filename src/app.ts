// createApp(deps) -> express app. express (json body, 1 MiB limit) -> API key (when required) -> openapi-backend
// (route by operationId, validate) -> module handler -> envelope. Every failure leaves in the error envelope.
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Db } from './store/db.ts';
import type { Clock } from './clock.ts';
import { ApiError } from './http/errors.ts';
import { apiKeyAuth } from './http/api-key.ts';
import { createRouter, sendError } from './http/router.ts';
import type { HandlerMap } from './http/types.ts';
import { loadSpec } from './contract/spec.ts';
import { ContractValidator } from './contract/validator.ts';
import { buildServices, type Services } from './services.ts';
import { buildHandlers } from './handlers.ts';

export interface AppDeps {
  config: Config;
  db: Db;
  /** A read pool for hot reads (see createReadDb); defaults to `db`. */
  readDb?: Db;
  clock: Clock;
  logger: Logger;
  /** Overrides for tests (a fake fetch for MCR, a custom catalogue, ...). */
  services?: Partial<Services>;
  fastRouting?: boolean;
}

export interface App {
  app: express.Express;
  services: Services;
  implemented: string[];
  close(): Promise<void>;
}

export async function createApp(deps: AppDeps): Promise<App> {
  const spec = loadSpec();
  const services = await buildServices(deps);
  const handlers: HandlerMap = buildHandlers(services);

  const { middleware } = await createRouter({
    spec,
    handlers,
    logger: deps.logger,
    responseValidator: deps.config.validateResponses ? new ContractValidator(spec) : undefined,
    fastRouting: deps.fastRouting,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(incoming) ? incoming : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(express.json({ limit: '1mb', type: ['application/json', 'application/*+json'] }));
  if (deps.config.requireApiAuth) app.use('/api/v1', apiKeyAuth(deps.config.apiKeys));
  app.use(middleware);

  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ApiError) return sendError(res, err);
    const e = err as { type?: string; status?: number };
    if (e?.type === 'entity.too.large') return sendError(res, new ApiError('PAYLOAD_TOO_LARGE', 'The request body exceeds 1 MiB.'));
    if (e?.type === 'entity.parse.failed') {
      return sendError(res, new ApiError('VALIDATION_ERROR', 'The request body is not valid JSON.', [{ location: 'body', path: '/', rule: 'json', message: 'malformed JSON' }]));
    }
    if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
      return sendError(res, new ApiError('VALIDATION_ERROR', 'Unsupported request body encoding.'));
    }
    (req as Request & { log?: Logger }).log?.error({ err }, 'unhandled error');
    sendError(res, new ApiError('INTERNAL_ERROR', 'An internal error occurred.'));
  });

  return {
    app,
    services,
    implemented: Object.keys(handlers),
    close: async () => {
      await services.close();
    },
  };
}
