// Starts createApp on 127.0.0.1:0 with a real HTTP server, and stops it at the end of the test.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.ts';
import { createApp, type App } from '../../src/app.ts';
import { ManualClock } from '../../src/clock.ts';
import type { Services } from '../../src/services.ts';
import { ContractClient } from './contract-client.ts';
import { engines, openTestStore, type Engine } from './db.ts';

export const TEST_SECRET = 'test-pairing-session-secret-0123456789abcdef';
export const MCR_TEST_URL = 'http://mcr.test';

export interface TestServer {
  url: string;
  client: ContractClient;
  app: App;
  services: Services;
  config: Config;
  clock: ManualClock;
  logs: string[];
  db: App['services']['db'];
  close(): Promise<void>;
}

export interface TestServerOptions {
  env?: Record<string, string>;
  engine?: Engine;
  clock?: ManualClock;
  services?: Partial<Services>;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const config = loadConfig({
    PEAQOS_AGENT_PAIRING_SESSION_SECRET: TEST_SECRET,
    PEAQOS_MCR_API_URL: MCR_TEST_URL,
    PEAQOS_MCR_CACHE_TTL_MS: '0',
    PEAQOS_MCR_TIMEOUT_MS: '500',
    // Tests run with the MCR cache off and make hundreds of look-ups a minute against the in-process mock MCR.
    PEAQOS_MCR_REQUESTS_PER_MINUTE: '0',
    // Whole suites run from one address; the abuse limits have tests of their own.
    PEAQOS_RATE_LIMIT_WRITES_PER_MINUTE: '0',
    PEAQOS_RATE_LIMIT_CHALLENGES_PER_MINUTE: '0',
    PEAQOS_RUNTIME_PROBE_INTERVAL_MS: '0',
    PEAQOS_VALIDATE_RESPONSES: 'true',
    LOG_LEVEL: 'info',
    ...opts.env,
  });
  const store = await openTestStore(opts.engine ?? engines()[0]!);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const logger = pino({ level: config.logLevel }, sink);
  const clock = opts.clock ?? new ManualClock(Date.now());
  const app = await createApp({
    config,
    db: store.db,
    clock,
    logger,
    services: opts.services,
  });
  const server: Server = createServer(app.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    client: new ContractClient(url),
    app,
    services: app.services,
    config,
    clock,
    logs,
    db: store.db,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      await store.drop();
    },
  };
}
