// The orchestrator's command line (bin/peaqos-orchestrator.js): `serve` reads the environment, opens the store,
// runs migrations and listens; SIGTERM or SIGINT drains and exits 0 (1 when requests had to be cut).
import { readFileSync } from 'node:fs';
import { ConfigError } from './config.ts';
import { CatalogError } from './modules/catalog/catalog.ts';
import { ListenError } from './http/lifecycle.ts';
import { packageFile } from './paths.ts';
import { StoreOpenError, startServer, type RunningOrchestrator } from './server.ts';

export const USAGE = `Usage: peaqos-orchestrator [serve]        run the orchestrator (configured by PEAQOS_* environment variables)
       peaqos-orchestrator --help | --version

Common settings: PORT (8080), HOST (0.0.0.0), PEAQOS_DATABASE_URL (./data/orchestrator.sqlite, or postgres://...),
PEAQOS_REQUIRE_API_AUTH and PEAQOS_API_KEY(S), PEAQOS_AGENT_PAIRING_SESSION_SECRET, PEAQOS_MCR_API_URL.
Every variable with its default: the README's Configuration table, or .env.example in the package.`;

export const version = (): string =>
  (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;

/** Exits with a one-line message for the failures an operator can fix; anything else keeps its stack. */
function fail(err: unknown): never {
  if (err instanceof ConfigError) console.error(`Invalid configuration: ${err.message}`);
  else if (err instanceof CatalogError) console.error(`Invalid catalogue: ${err.message}`);
  else if (err instanceof ListenError || err instanceof StoreOpenError) console.error(err.message);
  else {
    console.error(err);
    process.exit(1);
  }
  process.exit(err instanceof ListenError ? 69 : 78);
}

async function serve(): Promise<void> {
  const started = performance.now();
  let running: RunningOrchestrator;
  try {
    running = await startServer();
  } catch (err) {
    fail(err);
  }
  const { config, logger } = running;
  if (config.agentPairingSessionSecretGenerated) {
    logger.warn(
      'PEAQOS_AGENT_PAIRING_SESSION_SECRET is not set: using a random secret for this process only (pairing tokens will not survive a restart). Set it in production.',
    );
  }
  if (!config.requireApiAuth && config.nodeEnv === 'production') {
    logger.warn(
      'PEAQOS_REQUIRE_API_AUTH is false in production: every caller without an agent-scoped key is an operator. Set PEAQOS_REQUIRE_API_AUTH=true and PEAQOS_API_KEY(S).',
    );
  }
  logger.info(
    { port: running.port, host: config.host, startupMs: Math.round(performance.now() - started) },
    `peaqOS Machine Markets orchestrator listening on http://${config.host}:${running.port}`,
  );
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const { cut } = await running.close();
    if (cut > 0) {
      logger.error(
        { cut, timeoutMs: config.shutdownTimeoutMs },
        `shut down after PEAQOS_SHUTDOWN_TIMEOUT_MS: ${cut} request(s) cut`,
      );
      process.exit(1);
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

export async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'serve';
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return;
  }
  if (command === '--version' || command === '-v') {
    console.log(version());
    return;
  }
  if (command !== 'serve') {
    console.error(`Unknown command "${command}".\n${USAGE}`);
    process.exit(64);
  }
  await serve();
}
