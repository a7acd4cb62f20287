// Hostile input on both engines: generated bad values (NUL, lone surrogates, numbers beyond what is stored or with
// more decimals than are kept, Infinity, JSON nested past the limit, invalid UTF-8) in every kind of field of the
// write operations. Each must answer 400 in the error envelope and change nothing in any table.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { activeMachine } from './helpers/identity.ts';
import { agentWallet, pair } from './helpers/pairing.ts';
import { engines } from './helpers/db.ts';
import { MAX_JSON_DEPTH } from '../src/http/hostile.ts';
import { decimalPlaces } from '../src/contract/keywords.ts';

useMockMcr();

/** A raw JSON token that no stored field can hold faithfully. */
const hostileString = fc.oneof(
  fc.string({ maxLength: 20 }).map((s) => JSON.stringify(`${s}\u0000${s}`)),
  fc.constantFrom('"\\ud800"', '"abc\\udfff"', '"\\ud83d x"', '"\\u0000"'),
);
const hostileNumber = fc.oneof(
  fc.constantFrom('1e309', '-1e309', '1e13', '1e20', '10000000000', '1000000000.5'),
  fc
    .double({ min: 0, max: 1000, noNaN: true, noDefaultInfinity: true })
    .filter((x) => decimalPlaces(x) > 6)
    .map((x) => String(x)),
);
const deep = fc.integer({ min: MAX_JSON_DEPTH, max: 5000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`);
const hostileObject = fc.oneof(
  deep,
  hostileString.map((s) => `{"k": ${s}}`),
  hostileString.map((s) => `{${s}: 1}`),
  fc.constantFrom('{"n": 1e309}'),
);

interface Target {
  name: string;
  method: 'POST' | 'PATCH' | 'PUT';
  path: (c: Ctx) => string;
  body: (c: Ctx) => Record<string, unknown>;
  /** Field (dotted) -> the kind of hostile value to put there. */
  fields: Record<string, 'string' | 'number' | 'object'>;
  agent?: boolean;
}

interface Ctx {
  machineId: string;
  pairingId: string;
  token: string;
  policyId: string;
}

const TARGETS: Target[] = [
  {
    name: 'createPolicy',
    method: 'POST',
    path: () => '/api/v1/policies',
    body: () => ({ name: 'p', budgetCap: { amount: 1, currency: 'USDT' } }),
    fields: { name: 'string', 'budgetCap.amount': 'number', 'budgetCap.currency': 'string' },
  },
  {
    name: 'updatePolicy',
    method: 'PATCH',
    path: (c) => `/api/v1/policies/${c.policyId}`,
    body: () => ({ name: 'q' }),
    fields: { name: 'string' },
  },
  {
    name: 'createMarketOrder',
    method: 'POST',
    path: () => '/api/v1/market/orders',
    body: (c) => ({
      machineId: c.machineId,
      serviceId: 'svc_akash_gpu_lease',
      budget: { amount: 1, currency: 'AKT' },
      input: {},
    }),
    fields: { 'budget.amount': 'number', 'budget.currency': 'string', input: 'object', serviceId: 'string' },
    agent: true,
  },
  {
    name: 'searchMarket',
    method: 'POST',
    path: () => '/api/v1/market/search',
    body: (c) => ({ machineId: c.machineId, budget: { amount: 1 }, input: {} }),
    fields: { 'budget.amount': 'number', input: 'object', region: 'string' },
    agent: true,
  },
  {
    name: 'updateAgentPairing',
    method: 'PATCH',
    path: (c) => `/api/v1/machines/${c.machineId}/agent-pairings/${c.pairingId}`,
    body: () => ({ description: 'd', delegationPolicy: { dailySpendLimit: 5 } }),
    fields: {
      description: 'string',
      'delegationPolicy.dailySpendLimit': 'number',
      'delegationPolicy.perTransactionLimit': 'number',
      'delegationPolicy.currency': 'string',
    },
  },
  {
    name: 'createTask',
    method: 'POST',
    path: (c) => `/api/v1/machines/${c.machineId}/tasks`,
    body: () => ({ serviceType: 'compute.marketplace', taskType: 't', input: {}, constraints: { budget: 1 } }),
    fields: { taskType: 'string', input: 'object', 'constraints.budget': 'number' },
  },
  {
    name: 'createGraphNode',
    method: 'POST',
    path: (c) => `/api/v1/machines/${c.machineId}/graph/nodes`,
    body: () => ({ type: 'task', title: 't', data: {} }),
    fields: { title: 'string', data: 'object' },
  },
  {
    name: 'upsertRuntimeEndpoint',
    method: 'PUT',
    path: (c) => `/api/v1/machines/${c.machineId}/runtime-endpoints/qvac`,
    body: () => ({ endpointBaseUrl: 'http://127.0.0.1:9/v1', modelAlias: 'm' }),
    fields: { modelAlias: 'string', authToken: 'string' },
  },
];

/** The body as JSON text with `field` replaced by the raw token. */
function withRaw(body: Record<string, unknown>, field: string, raw: string): string {
  const copy = structuredClone(body);
  const keys = field.split('.');
  let node = copy as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
  node[keys[keys.length - 1]!] = '__HOSTILE__';
  return JSON.stringify(copy).replace('"__HOSTILE__"', raw);
}

async function snapshot(srv: TestServer): Promise<Record<string, number>> {
  const db = srv.db;
  const tables: string[] =
    db.client.config.client === 'pg'
      ? (await db.raw('select tablename as name from pg_tables where schemaname = current_schema()')).rows.map(
          (r: { name: string }) => r.name,
        )
      : (await db.raw("select name from sqlite_master where type = 'table'")).map((r: { name: string }) => r.name);
  const out: Record<string, number> = {};
  for (const t of tables.filter((n) => !n.startsWith('knex_') && !n.startsWith('sqlite_')))
    out[t] = Number((await db(t).count({ n: '*' }))[0]!.n);
  return out;
}

describe.each(engines())('hostile input on $name', (engine) => {
  let srv: TestServer;
  let ctx: Ctx;
  beforeAll(async () => {
    srv = await startTestServer({ engine });
    const machine = await activeMachine(srv.client, 1);
    const p = await pair(srv.client, machine.id, agentWallet('hostile'));
    const policy = await srv.client.post('/api/v1/policies', { name: 'base' });
    ctx = { machineId: machine.id, pairingId: p.id, token: p.pairingToken, policyId: policy.body.item.id };
  });
  afterAll(async () => srv?.close());

  const send = (t: Target, text: string) =>
    fetch(`${srv.url}${t.path(ctx)}`, {
      method: t.method,
      headers: { 'content-type': 'application/json', ...(t.agent ? { 'x-agent-pairing-token': ctx.token } : {}) },
      body: text,
    });

  it('answers 400 and writes nothing for generated bad values in every field kind of every write operation', async () => {
    const cases = fc.constantFrom(
      ...TARGETS.flatMap((t) => Object.entries(t.fields).map(([field, kind]) => ({ t, field, kind }))),
    );
    const before = await snapshot(srv);
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        cases.chain(({ t, field, kind }) =>
          (kind === 'string' ? hostileString : kind === 'number' ? hostileNumber : hostileObject).map((raw) => ({
            t,
            field,
            raw,
          })),
        ),
        async ({ t, field, raw }) => {
          runs++;
          const res = await send(t, withRaw(t.body(ctx), field, raw));
          const body = (await res.json()) as { error?: { code: string; details?: Array<{ location: string }> } };
          expect(res.status, `${t.name} ${field}=${raw.slice(0, 60)}: ${JSON.stringify(body)}`).toBe(400);
          expect(body.error?.code).toBe('VALIDATION_ERROR');
        },
      ),
      { numRuns: 150, seed: 20261130 },
    );
    expect(runs).toBe(150);
    expect(await snapshot(srv)).toEqual(before);
  });

  it('refuses invalid UTF-8, NUL in paths and queries, and bad query encoding with 400', async () => {
    const before = await snapshot(srv);
    const invalidUtf8 = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
    const r1 = await fetch(`${srv.url}/api/v1/policies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Uint8Array(invalidUtf8),
    });
    expect(r1.status).toBe(400);
    expect(((await r1.json()) as { error: { details: Array<{ rule: string }> } }).error.details[0]!.rule).toBe('utf-8');
    for (const path of [
      `/api/v1/machines/${ctx.machineId}%00`,
      '/api/v1/policies/pol%00x',
      '/api/v1/audit-events?cursor=abc%00',
      '/api/v1/audit-events?resourceType=%ff%fe',
      '/api/v1/machines?limit=1%00',
    ]) {
      const r = await srv.client.get(path);
      expect(r.status, path).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_ERROR');
    }
    expect((await srv.client.patch(`/api/v1/policies/${ctx.policyId}%00`, { name: 'x' })).status).toBe(400);
    // Just within the limits is accepted.
    const ok = await srv.client.post('/api/v1/policies', {
      name: 'edge ☃ 𝄞',
      budgetCap: { amount: 999999999.123456, currency: 'USDT' },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.item.budgetCap.amount).toBe(999999999.123456);
    const nested = `{"type":"task","title":"t","data":{"a":${'['.repeat(MAX_JSON_DEPTH - 2)}${']'.repeat(MAX_JSON_DEPTH - 2)}}}`;
    expect(
      (
        await srv.client.post(`/api/v1/machines/${ctx.machineId}/graph/nodes`, undefined, {
          rawBody: nested,
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(201);
    const after = await snapshot(srv);
    expect(after.policies).toBe(before.policies! + 1);
    expect(after.graph_nodes).toBe(before.graph_nodes! + 1);
  });
});
