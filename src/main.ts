// CLI entry: `serve` reads the environment, opens the store, runs migrations and listens.
import { loadConfig, ConfigError } from './config.ts';
import { createLogger } from './logger.ts';
import { createReadDb, openStore } from './store/db.ts';
import { systemClock } from './clock.ts';
import { createApp } from './app.ts';
import { createLimitedServer } from './http/server-limits.ts';
import { CatalogError } from './modules/catalog/catalog.ts';

async function serve(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Invalid configuration: ${err.message}`);
      process.exit(78);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  if (config.agentPairingSessionSecretGenerated) {
    logger.warn('PEAQOS_AGENT_PAIRING_SESSION_SECRET is not set: using a random secret for this process only (pairing tokens will not survive a restart). Set it in production.');
  }
  if (!config.requireApiAuth && config.nodeEnv === 'production') {
    logger.warn('PEAQOS_REQUIRE_API_AUTH is false in production: every caller without an agent-scoped key is an operator. Set PEAQOS_REQUIRE_API_AUTH=true and PEAQOS_API_KEY(S).');
  }
  const started = performance.now();
  let db;
  let readDb;
  try {
    db = await openStore(config.databaseUrl, { busyTimeoutMs: config.storeBusyTimeoutMs });
    readDb = createReadDb(config.databaseUrl, { busyTimeoutMs: config.storeBusyTimeoutMs });
  } catch (err) {
    console.error(`Cannot open the store named by PEAQOS_DATABASE_URL (${redactUrl(config.databaseUrl)}): ${(err as Error).message}`);
    process.exit(78);
  }
  let built;
  try {
    built = await createApp({ config, db, readDb, clock: systemClock, logger });
  } catch (err) {
    if (err instanceof CatalogError) {
      console.error(`Invalid catalogue: ${err.message}`);
      await db.destroy();
      process.exit(78);
    }
    throw err;
  }
  const { app, close } = built;
  const server = createLimitedServer(app, config);
  server.listen(config.port, config.host, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    logger.info({ port, host: config.host, startupMs: Math.round(performance.now() - started) }, `peaqOS Machine Markets orchestrator listening on http://${config.host}:${port}`);
  });
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close(async () => {
      await close();
      await readDb?.destroy();
      await db.destroy();
      process.exit(0);
    });
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** A database URL fit to print: the password, if any, replaced. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.protocol === 'postgres:' || u.protocol === 'postgresql:' ? u.toString() : url;
  } catch {
    return url;
  }
}

const command = process.argv[2] ?? 'serve';
if (command === 'serve') {
  serve().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  console.error(`Unknown command "${command}". Usage: main.ts serve`);
  process.exit(64);
}
