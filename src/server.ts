// The orchestrator as a library: `startServer()` does what `peaqos-orchestrator serve` does (configuration from
// the environment, or from an object of the same PEAQOS_* names, or typed overrides; store and migrations; listen)
// and hands back the URL and a graceful `close()`.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { loadConfig, type Config } from './config.ts';
import { createLogger } from './logger.ts';
import { createReadDb, openStore, type Db } from './store/db.ts';
import { systemClock, type Clock } from './clock.ts';
import { createApp, type App } from './app.ts';
import { createLimitedServer } from './http/server-limits.ts';
import { drainable, listen } from './http/lifecycle.ts';

/** The store named by PEAQOS_DATABASE_URL could not be opened or migrated. */
export class StoreOpenError extends Error {
  constructor(
    readonly databaseUrl: string,
    readonly cause: unknown,
  ) {
    super(
      `Cannot open the store named by PEAQOS_DATABASE_URL (${redactUrl(databaseUrl)}): ${(cause as Error)?.message ?? String(cause)}`,
    );
    this.name = 'StoreOpenError';
  }
}

/** A database URL fit to print: the password, if any, replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.protocol === 'postgres:' || u.protocol === 'postgresql:' ? u.toString() : url;
  } catch {
    return url;
  }
}

export interface OrchestratorOptions {
  /** Settings by their environment names (PEAQOS_DATABASE_URL, PORT, ...); default: process.env. */
  env?: Record<string, string | undefined>;
  /** Typed settings that win over `env`. */
  config?: Partial<Config>;
  logger?: Logger;
  clock?: Clock;
}

export interface Orchestrator {
  config: Config;
  logger: Logger;
  /** The node:http request listener. */
  app: App['app'];
  /** The framework-neutral core (what the express adapter calls). */
  handle: App['handle'];
  /** Whether a path (below any mount point) is the API's. */
  owns: App['owns'];
  services: App['services'];
  /** Closes the services and the store (not a server: see startServer). */
  close(): Promise<void>;
}

/** Builds the orchestrator without listening: store opened and migrated, services started. */
export async function createOrchestrator(opts: OrchestratorOptions = {}): Promise<Orchestrator> {
  const config: Config = { ...loadConfig(opts.env ?? process.env), ...opts.config };
  const logger = opts.logger ?? createLogger(config.logLevel);
  let db: Db;
  let readDb: Db | undefined;
  try {
    db = await openStore(config.databaseUrl, { busyTimeoutMs: config.storeBusyTimeoutMs });
    readDb = createReadDb(config.databaseUrl, { busyTimeoutMs: config.storeBusyTimeoutMs });
  } catch (err) {
    throw new StoreOpenError(config.databaseUrl, err);
  }
  let built: App;
  try {
    built = await createApp({ config, db, readDb, clock: opts.clock ?? systemClock, logger });
  } catch (err) {
    await readDb?.destroy();
    await db.destroy();
    throw err;
  }
  return {
    config,
    logger,
    app: built.app,
    handle: built.handle,
    owns: built.owns,
    services: built.services,
    close: async () => {
      await built.close();
      await readDb?.destroy();
      await db.destroy();
    },
  };
}

export interface RunningOrchestrator extends Omit<Orchestrator, 'close'> {
  url: string;
  port: number;
  server: Server;
  /** Stops accepting, finishes in-flight requests (up to PEAQOS_SHUTDOWN_TIMEOUT_MS), closes the store. */
  close(): Promise<{ cut: number }>;
}

/** createOrchestrator, then listen on config.port / config.host (0 picks a free port). */
export async function startServer(opts: OrchestratorOptions = {}): Promise<RunningOrchestrator> {
  const o = await createOrchestrator(opts);
  const server = createLimitedServer(o.app, o.config);
  const lifecycle = drainable(server);
  let port: number;
  try {
    port = await listen(server, o.config.port, o.config.host);
  } catch (err) {
    await o.close();
    throw err;
  }
  const host = o.config.host === '0.0.0.0' || o.config.host === '::' ? '127.0.0.1' : o.config.host;
  return {
    ...o,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    server,
    close: async () => {
      const drained = await lifecycle.drain(o.config.shutdownTimeoutMs);
      await o.close();
      return drained;
    },
  };
}
