// Prometheus metrics (prom-client), one registry per app, served at GET /metrics (PEAQOS_METRICS, designed, on by
// default; an operator operation when API auth is on). HTTP series are labelled by operationId, never by the raw
// path (ids would explode the cardinality); unmatched requests share the label "unmatched".
import type { Knex } from 'knex';
import { Counter, Histogram, Registry, collectDefaultMetrics, type MetricValue } from 'prom-client';
import { listen, type StoreEvent } from './observe.ts';

/** Latency buckets (seconds) of every duration histogram. */
export const LATENCY = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  private readonly unlisten: () => void;

  /** peaqos_http_requests_total and peaqos_http_request_duration_seconds (HttpSeries). */
  readonly httpSeries = new HttpSeries(this.registry);
  readonly orderTransitions = new Counter({
    name: 'peaqos_market_order_transitions_total',
    help: 'Committed market order state changes, by event (created, executed, confirmed, disputed, cancelled).',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly paymentTransitions = new Counter({
    name: 'peaqos_market_payment_transitions_total',
    help: 'Committed payment state changes, by event (intent-created, proof-recorded, escrow-held, released, refunded).',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly searches = new Counter({
    name: 'peaqos_market_searches_total',
    help: 'Market searches performed.',
    registers: [this.registry],
  });
  readonly pairings = new Counter({
    name: 'peaqos_agent_pairings_total',
    help: 'Agent pairing changes, by event (created, revoked, session-rotated, updated).',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly challenges = new Counter({
    name: 'peaqos_challenges_issued_total',
    help: 'Identity and pairing challenges issued, by purpose.',
    labelNames: ['purpose'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'peaqos_rate_limited_total',
    help: 'Requests refused with 429 RATE_LIMITED, by budget.',
    labelNames: ['budget'] as const,
    registers: [this.registry],
  });
  readonly idempotentReplays = new Counter({
    name: 'peaqos_idempotent_replays_total',
    help: 'Requests answered from a stored Idempotency-Key answer.',
    registers: [this.registry],
  });
  readonly mcrRequests = new Counter({
    name: 'peaqos_mcr_requests_total',
    help: 'Requests to peaqOS MCR, by outcome (ok, not_found, unavailable, invalid, budget).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly mcrDuration = new Histogram({
    name: 'peaqos_mcr_request_duration_seconds',
    help: 'peaqOS MCR request duration.',
    buckets: LATENCY,
    registers: [this.registry],
  });
  /**
   * MCR resolutions by cache result, counted in plain numbers (a cached read counts one per request, and
   * prom-client's inc hashes its label object each time); the counter below reads them at scrape.
   */
  readonly mcrCacheResults = { hit: 0, miss: 0 };
  readonly mcrCache: Counter<'result'> = new Counter({
    name: 'peaqos_mcr_cache_total',
    help: 'MCR resolutions by cache result (hit, miss).',
    labelNames: ['result'] as const,
    registers: [this.registry],
    collect: () => {
      this.mcrCache.reset();
      for (const result of ['hit', 'miss'] as const)
        if (this.mcrCacheResults[result]) this.mcrCache.inc({ result }, this.mcrCacheResults[result]);
    },
  });
  readonly probes = new Counter({
    name: 'peaqos_runtime_probes_total',
    help: 'Runtime endpoint health probes, by result (healthy, unhealthy).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly rpcVerifications = new Counter({
    name: 'peaqos_payment_rpc_verifications_total',
    help: 'EVM RPC payment verifications, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly storeTransactions = new Histogram({
    name: 'peaqos_store_transaction_duration_seconds',
    help: 'Store transactions, by outcome (commit, rollback, retry after a deadlock).',
    labelNames: ['outcome'] as const,
    buckets: LATENCY,
    registers: [this.registry],
  });
  readonly storeBusy = new Counter({
    name: 'peaqos_store_lock_waits_total',
    help: "Statements that waited for another process's SQLite lock, by result (acquired, gave_up).",
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly storeBusySeconds = new Counter({
    name: 'peaqos_store_lock_wait_seconds_total',
    help: "Time spent waiting for another process's SQLite lock.",
    registers: [this.registry],
  });

  constructor(handles: { db: Knex; readDb?: Knex }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'peaqos_' });
    const dbs = new Set<Knex>([handles.db, ...(handles.readDb ? [handles.readDb] : [])]);
    const clients = new Set([...dbs].map((d) => d.client));
    this.unlisten = listen((e: StoreEvent) => {
      if (e.kind === 'busy') {
        if (!clients.has(e.client)) return;
        this.storeBusy.inc({ result: e.gaveUp ? 'gave_up' : 'acquired' });
        this.storeBusySeconds.inc(e.waitedMs / 1000);
        return;
      }
      if (!dbs.has(e.db)) return;
      if (e.kind === 'tx') this.storeTransactions.observe({ outcome: e.outcome }, e.seconds);
      else if (e.kind === 'challenge') this.challenges.inc({ purpose: e.purpose });
      else if (e.kind === 'probe') this.probes.inc({ result: e.healthy ? 'healthy' : 'unhealthy' });
      else if (e.kind === 'rpc') this.rpcVerifications.inc({ outcome: e.outcome });
      else if (e.kind === 'audit') this.audit(e.type);
    });
  }

  private audit(type: string): void {
    if (type.startsWith('market.order.')) this.orderTransitions.inc({ event: type.slice('market.order.'.length) });
    else if (type.startsWith('market.payment.'))
      this.paymentTransitions.inc({ event: type.slice('market.payment.'.length) });
    else if (type === 'market.search.performed') this.searches.inc();
    else if (type.startsWith('agent-pairing.')) this.pairings.inc({ event: type.slice('agent-pairing.'.length) });
  }

  http(operation: string, method: string, status: number, seconds: number): void {
    this.httpSeries.record(operation, method, status, seconds);
  }

  close(): void {
    this.unlisten();
  }
}

/** What the registry reads of a metric (prom-client's MetricObjectWithValues, without the collect hook). */
interface Reading {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: MetricValue<string>[];
}

/** One (operation, method, status): its request count, and its durations per LATENCY bucket (not cumulative). */
interface HttpEntry {
  operation: string;
  method: string;
  status: string;
  count: number;
  sum: number;
  buckets: number[];
}

/**
 * The two series every request updates, kept in plain numbers: a request costs one Map lookup and a bucket search,
 * where prom-client's Counter and Histogram validate and hash the label object on every update (about 2 µs a
 * request, bench/RESULTS.md). The registry reads them as it reads any metric (get()), in the form prom-client's
 * own Counter and Histogram give: test/metrics.test.ts compares the two texts.
 */
export class HttpSeries {
  /** Every entry, in the order first seen (the order a scrape lists them in). */
  private readonly entries: HttpEntry[] = [];

  constructor(registry: Registry) {
    const counter = {
      name: 'peaqos_http_requests_total',
      help: 'HTTP requests by operation, method and status.',
      type: 'counter',
      aggregator: 'sum',
      get: async () => this.counter(counter),
      reset: () => this.reset(),
    };
    const histogram = {
      name: 'peaqos_http_request_duration_seconds',
      help: 'HTTP request duration by operation and method.',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => this.histogram(histogram),
      reset: () => this.reset(),
    };
    registry.registerMetric(counter as never);
    registry.registerMetric(histogram as never);
  }

  /** operation -> method -> status -> entry: lookups on the same few strings, whose hashes V8 keeps. */
  private readonly byOperation = new Map<string, Map<string, Map<number, HttpEntry>>>();

  record(operation: string, method: string, status: number, seconds: number): void {
    let byMethod = this.byOperation.get(operation);
    if (!byMethod) this.byOperation.set(operation, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let e = byStatus.get(status);
    if (!e) {
      e = { operation, method, status: String(status), count: 0, sum: 0, buckets: LATENCY.map(() => 0) };
      byStatus.set(status, e);
      this.entries.push(e);
    }
    e.count++;
    e.sum += seconds;
    for (let i = 0; i < LATENCY.length; i++) {
      if (seconds <= LATENCY[i]!) {
        e.buckets[i]!++;
        break;
      }
    }
  }

  private reset(): void {
    this.byOperation.clear();
    this.entries.length = 0;
  }

  private counter(m: { name: string; help: string; aggregator: string }): Reading {
    const values = this.entries.map((e) => ({
      value: e.count,
      labels: { operation: e.operation, method: e.method, status: e.status },
    }));
    return { name: m.name, help: m.help, type: 'counter', aggregator: m.aggregator, values };
  }

  private histogram(m: { name: string; help: string; aggregator: string }): Reading {
    // The histogram is labelled by operation and method: the statuses of one pair add up.
    const pairs = new Map<
      string,
      { labels: { operation: string; method: string }; count: number; sum: number; buckets: number[] }
    >();
    for (const e of this.entries) {
      const key = `${e.operation} ${e.method}`;
      let p = pairs.get(key);
      if (!p) {
        p = { labels: { operation: e.operation, method: e.method }, count: 0, sum: 0, buckets: LATENCY.map(() => 0) };
        pairs.set(key, p);
      }
      p.count += e.count;
      p.sum += e.sum;
      e.buckets.forEach((n, i) => (p.buckets[i]! += n));
    }
    const values: MetricValue<string>[] = [];
    for (const p of pairs.values()) {
      let acc = 0;
      LATENCY.forEach((le, i) => {
        acc += p.buckets[i]!;
        values.push({ value: acc, labels: { le, ...p.labels }, metricName: `${m.name}_bucket` } as MetricValue<string>);
      });
      values.push(
        { value: p.count, labels: { le: '+Inf', ...p.labels }, metricName: `${m.name}_bucket` } as MetricValue<string>,
        { value: p.sum, labels: { ...p.labels }, metricName: `${m.name}_sum` } as MetricValue<string>,
        { value: p.count, labels: { ...p.labels }, metricName: `${m.name}_count` } as MetricValue<string>,
      );
    }
    return { name: m.name, help: m.help, type: 'histogram', aggregator: m.aggregator, values };
  }
}
