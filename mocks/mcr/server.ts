// Serves the mock MCR over real HTTP (for out-of-process servers and the conformance kit), with a small control
// API under /__control so another process can change the registry: add or unregister a machine, or fail.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from '@mswjs/http-middleware';
import { http, HttpResponse } from 'msw';
import { createMcrHandlers } from './handlers.ts';
import { drainable, listen } from '../../src/http/lifecycle.ts';
import { McrRegistry, type FailureMode } from './registry.ts';
import { fixtureMachine, testWallet } from './fixtures.ts';

export interface MockMcrServer {
  url: string;
  port: number;
  registry: McrRegistry;
  /** Stops at once, cutting open connections (tests). */
  close(): Promise<void>;
  /** Stops gracefully: in-flight requests finish (up to `timeoutMs`); resolves with how many were cut. */
  shutdown(timeoutMs: number): Promise<{ cut: number }>;
}

function controlHandlers(registry: McrRegistry) {
  return [
    http.post('*/__control/reset', () => {
      registry.reset();
      return HttpResponse.json({ ok: true });
    }),
    http.post('*/__control/failure', async ({ request }) => {
      const { mode } = (await request.json()) as { mode: FailureMode };
      registry.setFailure(mode);
      return HttpResponse.json({ ok: true, mode });
    }),
    http.post('*/__control/machines', async ({ request }) => {
      const b = (await request.json()) as {
        machineId: number;
        bondStatus?: 'bonded' | 'unbonded';
        walletLabel?: string;
        operatorLabel?: string;
      };
      registry.add(
        fixtureMachine(b.machineId, {
          bondStatus: b.bondStatus ?? 'bonded',
          ...(b.walletLabel ? { wallet: testWallet(b.walletLabel) } : {}),
          ...(b.operatorLabel ? { operator: testWallet(b.operatorLabel) } : {}),
        }),
      );
      return HttpResponse.json({ ok: true });
    }),
    http.delete('*/__control/machines/:id', ({ params }) => {
      registry.unregister(Number(params.id));
      return HttpResponse.json({ ok: true });
    }),
    http.get('*/__control/stats', () => HttpResponse.json({ requests: registry.requests, failure: registry.failure })),
  ];
}

export async function startMockMcr(
  opts: { port?: number; host?: string; registry?: McrRegistry } = {},
): Promise<MockMcrServer> {
  const registry = opts.registry ?? new McrRegistry();
  // http-middleware resolves msw's CommonJS typings, our handlers the ESM ones: same runtime classes.
  const handlers = [...controlHandlers(registry), ...createMcrHandlers(registry)] as unknown as Parameters<
    typeof createServer
  >;
  const server: Server = createHttpServer(createServer(...handlers));
  const lifecycle = drainable(server);
  const host = opts.host ?? '127.0.0.1';
  const port = await listen(server, opts.port ?? 0, host);
  return {
    url: `http://${host}:${port}`,
    port,
    registry,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
    shutdown: (timeoutMs) => lifecycle.drain(timeoutMs),
  };
}
