// Secrets never leave: a busy scenario at LOG_LEVEL=trace with API auth on, then writes forced to fail inside the
// database (a trigger refuses them, so the failing statement carries the secret in its bindings). Every captured
// log line, every response body (but the one that hands a token out) and every audit payload is searched for every
// secret used: API keys, pairing tokens, agent tokens, runtime auth tokens, the session secret, provider
// credentials and payment headers.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, TEST_SECRET, type TestServer } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { activeMachine } from './helpers/identity.ts';
import { agentWallet, pair, pairingProof } from './helpers/pairing.ts';
import { engines } from './helpers/db.ts';

useMockMcr();
const OPERATOR_KEY = 'op-key-secret-0123456789-abcdef';
const AGENT_KEY = 'agent-key-secret-0123456789-abcdef';
let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

async function failWrites(s: TestServer, table: string) {
  if (s.db.client.config.client === 'pg') {
    await s.db.raw(
      `CREATE OR REPLACE FUNCTION forced_failure() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'forced failure'; END; $$ LANGUAGE plpgsql`,
    );
    await s.db.raw(
      `CREATE TRIGGER forced_${table} BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION forced_failure()`,
    );
  } else {
    await s.db.raw(
      `CREATE TRIGGER forced_${table}_i BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'forced failure'); END`,
    );
    await s.db.raw(
      `CREATE TRIGGER forced_${table}_u BEFORE UPDATE ON ${table} BEGIN SELECT RAISE(ABORT, 'forced failure'); END`,
    );
  }
}

describe.each(engines())('secrets on $name', (engine) => {
  it('appear in no log line at trace level, no response and no audit payload, also when writes fail', async () => {
    srv = await startTestServer({
      engine,
      env: {
        LOG_LEVEL: 'trace',
        PEAQOS_REQUIRE_API_AUTH: 'true',
        PEAQOS_API_KEY: OPERATOR_KEY,
        PEAQOS_AGENT_API_KEYS: AGENT_KEY,
      },
    });
    const s = srv;
    const bodies: string[] = [];
    const op = { 'x-api-key': OPERATOR_KEY };
    s.client.defaultHeaders = op;
    const record = <T extends { body: unknown }>(r: T, handsOut = false): T => {
      if (!handsOut) bodies.push(JSON.stringify(r.body));
      return r;
    };

    const machine = await activeMachine(s.client, 1);
    const wallet = agentWallet('secrets');
    const p = await pair(s.client, machine.id, wallet);
    const secrets: string[] = [OPERATOR_KEY, AGENT_KEY, TEST_SECRET, p.pairingToken];
    const agent = { headers: { 'x-api-key': AGENT_KEY, 'x-agent-pairing-token': p.pairingToken } };

    const enrolled = await s.client.post(`/api/v1/machines/${machine.id}/agents/enrollment`, {
      providerKeys: ['qvac'],
    });
    secrets.push(enrolled.body.item.agentToken);
    record(
      await s.client.post('/api/v1/machine-agents/heartbeat', {
        machineId: machine.id,
        agentId: enrolled.body.item.id,
        agentToken: enrolled.body.item.agentToken,
        endpoints: [
          {
            providerKey: 'qvac',
            endpointBaseUrl: 'http://127.0.0.1:9',
            authType: 'bearer',
            authToken: 'rt-heartbeat-token-secret-1',
          },
        ],
      }),
    );
    secrets.push('rt-heartbeat-token-secret-1');
    record(
      await s.client.put(`/api/v1/machines/${machine.id}/runtime-endpoints/minio`, {
        endpointBaseUrl: 'http://127.0.0.1:9',
        authType: 'api-key',
        authToken: 'rt-manual-token-secret-2',
      }),
    );
    secrets.push('rt-manual-token-secret-2');
    record(
      await s.client.post(
        '/api/v1/market/search',
        { machineId: machine.id, providerCredentials: { 'agentic-market': { apiKey: 'provider-cred-secret-3' } } },
        agent,
      ),
    );
    secrets.push('provider-cred-secret-3');
    const order = record(
      await s.client.post('/api/v1/market/orders', { machineId: machine.id, serviceId: 'svc_humanity_pop' }, agent),
    );
    record(
      await s.client.post(
        `/api/v1/market/orders/${order.body.item.id}/payment-proof`,
        { txHash: `0x${'ab'.repeat(32)}`, paymentHeaders: { xPayment: 'payment-header-secret-4' } },
        agent,
      ),
    );
    secrets.push('payment-header-secret-4');
    const rotated = await s.client.post(`/api/v1/machines/${machine.id}/agent-pairings/${p.id}/sessions`, {
      agentProof: await pairingProof(s.client, machine.id, wallet),
    });
    secrets.push(rotated.body.item.pairingToken);
    // Wrong credentials are logged as little as right ones.
    record(await s.client.get('/api/v1/policies', { headers: { 'x-api-key': 'wrong-key-secret-5' } }));
    secrets.push('wrong-key-secret-5');

    // Writes that fail inside the database, with the secret among the statement's values.
    await failWrites(s, 'runtime_endpoints');
    const failed = record(
      await s.client.put(`/api/v1/machines/${machine.id}/runtime-endpoints/minio`, {
        endpointBaseUrl: 'http://127.0.0.1:9',
        authType: 'bearer',
        authToken: 'rt-failing-token-secret-6',
      }),
    );
    expect(failed.status).toBe(500);
    secrets.push('rt-failing-token-secret-6');
    await failWrites(s, 'agent_pairings');
    const failedRotate = record(
      await s.client.post(`/api/v1/machines/${machine.id}/agent-pairings/${p.id}/sessions`, {
        agentProof: await pairingProof(s.client, machine.id, wallet),
      }),
    );
    expect(failedRotate.status).toBe(500);

    const audit = JSON.stringify((await s.client.get('/api/v1/audit-events?limit=500')).body.items);
    const logs = s.logs.join('');
    expect(logs).toMatch(/"level":10/); // trace lines were written
    expect(logs).toMatch(/forced failure/); // and the failures were logged
    for (const secret of secrets) {
      expect(logs.includes(secret), `log holds ${secret.slice(0, 12)}…`).toBe(false);
      expect(audit.includes(secret), `audit holds ${secret.slice(0, 12)}…`).toBe(false);
      for (const b of bodies)
        expect(b.includes(secret), `a response holds ${secret.slice(0, 12)}…: ${b.slice(0, 200)}`).toBe(false);
    }
  });
});
