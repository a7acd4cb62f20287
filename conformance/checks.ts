// Every check the kit runs, by group. Checks marked `designed` run in the reference profile only; checks that
// need machines with MCR-backed proofs are skipped with --no-identity.
import { Wallet } from 'ethers';
import { SignJWT, UnsecuredJWT, decodeJwt, base64url } from 'jose';
import type { Kit } from './kit.ts';
import type { Fixtures, KitMachineIdentity } from './fixtures.ts';
import type { Exchange } from './http.ts';
import { negativeCases, requestSchema } from './negative.ts';

interface Machine {
  id: string;
  identity: KitMachineIdentity;
}
interface Pairing {
  id: string;
  token: string;
  agent: Wallet;
  machineId: string;
}

export function registerChecks(kit: Kit, fx: Fixtures): void {
  const h = kit.http;
  const doc = kit.validator.doc;
  const state: { machine?: Machine; second?: Machine; pairing?: Pairing; secondPairing?: Pairing; orderId?: string; secret: string } = { secret: `kit-secret-${Math.random().toString(36).slice(2)}` };
  const tokenHeader = (t: string) => ({ 'x-agent-pairing-token': t });

  async function machineChallenge(ref: string) {
    const c = await h.send('POST', '/api/v1/machine-identity/challenges', { body: { identityRef: ref } });
    kit.ok(c, 'createMachineIdentityChallenge', 201);
    return c;
  }
  async function register(identity: KitMachineIdentity, signer: Wallet = identity.wallet): Promise<Exchange> {
    const c = await machineChallenge(identity.did);
    const signature = await signer.signMessage(c.body.item.message);
    return h.send('POST', '/api/v1/machines', {
      body: { displayName: `conformance ${identity.mcrId}`, ownerId: 'conformance-kit', machineType: 'test-rig', runtimeProfile: 'conformance', identityRef: identity.did, identityProof: { challengeId: c.body.item.challengeId, signature }, capabilities: ['llm.inference'] },
    });
  }
  async function activeMachine(): Promise<Machine> {
    const identity = fx.newMachine();
    const created = kit.ok(await register(identity), 'createMachine', 201);
    const act = kit.ok(await h.send('PATCH', `/api/v1/machines/${created.body.item.id}`, { body: { status: 'active' } }), 'updateMachine', 200);
    kit.assert(act.body.item.status === 'active', act, 'updateMachine', 'status active after activation');
    return { id: created.body.item.id, identity };
  }
  async function pairingChallenge(machineId: string, agent: Wallet) {
    const c = await h.send('POST', `/api/v1/machines/${machineId}/agent-pairings/challenges`, { body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer' } });
    kit.ok(c, 'createAgentPairingChallenge', 201);
    return { challengeId: c.body.item.challengeId as string, signature: await agent.signMessage(c.body.item.message) };
  }
  async function pairAgent(machineId: string): Promise<Pairing> {
    const agent = Wallet.createRandom() as unknown as Wallet;
    const proof = await pairingChallenge(machineId, agent);
    const r = kit.ok(await h.send('POST', `/api/v1/machines/${machineId}/agent-pairings`, { body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer', agentProof: proof } }), 'createAgentPairing', 201);
    kit.assert(typeof r.body.item.pairingToken === 'string', r, 'createAgentPairing', 'pairingToken in the create response');
    return { id: r.body.item.id, token: r.body.item.pairingToken, agent, machineId };
  }
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) kit.skip(`needs ${what}, which an earlier check could not set up`);
    return v as T;
  };

  kit.group('health', (check) => {
    check('GET /health answers { ok: true } without an API key', async () => {
      const r = await h.send('GET', '/health', { apiKey: null });
      kit.ok(r, 'getHealth', 200);
      kit.assert(r.body?.ok === true, r, 'getHealth', 'body { ok: true }');
    });
    check('GET /api/v1/readiness answers { status, checks[] }', async () => {
      kit.ok(await h.send('GET', '/api/v1/readiness'), 'getReadiness', [200, 503]);
    });
  });

  kit.group('auth', (check) => {
    check('API key: missing key is AUTH_REQUIRED, a wrong key AUTH_INVALID, /health stays open', async () => {
      if (!kit.opts.apiKeyGiven) kit.skip('no --api-key given: the target is treated as public');
      kit.error(await h.send('GET', '/api/v1/policies', { apiKey: null }), 'listPolicies', 'AUTH_REQUIRED');
      kit.error(await h.send('GET', '/api/v1/policies', { apiKey: 'conformance-wrong-key' }), 'listPolicies', 'AUTH_INVALID');
      kit.error(await h.send('POST', '/api/v1/policies', { apiKey: 'conformance-wrong-key', body: { name: 'x' } }), 'createPolicy', 'AUTH_INVALID');
      kit.ok(await h.send('GET', '/health', { apiKey: null }), 'getHealth', 200);
    });
    check('public deployment: /api/v1 answers without an API key', async () => {
      if (kit.opts.apiKeyGiven) kit.skip('--api-key given: the target requires keys');
      kit.ok(await h.send('GET', '/api/v1/policies', { apiKey: null }), 'listPolicies', 200);
    });
  });

  kit.group('errors', (check) => {
    check('an unknown route is 404 NOT_FOUND in the envelope', async () => {
      kit.error(await h.send('GET', '/api/v1/no-such-route'), null, 'NOT_FOUND');
    }, { designed: true });
    check('a known path with the wrong method is 405', async () => {
      const r = await h.send('DELETE', '/api/v1/policies');
      kit.assert(r.status === 405, r, null, 'HTTP 405');
      kit.error(r, null, 'METHOD_NOT_ALLOWED');
    }, { designed: true });
    check('malformed JSON is 400 VALIDATION_ERROR', async () => {
      kit.error(await h.send('POST', '/api/v1/policies', { raw: '{"name": ' }), 'createPolicy', 'VALIDATION_ERROR');
    });
    check('a body over 1 MiB is 413 and not a 500', async () => {
      const r = await h.send('POST', '/api/v1/policies', { raw: JSON.stringify({ name: 'x'.repeat(1_100_000) }) });
      kit.error(r, 'createPolicy', 'PAYLOAD_TOO_LARGE');
    }, { designed: true });
  });

  kit.group('pagination', (check) => {
    check('limit bounds, opaque cursors, nextCursor omitted on the last page, no duplicates or gaps', async () => {
      const made: string[] = [];
      for (let i = 0; i < 3; i++) made.push(kit.ok(await h.send('POST', '/api/v1/policies', { body: { name: `conformance paging ${i}` } }), 'createPolicy', 201).body.item.id);
      const seen: string[] = [];
      let cursor: string | undefined;
      let guard = 0;
      do {
        const r = kit.ok(await h.send('GET', `/api/v1/policies?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), 'listPolicies', 200);
        kit.assert(!('nextCursor' in r.body) || typeof r.body.nextCursor === 'string', r, 'listPolicies', 'nextCursor is a string or omitted, never null');
        kit.assert(r.body.items.length <= 1, r, 'listPolicies', 'at most `limit` items');
        if (r.body.nextCursor !== undefined) kit.assert(/^[A-Za-z0-9_-]+$/.test(r.body.nextCursor), r, 'listPolicies', 'an opaque base64url cursor');
        else kit.assert(r.body.items.length <= 1, r, 'listPolicies', 'the last page');
        seen.push(...r.body.items.map((p: { id: string }) => p.id));
        cursor = r.body.nextCursor;
      } while (cursor && ++guard < 10_000);
      kit.assert(new Set(seen).size === seen.length, null, 'listPolicies', 'no item appears on two pages', `duplicates in ${seen.length} items`);
      for (const id of made) kit.assert(seen.includes(id), null, 'listPolicies', `every item is on some page (${id})`, 'missing');
      for (const bad of ['0', '501', '1.5', 'ten']) kit.error(await h.send('GET', `/api/v1/policies?limit=${bad}`), 'listPolicies', 'VALIDATION_ERROR');
      kit.error(await h.send('GET', '/api/v1/policies?cursor=not!a!cursor'), 'listPolicies', 'VALIDATION_ERROR');
    });
    check('the machine list pages without duplicates', async () => {
      for (let i = 0; i < 2; i++) await activeMachine();
      const first = kit.ok(await h.send('GET', '/api/v1/machines?limit=1'), 'listMachines', 200);
      kit.assert(typeof first.body.nextCursor === 'string', first, 'listMachines', 'a nextCursor when more machines exist');
      const second = kit.ok(await h.send('GET', `/api/v1/machines?limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`), 'listMachines', 200);
      kit.assert(second.body.items[0]?.id !== first.body.items[0]?.id, second, 'listMachines', 'the next page holds the next machine');
    }, { identity: true });
  });

  kit.group('negative', (check) => {
    const policyCount = async () => {
      let n = 0;
      let cursor: string | undefined;
      do {
        const r = await h.send('GET', `/api/v1/policies?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        n += r.body?.items?.length ?? 0;
        cursor = r.body?.nextCursor;
      } while (cursor);
      return n;
    };
    check('generated bad POST /policies bodies get 400 VALIDATION_ERROR and change nothing', async () => {
      const before = await policyCount();
      for (const c of negativeCases(doc, requestSchema(doc, '/api/v1/policies', 'post'), { name: 'neg', budgetCap: { amount: 1, currency: 'USDT' }, nativeOnly: true }, kit.opts.seed)) {
        const r = await h.send('POST', '/api/v1/policies', { body: c.body });
        kit.assert(r.status !== 500, r, 'createPolicy', `no 500 for ${c.label}`);
        kit.error(r, 'createPolicy', 'VALIDATION_ERROR');
      }
      const after = await policyCount();
      kit.assert(after === before, null, 'createPolicy', 'no policy was created by a rejected request', `${before} -> ${after}`);
    });
    check('generated bad POST /machines and identity-challenge bodies get 400 VALIDATION_ERROR', async () => {
      const identity = fx.newMachine();
      const valid = { displayName: 'neg', ownerId: 'kit', machineType: 't', runtimeProfile: 'r', identityRef: identity.did };
      for (const c of negativeCases(doc, requestSchema(doc, '/api/v1/machines', 'post'), valid, kit.opts.seed)) {
        const r = await h.send('POST', '/api/v1/machines', { body: c.body });
        kit.assert(r.status !== 500, r, 'createMachine', `no 500 for ${c.label}`);
        kit.error(r, 'createMachine', 'VALIDATION_ERROR');
      }
      for (const c of negativeCases(doc, requestSchema(doc, '/api/v1/machine-identity/challenges', 'post'), { identityRef: identity.did }, kit.opts.seed)) {
        kit.error(await h.send('POST', '/api/v1/machine-identity/challenges', { body: c.body }), 'createMachineIdentityChallenge', 'VALIDATION_ERROR');
      }
      const list = await h.send('GET', '/api/v1/machines?limit=500');
      kit.assert(!JSON.stringify(list.body).includes(identity.did), list, 'listMachines', 'no machine was created by a rejected request');
    }, { identity: true });
    check('generated bad bodies on machine-bound writes get 400 VALIDATION_ERROR', async () => {
      const m = state.machine ?? (state.machine = await activeMachine());
      const targets: Array<[string, string, string, Record<string, unknown>]> = [
        ['/api/v1/machines/{machineId}/runtime-endpoints/{providerKey}', 'put', `/api/v1/machines/${m.id}/runtime-endpoints/negcheck`, { endpointBaseUrl: fx.runtimeUrl }],
        ['/api/v1/machines/{machineId}/tasks', 'post', `/api/v1/machines/${m.id}/tasks`, { serviceType: 'compute.marketplace', taskType: 'neg', constraints: { budget: 1 } }],
        ['/api/v1/machines/{machineId}/graph/nodes', 'post', `/api/v1/machines/${m.id}/graph/nodes`, { type: 'skill', title: 'neg' }],
      ];
      const opIds: Record<string, string> = { put: 'upsertRuntimeEndpoint', tasks: 'createTask', nodes: 'createGraphNode' };
      for (const [template, method, path, valid] of targets) {
        const opId = method === 'put' ? opIds.put! : path.endsWith('tasks') ? opIds.tasks! : opIds.nodes!;
        for (const c of negativeCases(doc, requestSchema(doc, template, method), valid, kit.opts.seed)) {
          const r = await h.send(method.toUpperCase(), path, { body: c.body });
          kit.assert(r.status !== 500, r, opId, `no 500 for ${c.label}`);
          kit.error(r, opId, 'VALIDATION_ERROR');
        }
      }
      const eps = await h.send('GET', `/api/v1/machines/${m.id}/runtime-endpoints`);
      kit.assert(!JSON.stringify(eps.body).includes('negcheck'), eps, 'listRuntimeEndpoints', 'no endpoint was created by a rejected request');
    }, { identity: true });
  });

  kit.group('identity', (check) => {
    check('register with a signed DID-controller challenge; created as draft; activate; read back', async () => {
      const identity = fx.newMachine();
      const created = kit.ok(await register(identity), 'createMachine', 201);
      const m = created.body.item;
      kit.assert(m.status === 'draft', created, 'createMachine', 'a new machine is draft');
      kit.assert(m.identityProof?.signerAddress?.toLowerCase() === identity.wallet.address.toLowerCase(), created, 'createMachine', 'identityProof.signerAddress is the controller');
      kit.ok(await h.send('PATCH', `/api/v1/machines/${m.id}`, { body: { status: 'active' } }), 'updateMachine', 200);
      const got = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}`), 'getMachine', 200);
      kit.assert(got.body.item.status === 'active', got, 'getMachine', 'status active');
      const list = kit.ok(await h.send('GET', '/api/v1/machines?limit=500'), 'listMachines', 200);
      void list;
      state.machine ??= { id: m.id, identity };
    }, { identity: true });
    check('a replayed challenge is refused', async () => {
      const identity = fx.newMachine();
      const c = await machineChallenge(identity.did);
      const signature = await identity.wallet.signMessage(c.body.item.message);
      const body = { displayName: 'replay', ownerId: 'kit', machineType: 't', runtimeProfile: 'r', identityRef: identity.did, identityProof: { challengeId: c.body.item.challengeId, signature } };
      const first = kit.ok(await h.send('POST', '/api/v1/machines', { body }), 'createMachine', 201);
      const replay = await h.send('PATCH', `/api/v1/machines/${first.body.item.id}`, { body: { identityProof: body.identityProof } });
      kit.error(replay, 'updateMachine', 'MACHINE_IDENTITY_PROOF_INVALID');
      const other = fx.newMachine();
      const again = await h.send('POST', '/api/v1/machines', { body: { ...body, identityRef: other.did } });
      kit.error(again, 'createMachine', 'MACHINE_IDENTITY_PROOF_INVALID');
    }, { identity: true });
    check('a signature by another key, a missing proof and a duplicate identity are refused', async () => {
      const identity = fx.newMachine();
      kit.error(await register(identity, Wallet.createRandom() as unknown as Wallet), 'createMachine', 'MACHINE_IDENTITY_PROOF_INVALID');
      kit.error(await h.send('POST', '/api/v1/machines', { body: { displayName: 'x', ownerId: 'kit', machineType: 't', runtimeProfile: 'r', identityRef: identity.did } }), 'createMachine', 'MACHINE_IDENTITY_PROOF_REQUIRED');
      kit.ok(await register(identity), 'createMachine', 201);
      kit.error(await register(identity), 'createMachine', 'MACHINE_IDENTITY_EXISTS');
    }, { identity: true });
    check('identityRef is immutable; activating an unverified machine is refused; unknown machines are 404', async () => {
      const m = state.machine ?? (state.machine = await activeMachine());
      kit.error(await h.send('PATCH', `/api/v1/machines/${m.id}`, { body: { identityRef: fx.newMachine().did } }), 'updateMachine', 'MACHINE_IDENTITY_IMMUTABLE');
      kit.error(await h.send('GET', '/api/v1/machines/conformance-missing-machine'), 'getMachine', 'NOT_FOUND');
    }, { identity: true });
    check('a machine that no longer resolves through MCR is MACHINE_NOT_ACTIVATED', async () => {
      const m = await activeMachine();
      fx.mcr!.registry.unregister(m.identity.mcrId);
      await new Promise((r) => setTimeout(r, kit.opts.mcrCacheWaitMs ?? 0));
      const r = await h.send('GET', `/api/v1/machines/${m.id}`);
      // A target that caches MCR answers still sees the machine: say how to give it time, not just that it failed.
      if (r.status === 200) kit.fail(r, 'getMachine', 'error code MACHINE_NOT_ACTIVATED once MCR no longer knows the machine', `200: the machine still resolves. If the target caches MCR answers, pass its cache time as --mcr-cache-wait-ms (${kit.opts.mcrCacheWaitMs ?? 0} ms now), or run it without the cache.`);
      kit.error(r, 'getMachine', 'MACHINE_NOT_ACTIVATED');
    }, { identity: true });
    check('an expired identity proof is refused', async () => {
      const identity = fx.newMachine();
      const c = await machineChallenge(identity.did);
      const wait = Date.parse(c.body.item.expiresAt) - Date.now();
      if (wait > 15_000) kit.skip(`the target's challenges live ${Math.round(wait / 1000)} s; start it with a short challenge TTL to exercise expiry`);
      await new Promise((r) => setTimeout(r, Math.max(0, wait) + 300));
      const signature = await identity.wallet.signMessage(c.body.item.message);
      const r = await h.send('POST', '/api/v1/machines', { body: { displayName: 'late', ownerId: 'kit', machineType: 't', runtimeProfile: 'r', identityRef: identity.did, identityProof: { challengeId: c.body.item.challengeId, signature } } });
      kit.error(r, 'createMachine', 'MACHINE_IDENTITY_PROOF_EXPIRED');
    }, { identity: true });
  });

  kit.group('pairings', (check) => {
    check('pair an agent; the token is returned once and never shown again', async () => {
      const m = state.machine ?? (state.machine = await activeMachine());
      const p = await pairAgent(m.id);
      state.pairing = p;
      const list = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/agent-pairings`), 'listAgentPairings', 200);
      kit.assert(!JSON.stringify(list.body).includes(p.token), list, 'listAgentPairings', 'the list never shows pairingToken');
      const claims = decodeJwt(p.token);
      for (const c of ['machineId', 'pairingId', 'sessionId', 'agentAddress', 'delegationPolicyHash', 'exp']) kit.assert(c in claims, null, 'createAgentPairing', `the token carries ${c}`, JSON.stringify(claims));
    }, { identity: true });
    check('GET one pairing never shows the token', async () => {
      const p = need(state.pairing, 'a pairing');
      const r = kit.ok(await h.send('GET', `/api/v1/machines/${p.machineId}/agent-pairings/${p.id}`), 'getAgentPairing', 200);
      kit.assert(!JSON.stringify(r.body).includes(p.token), r, 'getAgentPairing', 'no pairingToken');
    }, { identity: true, designed: true });
    check('a replayed pairing challenge and a foreign signature are refused', async () => {
      const m = need(state.machine, 'a machine');
      const agent = Wallet.createRandom() as unknown as Wallet;
      const proof = await pairingChallenge(m.id, agent);
      const body = { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer', agentProof: proof };
      kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, { body }), 'createAgentPairing', 201);
      kit.error(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, { body }), 'createAgentPairing', 'AGENT_PAIRING_PROOF_INVALID');
      const forged = await pairingChallenge(m.id, agent);
      const bad = { ...body, agentProof: { ...forged, signature: await (Wallet.createRandom() as unknown as Wallet).signMessage('x') } };
      kit.error(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, { body: bad }), 'createAgentPairing', 'AGENT_PAIRING_PROOF_INVALID');
      kit.error(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, { body: { agentAddress: agent.address, agentProvider: 'c', agentRole: 'b' } }), 'createAgentPairing', 'AGENT_PAIRING_PROOF_REQUIRED');
    }, { identity: true });
    check('rotation issues a new token and retires the old one; a repolicy retires tokens', async () => {
      const m = need(state.machine, 'a machine');
      const p = await pairAgent(m.id);
      const search = (t: string) => h.send('POST', '/api/v1/market/search', { body: { machineId: m.id }, headers: tokenHeader(t) });
      const rot = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/${p.id}/sessions`, { body: { agentProof: await pairingChallenge(m.id, p.agent) } }), 'createAgentPairingSession', 201);
      const fresh = rot.body.item.pairingToken as string;
      kit.assert(fresh && fresh !== p.token, rot, 'createAgentPairingSession', 'a new pairingToken');
      kit.error(await search(p.token), 'searchMarket', 'AGENT_AUTH_INVALID');
      kit.ok(await search(fresh), 'searchMarket', 201);
      kit.ok(await h.send('PATCH', `/api/v1/machines/${m.id}/agent-pairings/${p.id}`, { body: { delegationPolicy: { dailySpendLimit: 100 } } }), 'updateAgentPairing', 200);
      kit.error(await search(fresh), 'searchMarket', ['AGENT_AUTH_INVALID', 'AGENT_AUTH_EXPIRED']);
    }, { identity: true });
    check('a revoked pairing is kept and its token refused', async () => {
      const m = need(state.machine, 'a machine');
      const p = await pairAgent(m.id);
      const r = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/${p.id}/revoke`), 'revokeAgentPairing', 200);
      kit.assert(r.body.item.status === 'revoked', r, 'revokeAgentPairing', 'status revoked');
      kit.error(await h.send('POST', '/api/v1/market/search', { body: { machineId: m.id }, headers: tokenHeader(p.token) }), 'searchMarket', 'AGENT_PAIRING_INACTIVE');
    }, { identity: true, designed: true });
  });

  kit.group('security', (check) => {
    check('tampered, alg:none, foreign-secret and missing tokens are refused on market calls', async () => {
      const p = need(state.pairing, 'a pairing');
      const search = (headers: Record<string, string>) => h.send('POST', '/api/v1/market/search', { body: { machineId: p.machineId }, headers });
      kit.error(await search({}), 'searchMarket', ['AGENT_AUTH_REQUIRED', 'AGENT_PAIRING_REQUIRED']);
      const claims = decodeJwt(p.token);
      const [hd, , sig] = p.token.split('.');
      const tampered = `${hd}.${base64url.encode(JSON.stringify({ ...claims, delegationPolicyHash: '0'.repeat(64) }))}.${sig}`;
      const none = new UnsecuredJWT(claims).encode();
      const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('a-secret-the-target-does-not-know-at-all'));
      for (const t of [tampered, none, foreign, 'not-a-token']) kit.error(await search(tokenHeader(t)), 'searchMarket', 'AGENT_AUTH_INVALID');
    }, { identity: true });
    check("one machine's token cannot act for another machine", async () => {
      const a = need(state.pairing, 'a pairing');
      const other = state.second ?? (state.second = await activeMachine());
      const b = state.secondPairing ?? (state.secondPairing = await pairAgent(other.id));
      kit.error(await h.send('POST', '/api/v1/market/search', { body: { machineId: a.machineId }, headers: tokenHeader(b.token) }), 'searchMarket', ['AGENT_AUTH_INVALID', 'AGENT_PAIRING_REQUIRED']);
      kit.error(await h.send('POST', '/api/v1/market/orders', { body: { machineId: a.machineId, serviceId: 'any' }, headers: tokenHeader(b.token) }), 'createMarketOrder', ['AGENT_AUTH_INVALID', 'AGENT_PAIRING_REQUIRED']);
      if (state.orderId) {
        kit.error(await h.send('POST', `/api/v1/market/orders/${state.orderId}/execute`, { body: {}, headers: tokenHeader(b.token) }), 'executeMarketOrder', ['AGENT_AUTH_INVALID', 'AGENT_PAIRING_REQUIRED']);
      }
    }, { identity: true });
    check('an agent-scoped key: every operator operation is 403 AUTH_FORBIDDEN; agent operations work with its token', async () => {
      const agentKey = kit.opts.agentApiKey;
      if (!agentKey) kit.skip('no --agent-api-key given');
      const p = need(state.pairing, 'a pairing');
      for (const op of kit.validator.operations()) {
        const roles = op.operation['x-peaqos-roles'] as string[] | undefined;
        if (!roles || roles.some((r) => r !== 'operator')) continue;
        const path = op.path.replace(/\{[^}]+\}/g, 'conformance-x');
        const hasBody = ['post', 'put', 'patch'].includes(op.method);
        kit.error(await h.send(op.method.toUpperCase(), path, { apiKey: agentKey, ...(hasBody ? { body: {} } : {}) }), op.operationId, 'AUTH_FORBIDDEN');
      }
      kit.ok(await h.send('POST', '/api/v1/market/search', { apiKey: agentKey, body: { machineId: p.machineId }, headers: tokenHeader(p.token) }), 'searchMarket', 201);
      kit.ok(await h.send('GET', '/api/v1/skills', { apiKey: agentKey }), 'listSkills', 200);
    }, { identity: true, designed: true });
    check("one MCR machine registers once: its peaqos:machine:<id> form after its DID is MACHINE_IDENTITY_EXISTS", async () => {
      const m = need(state.machine, 'a machine');
      const alias = `peaqos:machine:${m.identity.mcrId}`;
      const c = await machineChallenge(alias);
      const signature = await m.identity.wallet.signMessage(c.body.item.message);
      const r = await h.send('POST', '/api/v1/machines', { body: { displayName: 'alias', ownerId: 'conformance-kit', machineType: 'test-rig', runtimeProfile: 'conformance', identityRef: alias, identityProof: { challengeId: c.body.item.challengeId, signature } } });
      kit.error(r, 'createMachine', 'MACHINE_IDENTITY_EXISTS');
    }, { identity: true, designed: true });
    check('search and orders agree: every quote offered to a pairing with limits and a currency can be ordered', async () => {
      const m = need(state.machine, 'a machine');
      const agent = Wallet.createRandom() as unknown as Wallet;
      const proof = await pairingChallenge(m.id, agent);
      const paired = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, { body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer', agentProof: proof, delegationPolicy: { currency: 'USDT', perTransactionLimit: 1, dailySpendLimit: 2 } } }), 'createAgentPairing', 201);
      const t = tokenHeader(paired.body.item.pairingToken);
      const s = kit.ok(await h.send('POST', '/api/v1/market/search', { body: { machineId: m.id, maxResults: 25 }, headers: t }), 'searchMarket', 201);
      for (const q of s.body.item.quotes as Array<{ id: string; serviceId: string }>) {
        const o = await h.send('POST', '/api/v1/market/orders', { body: { machineId: m.id, searchId: s.body.item.id, quoteId: q.id }, headers: t });
        kit.assert(o.status === 201, o, 'createMarketOrder', `the quote for ${q.serviceId} is accepted by the order step`);
        kit.ok(await h.send('POST', `/api/v1/market/orders/${o.body.item.id}/cancel`, { body: {}, headers: t }), 'cancelMarketOrder', 200);
      }
    }, { identity: true, designed: true });
    check('hostile input (NUL, lone surrogate, 1e309, JSON past 64 levels, invalid UTF-8) is 400 and writes nothing', async () => {
      const name = `kit-hostile-${Math.random().toString(36).slice(2)}`;
      const bodies = [`{"name":"${name}\\u0000"}`, `{"name":"${name}\\ud800"}`, `{"name":"${name}","budgetCap":{"amount":1e309,"currency":"USDT"}}`, `{"name":"${name}","x":${'['.repeat(80)}${']'.repeat(80)}}`];
      for (const raw of bodies) kit.error(await h.send('POST', '/api/v1/policies', { raw }), 'createPolicy', 'VALIDATION_ERROR');
      const bytes = new Uint8Array([...new TextEncoder().encode(`{"name":"${name}`), 0xff, 0xfe, ...new TextEncoder().encode('"}')]);
      kit.error(await h.send('POST', '/api/v1/policies', { bytes }), 'createPolicy', 'VALIDATION_ERROR');
      kit.error(await h.send('GET', '/api/v1/policies/x%00y'), 'getPolicy', 'VALIDATION_ERROR');
      const list = kit.ok(await h.send('GET', '/api/v1/policies?limit=500'), 'listPolicies', 200);
      kit.assert(!list.rawBody.includes(name), list, 'listPolicies', 'no refused request left a policy behind');
    }, { designed: true });
  });

  kit.group('runtime', (check) => {
    check('upsert a runtime endpoint (201 then 200); authToken is never echoed; delete answers 204', async () => {
      const m = need(state.machine, 'a machine');
      const put = (body: Record<string, unknown>) => h.send('PUT', `/api/v1/machines/${m.id}/runtime-endpoints/ConfKit`, { body });
      const first = kit.ok(await put({ endpointBaseUrl: `${fx.runtimeUrl}/some/path?q=1`, authType: 'bearer', authToken: state.secret }), 'upsertRuntimeEndpoint', 201);
      kit.assert(first.body.item.providerKey === 'confkit', first, 'upsertRuntimeEndpoint', 'providerKey lower-cased');
      kit.assert(first.body.item.source === 'manual' && first.body.item.hasAuthToken === true, first, 'upsertRuntimeEndpoint', 'source manual, hasAuthToken true');
      kit.assert(first.body.item.endpointBaseUrl === fx.runtimeUrl, first, 'upsertRuntimeEndpoint', 'path and query stripped from endpointBaseUrl');
      kit.ok(await put({ endpointBaseUrl: fx.runtimeUrl, authType: 'bearer', authToken: state.secret }), 'upsertRuntimeEndpoint', 200);
      const got = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/runtime-endpoints/confkit`), 'getRuntimeEndpoint', 200);
      const list = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/runtime-endpoints`), 'listRuntimeEndpoints', 200);
      for (const ex of [first, got, list]) kit.assert(!ex.rawBody.includes(state.secret), ex, null, 'authToken never appears in a response');
      kit.error(await put({ endpointBaseUrl: 'ftp://nope' }), 'upsertRuntimeEndpoint', 'VALIDATION_ERROR');
      const del = await h.send('DELETE', `/api/v1/machines/${m.id}/runtime-endpoints/confkit`);
      kit.ok(del, 'deleteRuntimeEndpoint', 204);
      kit.error(await h.send('DELETE', `/api/v1/machines/${m.id}/runtime-endpoints/confkit`), 'deleteRuntimeEndpoint', 'NOT_FOUND');
    }, { identity: true });
    check('machine agents are listed; a revoked agent is listed as revoked and its token stops working', async () => {
      const m = need(state.machine, 'a machine');
      const e = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/agents/enrollment`, { body: { allowedProviderKeys: ['qvac'] } }), 'enrollMachineAgent', 201);
      const list = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/agents`), 'listMachineAgents', 200);
      kit.assert(list.body.items.some((x: { id: string }) => x.id === e.body.item.id), list, 'listMachineAgents', 'the list holds the enrolled agent');
      const revoked = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/agents/${e.body.item.id}/revoke`, { body: {} }), 'revokeMachineAgent', 200);
      kit.assert(revoked.body.item.status === 'revoked', revoked, 'revokeMachineAgent', 'status revoked');
      const relisted = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/agents`), 'listMachineAgents', 200);
      kit.assert(relisted.body.items.find((x: { id: string }) => x.id === e.body.item.id)?.status === 'revoked', relisted, 'listMachineAgents', 'the revocation persists');
      kit.error(await h.send('POST', '/api/v1/machine-agents/heartbeat', { body: { machineId: m.id, agentId: e.body.item.id, agentToken: e.body.item.agentToken } }), 'machineAgentHeartbeat', 'AGENT_PAIRING_INACTIVE');
      kit.error(await h.send('POST', `/api/v1/machines/${m.id}/agents/conformance-missing/revoke`, { body: {} }), 'revokeMachineAgent', 'NOT_FOUND');
    }, { identity: true, designed: true });
    check('a runtime agent enrols (token once) and heartbeats its endpoint in with a lease', async () => {
      const m = need(state.machine, 'a machine');
      const e = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/agents/enrollment`, { body: { allowedProviderKeys: ['qvac'] } }), 'enrollMachineAgent', 201);
      const token = e.body.item.agentToken as string;
      const hb = kit.ok(await h.send('POST', '/api/v1/machine-agents/heartbeat', { body: { machineId: m.id, agentId: e.body.item.id, agentToken: token, leaseSeconds: 300, endpoints: [{ providerKey: 'qvac', endpointBaseUrl: fx.runtimeUrl }] } }), 'machineAgentHeartbeat', 200);
      kit.assert(hb.body.item.status === 'active', hb, 'machineAgentHeartbeat', 'agent status active');
      kit.assert(hb.body.endpoints[0]?.source === 'agent' && hb.body.endpoints[0]?.leaseExpiresAt, hb, 'machineAgentHeartbeat', 'endpoint upserted with source agent and a lease');
      kit.assert(!hb.rawBody.includes(token), hb, 'machineAgentHeartbeat', 'agentToken not echoed');
      kit.error(await h.send('POST', '/api/v1/machine-agents/heartbeat', { body: { machineId: m.id, agentId: e.body.item.id, agentToken: 'wrong' } }), 'machineAgentHeartbeat', 'AGENT_AUTH_INVALID');
      kit.error(await h.send('POST', '/api/v1/machine-agents/heartbeat', { body: { machineId: m.id, agentId: e.body.item.id, agentToken: token, endpoints: [{ providerKey: 'not-allowed', endpointBaseUrl: fx.runtimeUrl }] } }), 'machineAgentHeartbeat', 'AGENT_POLICY_DENIED');
      kit.error(await h.send('POST', '/api/v1/machine-agents/heartbeat', { body: { machineId: m.id, agentId: e.body.item.id, agentToken: token, leaseSeconds: 10 } }), 'machineAgentHeartbeat', 'VALIDATION_ERROR');
    }, { identity: true });
  });

  kit.group('tasks', (check) => {
    check('task discover, resolve (201 with a fallback chain) and execute', async () => {
      const m = need(state.machine, 'a machine');
      const t = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/tasks`, { body: { serviceType: 'compute.marketplace', taskType: 'conformance', input: { messages: [{ role: 'user', content: 'ping' }] } } }), 'createTask', 201);
      const id = t.body.item.id;
      kit.assert(t.body.item.constraints.allowExternalHandoff === true && t.body.item.discovery.maxCandidates === 10, t, 'createTask', 'documented defaults');
      kit.error(await h.send('POST', `/api/v1/machines/${m.id}/tasks/${id}/execute`, { body: {} }), 'executeTask', 'ROUTE_REQUIRED');
      kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/tasks/${id}/discover`, { body: {} }), 'discoverTask', 200);
      const r = await h.send('POST', `/api/v1/machines/${m.id}/tasks/${id}/resolve`, { body: {} });
      if (r.status === 409) kit.skip('the target catalogue has no compute.marketplace candidate for this machine');
      kit.ok(r, 'resolveTask', 201);
      kit.assert(Array.isArray(r.body.item.fallbackChain), r, 'resolveTask', 'the route carries its fallbackChain');
      const ex = await h.send('POST', `/api/v1/machines/${m.id}/tasks/${id}/execute`, { body: {} });
      if (ex.status >= 400) kit.error(ex, 'executeTask', ['RUNTIME_EXECUTION_FAILED', 'RUNTIME_UNAVAILABLE']);
      else kit.ok(ex, 'executeTask', [200, 202]);
      kit.ok(await h.send('GET', `/api/v1/runs?machineId=${m.id}`), 'listRuns', 200);
      const run = ex.body?.run?.id;
      if (run) kit.ok(await h.send('GET', `/api/v1/runs/${run}`), 'getRun', 200);
      kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/routes`), 'listRoutes', 200);
      kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/outcomes`), 'listOutcomes', 200);
    }, { identity: true });
    check('graph nodes and edges: create, patch (shallow merge), delete', async () => {
      const m = need(state.machine, 'a machine');
      const a = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/graph/nodes`, { body: { type: 'machine', title: 'kit', data: { a: 1 } } }), 'createGraphNode', 201);
      const b = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/graph/nodes`, { body: { type: 'skill', title: 'kit skill' } }), 'createGraphNode', 201);
      const p = kit.ok(await h.send('PATCH', `/api/v1/machines/${m.id}/graph/nodes/${a.body.item.id}`, { body: { data: { b: 2 } } }), 'updateGraphNode', 200);
      kit.assert(p.body.item.data.a === 1 && p.body.item.data.b === 2, p, 'updateGraphNode', 'data merged shallowly');
      const e = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/graph/edges`, { body: { sourceNodeId: a.body.item.id, targetNodeId: b.body.item.id, type: 'connects' } }), 'createGraphEdge', 201);
      kit.ok(await h.send('PATCH', `/api/v1/machines/${m.id}/graph/edges/${e.body.item.id}`, { body: { label: 'x' } }), 'updateGraphEdge', 200);
      kit.ok(await h.send('DELETE', `/api/v1/machines/${m.id}/graph/nodes/${b.body.item.id}`), 'deleteGraphNode', 204);
      const g = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/graph`), 'getGraph', 200);
      kit.assert(!g.body.edges.some((x: { id: string }) => x.id === e.body.item.id), g, 'getGraph', "deleting a node deletes its edges");
    }, { identity: true });
    check('policies: what is created reads back exactly, ids are distinct, PATCH persists, DELETE removes (404, gone from the list)', async () => {
      const tag = `kit-${Math.random().toString(36).slice(2, 8)}`;
      const a = kit.ok(await h.send('POST', '/api/v1/policies', { body: { name: `${tag} a`, regionRules: ['eu-central'], deniedSkillKeys: ['kit.denied'] } }), 'createPolicy', 201);
      const b = kit.ok(await h.send('POST', '/api/v1/policies', { body: { name: `${tag} b` } }), 'createPolicy', 201);
      const stateless = 'a target that keeps no state cannot pass this';
      kit.assert(a.body.item.id !== b.body.item.id, b, 'createPolicy', `distinct ids for distinct creates (${stateless})`);
      const got = kit.ok(await h.send('GET', `/api/v1/policies/${a.body.item.id}`), 'getPolicy', 200);
      kit.assert(got.body.item.name === `${tag} a` && got.body.item.regionRules?.[0] === 'eu-central' && got.body.item.deniedSkillKeys?.[0] === 'kit.denied', got, 'getPolicy', `GET returns what was created (${stateless})`);
      kit.ok(await h.send('PATCH', `/api/v1/policies/${a.body.item.id}`, { body: { nativeOnly: true, name: `${tag} a2` } }), 'updatePolicy', 200);
      const after = kit.ok(await h.send('GET', `/api/v1/policies/${a.body.item.id}`), 'getPolicy', 200);
      kit.assert(after.body.item.nativeOnly === true && after.body.item.name === `${tag} a2`, after, 'getPolicy', `a PATCH persists (${stateless})`);
      const listed = kit.ok(await h.send('GET', '/api/v1/policies?limit=500'), 'listPolicies', 200);
      kit.assert(listed.body.items.some((x: { id: string }) => x.id === b.body.item.id), listed, 'listPolicies', `the list holds what was created (${stateless})`);
      kit.ok(await h.send('DELETE', `/api/v1/policies/${b.body.item.id}`), 'deletePolicy', 204);
      kit.error(await h.send('GET', `/api/v1/policies/${b.body.item.id}`), 'getPolicy', 'NOT_FOUND');
      kit.error(await h.send('DELETE', `/api/v1/policies/${b.body.item.id}`), 'deletePolicy', 'NOT_FOUND');
      const relisted = kit.ok(await h.send('GET', '/api/v1/policies?limit=500'), 'listPolicies', 200);
      kit.assert(!relisted.body.items.some((x: { id: string }) => x.id === b.body.item.id), relisted, 'listPolicies', `a deleted policy leaves the list (${stateless})`);
      kit.ok(await h.send('GET', '/api/v1/audit-events?limit=5'), 'listAuditEvents', 200);
    });
    check('tasks: listed and read back as created; unknown tasks are 404', async () => {
      const m = need(state.machine, 'a machine');
      const t = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/tasks`, { body: { serviceType: 'oracle.price-feed', taskType: 'kit-read-back', operation: 'price.latest' } }), 'createTask', 201);
      const got = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/tasks/${t.body.item.id}`), 'getTask', 200);
      kit.assert(got.body.item.taskType === 'kit-read-back' && got.body.item.serviceType === 'oracle.price-feed', got, 'getTask', 'GET returns the task as created');
      const list = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/tasks?limit=500`), 'listTasks', 200);
      kit.assert(list.body.items.some((x: { id: string }) => x.id === t.body.item.id), list, 'listTasks', 'the list holds the task');
      kit.error(await h.send('GET', `/api/v1/machines/${m.id}/tasks/conformance-missing`), 'getTask', 'NOT_FOUND');
    }, { identity: true });
    check('graph edges: DELETE answers 204, the edge leaves the graph, a second DELETE is 404', async () => {
      const m = need(state.machine, 'a machine');
      const a = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/graph/nodes`, { body: { type: 'task', title: 'kit a' } }), 'createGraphNode', 201);
      const b = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/graph/nodes`, { body: { type: 'route', title: 'kit b' } }), 'createGraphNode', 201);
      const e = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/graph/edges`, { body: { sourceNodeId: a.body.item.id, targetNodeId: b.body.item.id, type: 'connects' } }), 'createGraphEdge', 201);
      const before = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/graph`), 'getGraph', 200);
      kit.assert(before.body.edges.some((x: { id: string }) => x.id === e.body.item.id), before, 'getGraph', 'the graph holds the created edge');
      kit.ok(await h.send('DELETE', `/api/v1/machines/${m.id}/graph/edges/${e.body.item.id}`), 'deleteGraphEdge', 204);
      const g = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/graph`), 'getGraph', 200);
      kit.assert(!g.body.edges.some((x: { id: string }) => x.id === e.body.item.id), g, 'getGraph', 'a deleted edge leaves the graph');
      kit.error(await h.send('DELETE', `/api/v1/machines/${m.id}/graph/edges/${e.body.item.id}`), 'deleteGraphEdge', 'NOT_FOUND');
    }, { identity: true });
    check('catalogue: skills, services and adapters page completely and read back; unknown keys are 404', async () => {
      const walk = async (path: string, op: string, key: string) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        let guard = 0;
        do {
          const r = kit.ok(await h.send('GET', `${path}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), op, 200);
          seen.push(...r.body.items.map((x: Record<string, string>) => x[key]!));
          cursor = r.body.nextCursor;
        } while (cursor && ++guard < 1000);
        kit.assert(seen.length > 0 && new Set(seen).size === seen.length, null, op, 'the catalogue pages without duplicates', `${seen.length} items`);
        return seen;
      };
      const skills = await walk('/api/v1/skills', 'listSkills', 'key');
      const skill = kit.ok(await h.send('GET', `/api/v1/skills/${encodeURIComponent(skills[0]!)}`), 'getSkill', 200);
      kit.assert(skill.body.item.key === skills[0], skill, 'getSkill', 'GET returns the listed skill');
      kit.error(await h.send('GET', '/api/v1/skills/conformance.none'), 'getSkill', 'NOT_FOUND');
      const services = await walk('/api/v1/market/services', 'listMarketServices', 'id');
      const service = kit.ok(await h.send('GET', `/api/v1/market/services/${encodeURIComponent(services[0]!)}`), 'getMarketService', 200);
      kit.assert(service.body.item.id === services[0], service, 'getMarketService', 'GET returns the listed service');
      kit.error(await h.send('GET', '/api/v1/market/services/conformance-none'), 'getMarketService', 'NOT_FOUND');
      const adapters = await walk('/api/v1/market/adapters', 'listMarketAdapters', 'providerKey');
      const adapter = kit.ok(await h.send('GET', `/api/v1/market/adapters/${encodeURIComponent(adapters[0]!)}`), 'getMarketAdapter', 200);
      kit.assert(adapter.body.item.providerKey === adapters[0], adapter, 'getMarketAdapter', 'GET returns the listed adapter');
      kit.error(await h.send('GET', '/api/v1/market/adapters/conformance-none'), 'getMarketAdapter', 'NOT_FOUND');
    });
  });

  kit.group('market', (check) => {
    check('search (ranked quotes with reasons), order, pay (recorded), execute, confirm', async () => {
      const m = need(state.machine, 'a machine');
      const p = need(state.pairing, 'a pairing');
      kit.ok(await h.send('PUT', `/api/v1/machines/${m.id}/runtime-endpoints/qvac`, { body: { endpointBaseUrl: fx.runtimeUrl } }), 'upsertRuntimeEndpoint', [200, 201]);
      const s = kit.ok(await h.send('POST', '/api/v1/market/search', { body: { machineId: m.id, serviceType: 'compute.marketplace', providerCredentials: { conformance: { apiKey: state.secret } } }, headers: tokenHeader(p.token) }), 'searchMarket', 201);
      kit.assert(!s.rawBody.includes(state.secret), s, 'searchMarket', 'providerCredentials never reappear');
      const quotes = s.body.item.quotes as Array<{ id: string; score: number; reasons: string[]; executionMode: string; payment: { required: boolean } }>;
      if (!quotes.length) kit.skip('the target catalogue has no compute.marketplace quote');
      for (let i = 1; i < quotes.length; i++) kit.assert(quotes[i - 1]!.score >= quotes[i]!.score, s, 'searchMarket', 'quotes ranked by score');
      kit.assert(quotes.every((q) => q.reasons.length > 0), s, 'searchMarket', 'every quote has reasons');
      const q = quotes.find((x) => x.executionMode === 'native') ?? quotes[0]!;
      const o = kit.ok(await h.send('POST', '/api/v1/market/orders', { body: { machineId: m.id, searchId: s.body.item.id, quoteId: q.id }, headers: tokenHeader(p.token) }), 'createMarketOrder', 201);
      state.orderId = o.body.item.id;
      kit.assert(o.body.item.status === 'created', o, 'createMarketOrder', 'a new order is created');
      const base = `/api/v1/market/orders/${o.body.item.id}`;
      const intent = kit.ok(await h.send('POST', `${base}/payment-intent`, { body: {}, headers: tokenHeader(p.token) }), 'createMarketPaymentIntent', [200, 201]);
      const again = kit.ok(await h.send('POST', `${base}/payment-intent`, { body: {}, headers: tokenHeader(p.token) }), 'createMarketPaymentIntent', [200, 201]);
      kit.assert(again.body.item.id === intent.body.item.id, again, 'createMarketPaymentIntent', 'payment-intent is idempotent');
      if (intent.body.item.status !== 'not_required') {
        kit.ok(await h.send('POST', `${base}/payment-proof`, { body: { verificationMode: 'recorded', txHash: `0x${'ab'.repeat(32)}` }, headers: tokenHeader(p.token) }), 'submitMarketPaymentProof', 200);
      }
      kit.ok(await h.send('GET', `${base}/payment`), 'getMarketPayment', 200);
      const ex = await h.send('POST', `${base}/execute`, { body: {}, headers: tokenHeader(p.token) });
      kit.ok(ex, 'executeMarketOrder', [200, 202]);
      const c = kit.ok(await h.send('POST', `${base}/confirm`, { headers: tokenHeader(p.token) }), 'confirmMarketOrder', 200);
      kit.assert(c.body.item.status === 'confirmed', c, 'confirmMarketOrder', 'confirmed');
      kit.error(await h.send('POST', `${base}/confirm`, { headers: tokenHeader(p.token) }), 'confirmMarketOrder', 'ORDER_CLOSED');
      const o2 = kit.ok(await h.send('GET', base), 'getMarketOrder', 200);
      kit.assert(!o2.rawBody.includes(state.secret), o2, 'getMarketOrder', 'providerCredentials never reappear');
      kit.ok(await h.send('GET', `/api/v1/market/orders?machineId=${m.id}`), 'listMarketOrders', 200);
    }, { identity: true });
    check('payment and order lifecycles: release, escrow with dispute and refund, cancel; refused transitions in each state', async () => {
      const m = need(state.machine, 'a machine');
      const p = need(state.pairing, 'a pairing');
      const t = tokenHeader(p.token);
      const s = kit.ok(await h.send('POST', '/api/v1/market/search', { body: { machineId: m.id, maxResults: 25 }, headers: t }), 'searchMarket', 201);
      const paid = (s.body.item.quotes as Array<{ id: string; payment: { required: boolean }; executionMode: string }>).find((q) => q.payment?.required && q.executionMode === 'external-handoff');
      if (!paid) kit.skip('the target catalogue offers no paid external-handoff service to this pairing');
      const order = async () => kit.ok(await h.send('POST', '/api/v1/market/orders', { body: { machineId: m.id, searchId: s.body.item.id, quoteId: paid.id }, headers: t }), 'createMarketOrder', 201).body.item;
      const path = (id: string, step: string) => `/api/v1/market/orders/${id}/${step}`;
      const tx = () => `0x${Math.random().toString(16).slice(2).padEnd(64, '7').slice(0, 64)}`;
      // 1. intent, recorded proof, execute (hand-off), confirm, release; a second release is refused.
      const a = await order();
      kit.error(await h.send('POST', path(a.id, 'confirm'), { headers: t }), 'confirmMarketOrder', 'ORDER_NOT_DELIVERED');
      kit.ok(await h.send('POST', path(a.id, 'payment-intent'), { body: { rail: 'wallet' }, headers: t }), 'createMarketPaymentIntent', 201);
      const held = kit.ok(await h.send('POST', path(a.id, 'payment-proof'), { body: { txHash: tx(), verificationMode: 'recorded' }, headers: t }), 'submitMarketPaymentProof', 200);
      kit.assert(held.body.item.status === 'held', held, 'submitMarketPaymentProof', 'the payment is held');
      kit.error(await h.send('POST', path(a.id, 'payment/release'), { body: {} }), 'releaseMarketPayment', 'ORDER_NOT_DELIVERED');
      kit.ok(await h.send('POST', path(a.id, 'execute'), { body: {}, headers: t }), 'executeMarketOrder', [200, 202]);
      const confirmed = kit.ok(await h.send('POST', path(a.id, 'confirm'), { headers: t }), 'confirmMarketOrder', 200);
      kit.assert(confirmed.body.item.paymentStatus === 'release_pending', confirmed, 'confirmMarketOrder', 'confirming moves a held payment to release_pending');
      const released = kit.ok(await h.send('POST', path(a.id, 'payment/release'), { body: {} }), 'releaseMarketPayment', 200);
      kit.assert(released.body.item.status === 'released', released, 'releaseMarketPayment', 'released');
      kit.error(await h.send('POST', path(a.id, 'payment/release'), { body: {} }), 'releaseMarketPayment', 'ORDER_CLOSED');
      const readBack = kit.ok(await h.send('GET', path(a.id, 'payment')), 'getMarketPayment', 200);
      kit.assert(readBack.body.item.status === 'released', readBack, 'getMarketPayment', 'the release persists');
      // 2. escrow lock, execute, dispute (payment frozen), refund; the disputed order refuses confirm.
      const b = await order();
      const escrow = kit.ok(await h.send('POST', path(b.id, 'payment/escrow-lock'), { body: { escrowRef: 'kit-escrow' }, headers: t }), 'lockMarketPaymentEscrow', 200);
      kit.assert(escrow.body.item.status === 'held', escrow, 'lockMarketPaymentEscrow', 'escrow holds the payment');
      kit.ok(await h.send('POST', path(b.id, 'execute'), { body: {}, headers: t }), 'executeMarketOrder', [200, 202]);
      const disputed = kit.ok(await h.send('POST', path(b.id, 'dispute'), { body: { reason: 'kit dispute' }, headers: t }), 'disputeMarketOrder', 200);
      kit.assert(disputed.body.item.status === 'disputed' && disputed.body.item.paymentStatus === 'frozen', disputed, 'disputeMarketOrder', 'disputed, payment frozen');
      kit.error(await h.send('POST', path(b.id, 'confirm'), { headers: t }), 'confirmMarketOrder', 'ORDER_CLOSED');
      const refunded = kit.ok(await h.send('POST', path(b.id, 'payment/refund'), { body: { note: 'kit' } }), 'refundMarketPayment', 200);
      kit.assert(refunded.body.item.status === 'refunded', refunded, 'refundMarketPayment', 'refunded');
      kit.error(await h.send('POST', path(b.id, 'payment/refund'), { body: {} }), 'refundMarketPayment', 'ORDER_CLOSED');
      // 3. cancel before execution; a cancelled order refuses execution, and a held payment refuses cancel.
      const c = await order();
      const cancelled = kit.ok(await h.send('POST', path(c.id, 'cancel'), { body: { reason: 'kit' }, headers: t }), 'cancelMarketOrder', 200);
      kit.assert(cancelled.body.item.status === 'cancelled', cancelled, 'cancelMarketOrder', 'cancelled');
      kit.error(await h.send('POST', path(c.id, 'execute'), { body: {}, headers: t }), 'executeMarketOrder', 'ORDER_CLOSED');
      kit.error(await h.send('POST', path(c.id, 'cancel'), { body: {}, headers: t }), 'cancelMarketOrder', 'ORDER_CLOSED');
      const d = await order();
      kit.ok(await h.send('POST', path(d.id, 'payment-proof'), { body: { txHash: tx() }, headers: t }), 'submitMarketPaymentProof', 200);
      kit.error(await h.send('POST', path(d.id, 'cancel'), { body: {}, headers: t }), 'cancelMarketOrder', 'ORDER_PAYMENT_HELD');
      kit.ok(await h.send('POST', path(d.id, 'payment/refund'), { body: {} }), 'refundMarketPayment', 200);
      const after = kit.ok(await h.send('GET', `/api/v1/market/orders/${d.id}`), 'getMarketOrder', 200);
      kit.assert(after.body.item.status === 'cancelled', after, 'getMarketOrder', 'a refund before execution cancels the order');
    }, { identity: true, designed: true });
    check('order errors: an unknown service is refused; confirming an unknown order is NOT_FOUND', async () => {
      const m = need(state.machine, 'a machine');
      const p = need(state.pairing, 'a pairing');
      kit.error(await h.send('POST', '/api/v1/market/orders', { body: { machineId: m.id, serviceId: 'conformance-no-such-service' }, headers: tokenHeader(p.token) }), 'createMarketOrder', ['NOT_FOUND', 'VALIDATION_ERROR']);
      kit.error(await h.send('POST', '/api/v1/market/orders/conformance-missing/confirm', { headers: tokenHeader(p.token) }), 'confirmMarketOrder', 'NOT_FOUND');
    }, { identity: true, designed: true });
  });

  kit.group('codes', (check) => {
    check('spend limits: over the per-transaction limit is AGENT_SPEND_LIMIT_EXCEEDED, over the day is AGENT_DAILY_LIMIT_EXCEEDED', async () => {
      const m = need(state.machine, 'a machine');
      const agent = Wallet.createRandom() as unknown as Wallet;
      const proof = await pairingChallenge(m.id, agent);
      const paired = kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, { body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer', agentProof: proof, delegationPolicy: { perTransactionLimit: 5, dailySpendLimit: 6 } } }), 'createAgentPairing', 201);
      const t = tokenHeader(paired.body.item.pairingToken);
      const services = kit.ok(await h.send('GET', '/api/v1/market/services?limit=500'), 'listMarketServices', 200).body.items as Array<{ id: string; pricing: { mode: string }; integrationStatus: string }>;
      const open = services.find((x) => x.pricing.mode !== 'fixed' && x.integrationStatus !== 'docs-only');
      if (!open) kit.skip('the target catalogue has no service without a fixed price to budget');
      const buy = (amount: number) => h.send('POST', '/api/v1/market/orders', { body: { machineId: m.id, serviceId: open.id, budget: { amount } }, headers: t });
      kit.error(await buy(5.5), 'createMarketOrder', 'AGENT_SPEND_LIMIT_EXCEEDED');
      kit.ok(await buy(4), 'createMarketOrder', 201);
      kit.error(await buy(4), 'createMarketOrder', 'AGENT_DAILY_LIMIT_EXCEEDED');
      // The pairing has an open order: revoking it is refused.
      kit.error(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/${paired.body.item.id}/revoke`), 'revokeAgentPairing', 'OPEN_MARKET_ORDERS');
    }, { identity: true });
    check('an Idempotency-Key reused with another request is 422 IDEMPOTENCY_KEY_REUSED; the same request is replayed', async () => {
      const key = `kit-${Math.random().toString(36).slice(2)}`;
      const first = kit.ok(await h.send('POST', '/api/v1/policies', { body: { name: `${key} one` }, headers: { 'idempotency-key': key } }), 'createPolicy', 201);
      const again = kit.ok(await h.send('POST', '/api/v1/policies', { body: { name: `${key} one` }, headers: { 'idempotency-key': key } }), 'createPolicy', 201);
      kit.assert(again.body.item.id === first.body.item.id, again, 'createPolicy', 'the same key and request answer the first result again (no second policy)');
      kit.error(await h.send('POST', '/api/v1/policies', { body: { name: `${key} two` }, headers: { 'idempotency-key': key } }), 'createPolicy', 'IDEMPOTENCY_KEY_REUSED');
    }, { designed: true });
    check('an archived machine is MACHINE_NOT_ACTIVE for pairing; MCR down is PEAQOS_IDENTITY_UNAVAILABLE and AGENT_PAIRING_UNAVAILABLE', async () => {
      const m = await activeMachine();
      kit.ok(await h.send('PATCH', `/api/v1/machines/${m.id}`, { body: { status: 'archived' } }), 'updateMachine', 200);
      const agent = Wallet.createRandom() as unknown as Wallet;
      kit.error(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/challenges`, { body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer' } }), 'createAgentPairingChallenge', 'MACHINE_NOT_ACTIVE');
      const live = state.machine ?? (state.machine = await activeMachine());
      fx.mcr!.registry.setFailure('503');
      try {
        await new Promise((r) => setTimeout(r, kit.opts.mcrCacheWaitMs ?? 0));
        kit.error(await h.send('GET', `/api/v1/machines/${live.id}`), 'getMachine', 'PEAQOS_IDENTITY_UNAVAILABLE');
        kit.error(await h.send('POST', `/api/v1/machines/${live.id}/agent-pairings/challenges`, { body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer' } }), 'createAgentPairingChallenge', 'AGENT_PAIRING_UNAVAILABLE');
      } finally {
        fx.mcr!.registry.setFailure('none');
      }
    }, { identity: true, designed: true });
  });

  // Last: it spends this client's challenge budget on the target.
  kit.group('limits', (check) => {
    check('past its challenge budget a client gets 429 RATE_LIMITED with Retry-After', async () => {
      const burst = kit.opts.rateLimitBurst;
      if (!burst) kit.skip('no --rate-limit-burst given (this check spends the target\'s budget for this client)');
      const m = need(state.machine, 'a machine');
      for (let i = 0; i < burst; i++) {
        const r = await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/challenges`, { body: { agentAddress: Wallet.createRandom().address, agentProvider: 'conformance', agentRole: 'buyer' } });
        if (r.status === 429) {
          kit.error(r, 'createAgentPairingChallenge', 'RATE_LIMITED');
          return;
        }
        kit.ok(r, 'createAgentPairingChallenge', 201);
      }
      kit.assert(false, h.exchanges[h.exchanges.length - 1]!, 'createAgentPairingChallenge', `429 RATE_LIMITED within ${burst} challenges`);
    }, { identity: true, designed: true });
  });
}
