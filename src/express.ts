// peaqos-machine-markets/express: the Machine Markets API as express middleware, for teams that already run an
// express app. Mounted at any path, it answers its own paths below the mount point (/health, /api/v1/...,
// /openapi.yaml, /openapi.json, /docs) and calls next() for everything else; it takes req.body when a body parser
// already read it and reads the stream otherwise; unexpected errors go to next(err). express is an optional peer
// dependency: nothing here imports it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createOrchestrator, type Orchestrator, type OrchestratorOptions } from './server.ts';
import { isJsonType } from './http/body.ts';

/** The parts of express's request this middleware reads (express 4 and 5). */
interface ExpressRequest extends IncomingMessage {
  body?: unknown;
  /** Set by body-parser 1 (express 4) when it read the body. */
  _body?: boolean;
}
type Next = (err?: unknown) => void;

export interface MachineMarketsMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: Next): void;
  /** The orchestrator behind the middleware (config, services). */
  orchestrator: Orchestrator;
  /** Stops background work and closes the store (the host app closes its own server). */
  close(): Promise<void>;
}

/**
 * Builds the middleware: with no argument configured from the environment exactly as `npm start`; otherwise from
 * `{ env }` (the PEAQOS_* names) and/or `{ config }` (typed settings). Opens the store and runs migrations.
 */
export async function createMachineMarketsMiddleware(
  options: OrchestratorOptions = {},
): Promise<MachineMarketsMiddleware> {
  const o = await createOrchestrator(options);
  const middleware = ((req: ExpressRequest, res: ServerResponse, next: Next) => {
    const q = (req.url ?? '/').indexOf('?');
    const path = q === -1 ? (req.url ?? '/') : (req.url ?? '/').slice(0, q);
    if (!o.owns(path)) return next();
    // A body parser that ran has consumed the stream (body-parser 1 also says so with _body): take its result when
    // the body was JSON, as this API would have read it; a body of another media type is no body, as here.
    const consumed = req._body === true || req.readableEnded;
    const parsedBody = consumed ? { value: isJsonType(req.headers['content-type']) ? req.body : undefined } : undefined;
    o.handle(req, res, { ...(parsedBody ? { parsedBody } : {}), onUnexpected: (err) => next(err) });
  }) as MachineMarketsMiddleware;
  middleware.orchestrator = o;
  middleware.close = () => o.close();
  return middleware;
}
