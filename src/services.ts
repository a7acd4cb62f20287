// Builds the service graph once per app. Handlers receive services; services receive the store, config and clock.
import type { Knex } from 'knex';
import { preparedReads } from './store/prepared.ts';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Clock } from './clock.ts';
import { McrClient } from './identity/mcr-client.ts';
import { MachinesService } from './modules/machines/service.ts';
import { PairingsService } from './modules/pairings/service.ts';
import type { ReadinessCheck } from './modules/health/handlers.ts';
import { loadCatalog, type Catalog } from './modules/catalog/catalog.ts';
import { PoliciesService } from './modules/policies/service.ts';
import { MarketSearchService } from './modules/market/search.ts';
import { activeProviderKeys } from './modules/runtime/repo.ts';
import { RuntimeService } from './modules/runtime/service.ts';
import { RuntimeProber } from './modules/runtime/prober.ts';
import { GraphService } from './modules/graph/service.ts';
import { TasksService } from './modules/tasks/service.ts';
import { OrdersService } from './modules/orders/service.ts';
import { hasOpenOrders } from './modules/orders/repo.ts';
import { PaymentsService } from './modules/orders/payments.ts';
import { OrderAccess } from './modules/orders/access.ts';
import { IdempotencyStore } from './store/idempotency.ts';
import { ClusterLease } from './store/lease.ts';
import { errorForLog } from './logger.ts';
import { createRateLimits, type RateLimits } from './http/rate-limit.ts';
import { Metrics } from './metrics.ts';

export interface Services {
  config: Config;
  db: Knex;
  reader: Knex;
  clock: Clock;
  logger: Logger;
  mcr: McrClient;
  machines: MachinesService;
  pairings: PairingsService;
  catalog: Catalog;
  policies: PoliciesService;
  search: MarketSearchService;
  runtime: RuntimeService;
  prober: RuntimeProber;
  graph: GraphService;
  tasks: TasksService;
  orders: OrdersService;
  payments: PaymentsService;
  idempotency: IdempotencyStore;
  rateLimits: RateLimits;
  /** Prometheus metrics (absent with PEAQOS_METRICS=false). */
  metrics?: Metrics;
  /** Deletes what has expired (run every ten minutes). */
  purgeExpired(): Promise<void>;
  readinessChecks: Array<() => Promise<ReadinessCheck>>;
  close(): Promise<void>;
}

export interface ServiceDeps {
  config: Config;
  db: Knex;
  /** A read-only handle for hot reads (SQLite files, see createReadDb); defaults to `db`. */
  readDb?: Knex;
  clock: Clock;
  logger: Logger;
  services?: Partial<Services>;
}

export async function buildServices(deps: ServiceDeps): Promise<Services> {
  const { config, db, clock, logger } = deps;
  const metrics = config.metrics ? new Metrics({ db, readDb: deps.readDb }) : undefined;
  const mcr =
    deps.services?.mcr ??
    new McrClient({
      baseUrl: config.mcrApiUrl,
      timeoutMs: config.mcrTimeoutMs,
      cacheTtlMs: config.mcrCacheTtlMs,
      requestsPerMinute: config.mcrRequestsPerMinute,
      now: () => clock.now().getTime(),
      ...(metrics
        ? {
            onRequest: (outcome, seconds) => (
              metrics.mcrRequests.inc({ outcome }),
              metrics.mcrDuration.observe(seconds)
            ),
            onCache: (hit) => void metrics.mcrCacheResults[hit ? 'hit' : 'miss']++,
          }
        : {}),
    });
  const reader = deps.readDb ?? db;
  const reads = preparedReads(reader);
  // Every cross-module rule is a required port given at construction: a composition that leaves one out does not
  // compile (no optional hooks wired afterwards).
  const policies = new PoliciesService({ db, clock });
  const machines = new MachinesService({
    db,
    config,
    clock,
    mcr,
    reads,
    assertPoliciesExist: (trx, ids) => policies.assertExist(trx, ids),
    hasOpenOrders: (trx, machineId) => hasOpenOrders(trx, { machine_id: machineId }),
  });
  const pairings = new PairingsService({
    db,
    config,
    clock,
    machines,
    reads,
    hasOpenOrders: (trx, pairingId) => hasOpenOrders(trx, { agent_pairing_id: pairingId }),
  });
  const catalog = deps.services?.catalog ?? loadCatalog(config.catalogDir ?? undefined);
  const machineContext = {
    policies: (ids: string[]) => policies.forMachine(ids),
    activeRuntimeProviders: (machineId: string) => activeProviderKeys(db, machineId, clock.now().toISOString()),
  };
  const search = new MarketSearchService({ db, config, clock, catalog, machines, pairings, context: machineContext });
  const runtime = new RuntimeService({ db, config, clock, machines });
  const prober = new RuntimeProber({
    runtime,
    intervalMs: config.runtimeProbeIntervalMs,
    logger,
    lease: new ClusterLease(db, () => clock.now().getTime()),
  });
  const graph = new GraphService({ db, clock, machines });
  const tasks = new TasksService({ db, config, clock, catalog, machines, runtime, context: machineContext });
  const access = new OrderAccess({ db, pairings });
  const orders = new OrdersService({
    db,
    config,
    clock,
    catalog,
    machines,
    pairings,
    search,
    tasks,
    machinePolicies: machineContext.policies,
    access,
  });
  const payments = new PaymentsService({
    db,
    config,
    clock,
    access,
  });
  const idempotency = new IdempotencyStore({ db, now: () => clock.now().getTime(), ttlMs: config.idempotencyTtlMs });
  prober.start();
  const rateLimits = createRateLimits({
    db,
    writesPerMinute: config.rateLimitWritesPerMinute,
    challengesPerMinute: config.rateLimitChallengesPerMinute,
    ...(metrics ? { onLimited: (budget) => metrics.rateLimited.inc({ budget }) } : {}),
  });
  // Expired idempotency keys, challenges expired over an hour ago, stale rate-limit counters. Every ten minutes,
  // on every replica (DELETEs by expiry date, harmless when several run at once).
  const purgeExpired = async () => {
    const hourAgo = new Date(clock.now().getTime() - 3_600_000).toISOString();
    await Promise.all([
      idempotency.purgeExpired(),
      db('challenges').where('expires_at', '<', hourAgo).delete(),
      rateLimits.purge(),
    ]);
  };
  const purge = setInterval(() => {
    purgeExpired().catch((err: unknown) => logger.warn({ err: errorForLog(err) }, 'purge of expired records failed'));
  }, 600_000);
  purge.unref();
  const readinessChecks: Array<() => Promise<ReadinessCheck>> = [
    async () => ({
      name: 'catalog',
      ok: catalog.services.length > 0,
      detail: `${catalog.skills.length} skills, ${catalog.services.length} services, ${catalog.adapters.length} adapters`,
    }),
    async () => {
      const unknown = catalog.services.filter((s) => !catalog.skill(s.skillKey)).length;
      return {
        name: 'skills',
        ok: catalog.skills.length > 0 && unknown === 0,
        detail: `${catalog.skills.length} skills in the registry`,
      };
    },
    async () => ({
      name: 'runtime',
      ok: true,
      detail: config.runtimeProbeIntervalMs > 0 ? `prober every ${config.runtimeProbeIntervalMs} ms` : 'prober off',
    }),
  ];
  const closers: Array<() => Promise<void>> = [
    async () => metrics?.close(),
    () => prober.stop(),
    async () => clearInterval(purge),
  ];
  return {
    config,
    db,
    reader,
    clock,
    logger,
    mcr,
    machines,
    pairings,
    catalog,
    policies,
    search,
    runtime,
    prober,
    graph,
    tasks,
    orders,
    payments,
    idempotency,
    rateLimits,
    ...(metrics ? { metrics } : {}),
    purgeExpired,
    readinessChecks,
    close: async () => {
      for (const c of closers.reverse()) await c();
    },
  };
}
