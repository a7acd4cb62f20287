// Builds the service graph once per app. Handlers receive services; services receive the store, config and clock.
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Clock } from './clock.ts';
import { McrClient } from './identity/mcr-client.ts';
import { MachinesService } from './modules/machines/service.ts';
import { PairingsService } from './modules/pairings/service.ts';
import type { ReadinessCheck } from './modules/health/handlers.ts';

export interface Services {
  config: Config;
  db: Knex;
  clock: Clock;
  logger: Logger;
  mcr: McrClient;
  machines: MachinesService;
  pairings: PairingsService;
  readinessChecks: Array<() => Promise<ReadinessCheck>>;
  close(): Promise<void>;
}

export interface ServiceDeps {
  config: Config;
  db: Knex;
  clock: Clock;
  logger: Logger;
  services?: Partial<Services>;
}

export async function buildServices(deps: ServiceDeps): Promise<Services> {
  const { config, db, clock, logger } = deps;
  const mcr =
    deps.services?.mcr ??
    new McrClient({ baseUrl: config.mcrApiUrl, timeoutMs: config.mcrTimeoutMs, cacheTtlMs: config.mcrCacheTtlMs, now: () => clock.now().getTime() });
  const machines = new MachinesService(db, config, clock, mcr);
  const pairings = new PairingsService(db, config, clock, machines);
  const closers: Array<() => Promise<void>> = [];
  return {
    config,
    db,
    clock,
    logger,
    mcr,
    machines,
    pairings,
    readinessChecks: [],
    close: async () => {
      for (const c of closers.reverse()) await c();
    },
  };
}
