// The HTTP server with socket limits (designed, each configurable): a client that sends its headers slowly is cut
// off after headersTimeout, a whole request after requestTimeout; idle keep-alive sockets close after
// keepAliveTimeout; and past maxConnections new connections are refused, so slow or numerous clients cannot hold
// every socket. Node's defaults are 60 s, 300 s, 5 s and unlimited, with timeouts checked every 30 s.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Config } from '../config.ts';

export type ServerLimits = Pick<
  Config,
  'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections'
>;

export function createLimitedServer(listener: RequestListener, limits: ServerLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often Node looks for requests past their timeouts: often enough that the timeouts mean what they say.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 2))),
    },
    listener,
  );
  server.maxConnections = limits.maxConnections;
  return server;
}
