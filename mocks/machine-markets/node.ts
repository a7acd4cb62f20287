// Node entry points: setupServer for tests, and an HTTP server for frontends in other stacks.
import { createServer as createHttpServer, type Server } from 'node:http';
import { setupServer } from 'msw/node';
import { createServer } from '@mswjs/http-middleware';
import { loadSpec } from '../../src/contract/spec.ts';
import { createMockApi, type MockApi, type MockApiOptions } from './mock.ts';
import { drainable, listen } from '../../src/http/lifecycle.ts';
import { createCors } from '../../src/http/cors.ts';

import { McrClient } from '../../src/identity/mcr-client.ts';
import { fixtureResolver } from './operations/index.ts';

export type NodeMockOptions = Omit<MockApiOptions, 'spec'> & {
  spec?: MockApiOptions['spec'];
  /** Resolve identities through this MCR instead of the fixture fleet. */ mcrUrl?: string;
};

function withMcr(opts: NodeMockOptions): MockApiOptions {
  if (!opts.mcrUrl) return { ...opts, spec: opts.spec ?? loadSpec() };
  // No request budget: this MCR is a test double (the kit's mock MCR), not the public one.
  const mcr = new McrClient({
    baseUrl: opts.mcrUrl.replace(/\/+$/, ''),
    timeoutMs: 5000,
    cacheTtlMs: 0,
    requestsPerMinute: 0,
  });
  // The seeded fixture fleet resolves locally; every other identity goes to the MCR.
  return {
    ...opts,
    spec: opts.spec ?? loadSpec(),
    resolveIdentity: async (ref) => {
      const local = await fixtureResolver(ref);
      if (local) return local;
      const r = await mcr.resolve(ref);
      return r ? { controllers: r.controllerAddresses, did: r.did } : null;
    },
  };
}

/** msw/node setupServer with the whole API mocked. Call server.listen() / close(); api.reset() between tests. */
export async function setupMachineMarketsServer(opts: NodeMockOptions = {}) {
  const api = await createMockApi(withMcr(opts));
  return { api, server: setupServer(...api.handlers) };
}

export interface MachineMarketsHttp {
  url: string;
  api: MockApi;
  /** Stops at once, cutting open connections (tests). */
  close(): Promise<void>;
  /** Stops gracefully: in-flight requests finish (up to `timeoutMs`); resolves with how many were cut. */
  shutdown(timeoutMs: number): Promise<{ cut: number }>;
}

export async function startMachineMarketsHttp(
  opts: NodeMockOptions & {
    port?: number;
    host?: string;
    /** Origins browsers may call from; default any (`*`): the mock holds no secrets. `[]` sends no CORS headers. */ corsOrigins?: string[];
  } = {},
): Promise<MachineMarketsHttp> {
  const api = await createMockApi(withMcr(opts));
  const app = createServer(...(api.handlers as unknown as Parameters<typeof createServer>));
  const cors = createCors(opts.corsOrigins ?? ['*']);
  const server: Server = createHttpServer((req, res) => {
    if (cors?.apply(req, res)) return;
    app(req, res);
  });
  const lifecycle = drainable(server);
  const host = opts.host ?? '127.0.0.1';
  const port = await listen(server, opts.port ?? 0, host);
  return {
    url: `http://${host}:${port}`,
    api,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
    shutdown: (timeoutMs) => lifecycle.drain(timeoutMs),
  };
}

export { createMockApi };
export type { MockApi, MockApiOptions };
