// GET /metrics after a scripted flow (machine, pairing, search, order, payment intent and proof): every counter
// moved by exactly what happened, no label carries an id, and the endpoint is guarded like an operator operation.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { activeMachine } from './helpers/identity.ts';
import { agentWallet, pair } from './helpers/pairing.ts';
import { listOperations } from '../src/contract/spec.ts';
import { Counter, Histogram, Registry } from 'prom-client';
import { HttpSeries, LATENCY } from '../src/metrics.ts';

useMockMcr();
let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

type Series = Map<string, number>;
/** name{label="v",...} -> value, read from the library's own JSON view of the registry. */
async function snapshot(s: TestServer): Promise<Series> {
  const out: Series = new Map();
  for (const m of await s.services.metrics!.registry.getMetricsAsJSON()) {
    for (const v of m.values as Array<{
      value: number;
      labels: Record<string, string | number>;
      metricName?: string;
    }>) {
      const labels = Object.entries(v.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => `${k}="${x}"`)
        .join(',');
      out.set(`${v.metricName ?? m.name}{${labels}}`, v.value);
    }
  }
  return out;
}
const delta = (a: Series, b: Series, key: string) => (b.get(key) ?? 0) - (a.get(key) ?? 0);

describe('metrics', () => {
  it('count exactly what a scripted flow did, labelled by operation, never by id', async () => {
    srv = await startTestServer({ env: { PEAQOS_RATE_LIMIT_WRITES_PER_MINUTE: '1000' } });
    const before = await snapshot(srv);
    const machine = await activeMachine(srv.client, 1);
    const p = await pair(srv.client, machine.id, agentWallet('metrics'));
    const h = { headers: { 'x-agent-pairing-token': p.pairingToken } };
    expect((await srv.client.post('/api/v1/market/search', { machineId: machine.id }, h)).status).toBe(201);
    const o = (
      await srv.client.post(
        '/api/v1/market/orders',
        { machineId: machine.id, serviceId: 'svc_humanity_pop' },
        { headers: { ...h.headers, 'idempotency-key': 'm-1' } },
      )
    ).body.item;
    expect(
      (
        await srv.client.post(
          '/api/v1/market/orders',
          { machineId: machine.id, serviceId: 'svc_humanity_pop' },
          { headers: { ...h.headers, 'idempotency-key': 'm-1' } },
        )
      ).headers.get('idempotent-replayed'),
    ).toBe('true');
    await srv.client.post(`/api/v1/market/orders/${o.id}/payment-intent`, { rail: 'wallet' }, h);
    await srv.client.post(`/api/v1/market/orders/${o.id}/payment-proof`, { txHash: `0x${'ab'.repeat(32)}` }, h);
    await srv.client.post(`/api/v1/market/orders/${o.id}/cancel`, {}, h); // refused: the payment is held
    await srv.client.get('/api/v1/no-such-route');
    const after = await snapshot(srv);
    const d = (k: string) => delta(before, after, k);

    expect(d('peaqos_market_order_transitions_total{event="created"}')).toBe(1);
    expect(d('peaqos_market_order_transitions_total{event="cancelled"}')).toBe(0);
    expect(d('peaqos_market_payment_transitions_total{event="intent-created"}')).toBe(1);
    expect(d('peaqos_market_payment_transitions_total{event="proof-recorded"}')).toBe(1);
    expect(d('peaqos_market_searches_total{}')).toBe(1);
    expect(d('peaqos_agent_pairings_total{event="created"}')).toBe(1);
    expect(d('peaqos_challenges_issued_total{purpose="machine-identity"}')).toBe(1);
    expect(d('peaqos_challenges_issued_total{purpose="agent-pairing"}')).toBe(1);
    expect(d('peaqos_idempotent_replays_total{}')).toBe(1);
    expect(d('peaqos_http_requests_total{method="POST",operation="createMarketOrder",status="201"}')).toBe(2);
    expect(d('peaqos_http_requests_total{method="POST",operation="cancelMarketOrder",status="409"}')).toBe(1);
    expect(d('peaqos_http_requests_total{method="GET",operation="unmatched",status="404"}')).toBe(1);
    expect(d('peaqos_http_request_duration_seconds_count{method="POST",operation="createMarketPaymentIntent"}')).toBe(
      1,
    );
    expect(d('peaqos_mcr_requests_total{outcome="ok"}')).toBeGreaterThanOrEqual(3);
    expect(d('peaqos_mcr_cache_total{result="miss"}')).toBe(d('peaqos_mcr_requests_total{outcome="ok"}'));
    expect(d('peaqos_store_transaction_duration_seconds_count{outcome="commit"}')).toBeGreaterThanOrEqual(7);

    // Over HTTP: the text format, process metrics, and no label value that is an id.
    const res = await fetch(`${srv.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^peaqos_process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^# TYPE peaqos_http_request_duration_seconds histogram$/m);
    const ids = [machine.id, p.id, o.id];
    for (const id of ids) expect(text).not.toContain(id);
    const operations = new Set([
      ...listOperations().map((op) => op.operationId),
      'unmatched',
      'docs',
      'metrics',
      'preflight',
    ]);
    for (const [, op] of text.matchAll(/operation="([^"]*)"/g)) expect(operations.has(op!), op).toBe(true);
  });

  it('is an operator operation when API auth is on, and PEAQOS_METRICS=false turns it off', async () => {
    srv = await startTestServer({
      env: { PEAQOS_REQUIRE_API_AUTH: 'true', PEAQOS_API_KEY: 'op-key', PEAQOS_AGENT_API_KEYS: 'agent-key' },
    });
    expect((await fetch(`${srv.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${srv.url}/metrics`, { headers: { 'x-api-key': 'agent-key' } })).status).toBe(403);
    expect((await fetch(`${srv.url}/metrics`, { headers: { 'x-api-key': 'op-key' } })).status).toBe(200);
    await srv.close();
    srv = await startTestServer({ env: { PEAQOS_METRICS: 'false' } });
    expect((await fetch(`${srv.url}/metrics`)).status).toBe(404);
    expect(srv.services.metrics).toBeUndefined();
  });

  it('counts refusals by the rate limits', async () => {
    srv = await startTestServer({ env: { PEAQOS_RATE_LIMIT_WRITES_PER_MINUTE: '2' } });
    for (let i = 0; i < 4; i++) await srv.client.post('/api/v1/policies', { name: `p${i}` });
    const after = await snapshot(srv);
    expect(after.get('peaqos_rate_limited_total{budget="writes"}')).toBe(2);
  });
});

describe('HTTP series', () => {
  // The per-request series are kept in plain numbers (HttpSeries); what a scrape reads must be what prom-client's
  // own Counter and Histogram give for the same requests, in the text format and in the JSON view.
  it("read exactly as prom-client's Counter and Histogram read for the same requests", async () => {
    const ours = new Registry();
    const series = new HttpSeries(ours);
    const theirs = new Registry();
    const counter = new Counter({
      name: 'peaqos_http_requests_total',
      help: 'HTTP requests by operation, method and status.',
      labelNames: ['operation', 'method', 'status'] as const,
      registers: [theirs],
    });
    const histogram = new Histogram({
      name: 'peaqos_http_request_duration_seconds',
      help: 'HTTP request duration by operation and method.',
      labelNames: ['operation', 'method'] as const,
      buckets: LATENCY,
      registers: [theirs],
    });
    // Edges of buckets, beyond the last one, several statuses of one operation, a label value needing escapes.
    const requests: [string, string, number, number][] = [
      ['getMachine', 'GET', 200, 0.0004],
      ['getMachine', 'GET', 200, 0.001],
      ['getMachine', 'GET', 404, 0.0025],
      ['getMachine', 'HEAD', 200, 0.003],
      ['createMarketOrder', 'POST', 201, 0.02],
      ['createMarketOrder', 'POST', 409, 12],
      ['unmatched', 'GET', 404, 10],
      ['unmatched', 'weird"method\\', 405, 0.7],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [operation, method, status, seconds] of requests) {
        series.record(operation, method, status, seconds * (round + 1));
        counter.inc({ operation, method, status: String(status) });
        histogram.observe({ operation, method }, seconds * (round + 1));
      }
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // prom-client adds `exemplar: null` to each histogram value (exemplars are off): not part of the reading.
    const json = async (r: Registry) =>
      (await r.getMetricsAsJSON()).map((m) => ({
        ...m,
        values: m.values.map((v) => {
          const { exemplar: _none, ...rest } = v as typeof v & { exemplar?: unknown };
          return rest;
        }),
      }));
    expect(await json(ours)).toEqual(await json(theirs));
    expect(await ours.metrics()).toContain(
      'peaqos_http_request_duration_seconds_bucket{le="0.001",operation="getMachine",method="GET"} 3',
    );

    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
