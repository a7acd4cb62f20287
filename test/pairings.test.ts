// Machine Agent pairings through HTTP: challenges, create, rotate, repolicy, pause/resume, revoke; the record
// exactly as documented; tokens shown only at create and rotate; audit events without secrets.
import { afterEach, describe, expect, it } from 'vitest';
import { Wallet } from 'ethers';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { activeMachine, machineBody, machineDid, machineProof, machineWallet } from './helpers/identity.ts';
import { agentWallet, pair, pairingProof, rotate } from './helpers/pairing.ts';
import { engines } from './helpers/db.ts';

const registry = useMockMcr();
let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

describe.each(engines())('agent pairings on $name', (engine) => {
  const start = (env: Record<string, string> = {}) => startTestServer({ engine, env });

  it('pairs an agent with a signed challenge and returns the HS256 session token once', async () => {
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    const agent = agentWallet('a');
    const p = await pair(srv.client, m.id, agent, {
      description: 'buyer bot',
      delegationPolicy: { perTransactionLimit: 5, dailySpendLimit: 20, currency: 'usdt' },
    });
    expect(p).toMatchObject({
      machineId: m.id,
      status: 'active',
      agentAddress: agent.address,
      agentDid: `did:pkh:eip155:1:${agent.address}`,
      agentProvider: 'anthropic',
      agentRole: 'buyer',
      description: 'buyer bot',
      hasAuthToken: true,
      delegationPolicy: {
        allowedSkillKeys: [],
        deniedSkillKeys: [],
        allowedServiceIds: [],
        deniedServiceIds: [],
        perTransactionLimit: 5,
        dailySpendLimit: 20,
        currency: 'USDT',
      },
      verification: { method: 'eip191', signerAddress: agent.address },
    });
    expect(p.tokenLastFour).toBe(p.pairingToken.slice(-4));
    expect(decodeProtectedHeader(p.pairingToken).alg).toBe('HS256');
    const claims = decodeJwt(p.pairingToken);
    expect(claims).toMatchObject({
      machineId: m.id,
      pairingId: p.id,
      sessionId: p.sessionId,
      agentAddress: agent.address,
      agentDid: p.agentDid,
      jti: p.sessionTokenId,
    });
    expect(typeof claims.delegationPolicyHash).toBe('string');
    expect((claims.exp! - claims.iat!) * 1000).toBe(srv.config.agentPairingSessionTtlMs);

    const got = await srv.client.get(`/api/v1/machines/${m.id}/agent-pairings/${p.id}`);
    expect(got.body.item).not.toHaveProperty('pairingToken');
    const list = await srv.client.get(`/api/v1/machines/${m.id}/agent-pairings`);
    expect(list.body.items).toHaveLength(1);
    expect(JSON.stringify(list.body)).not.toContain(p.pairingToken);
    const rows = JSON.stringify(await srv.db('agent_pairings').select('*'));
    expect(rows).not.toContain(p.pairingToken);
    const audit = await srv.client.get(`/api/v1/audit-events?resourceType=agent-pairing`);
    expect(audit.body.items.map((e: { type: string }) => e.type)).toEqual(['agent-pairing.created']);
    expect(JSON.stringify(audit.body)).not.toContain(p.pairingToken);
  });

  it('rotates the session with a fresh proof; the new token is returned once and fields stay current', async () => {
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    const agent = agentWallet('b');
    const p = await pair(srv.client, m.id, agent);
    srv.clock.advance(1500);
    const r = await rotate(srv.client, m.id, p.id, agent);
    expect(r.status).toBe(201);
    expect(r.body.item.pairingToken).not.toBe(p.pairingToken);
    expect(r.body.item.sessionId).not.toBe(p.sessionId);
    expect(r.body.item.sessionTokenId).not.toBe(p.sessionTokenId);
    expect(r.body.item.tokenLastFour).toBe(r.body.item.pairingToken.slice(-4));
    expect(Date.parse(r.body.item.sessionIssuedAt)).toBeGreaterThan(Date.parse(p.sessionIssuedAt as string));
    const none = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings/${p.id}/sessions`, {});
    expect(none.body.error.code).toBe('AGENT_PAIRING_PROOF_REQUIRED');
    const other = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings/${p.id}/sessions`, {
      agentProof: await pairingProof(srv.client, m.id, agentWallet('intruder')),
    });
    expect(other.body.error.code).toBe('AGENT_PAIRING_PROOF_INVALID');
    const types = (await srv.client.get(`/api/v1/audit-events?resourceId=${p.id}`)).body.items.map(
      (e: { type: string }) => e.type,
    );
    expect(types).toEqual(['agent-pairing.created', 'agent-pairing.session-rotated']);
  });

  it('rejects replayed and expired challenges, foreign signatures and a challenge keyed to another identity', async () => {
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    const agent = agentWallet('c');
    const body = { agentAddress: agent.address, agentProvider: 'anthropic', agentRole: 'buyer' };
    const none = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings`, body);
    expect(none.status).toBe(400);
    expect(none.body.error.code).toBe('AGENT_PAIRING_PROOF_REQUIRED');

    const foreign = await pairingProof(srv.client, m.id, agent);
    const forged = { ...foreign, signature: await Wallet.createRandom().signMessage('anything') };
    const bad = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings`, { ...body, agentProof: forged });
    expect(bad.status).toBe(403);
    expect(bad.body.error.code).toBe('AGENT_PAIRING_PROOF_INVALID');

    const roleSwap = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings`, {
      ...body,
      agentRole: 'trader',
      agentProof: await pairingProof(srv.client, m.id, agent),
    });
    expect(roleSwap.body.error.code).toBe('AGENT_PAIRING_PROOF_INVALID');

    const expiring = await pairingProof(srv.client, m.id, agent);
    srv.clock.advance(srv.config.agentPairingChallengeTtlMs + 1);
    const expired = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings`, { ...body, agentProof: expiring });
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe('AGENT_PAIRING_PROOF_EXPIRED');

    const proof = await pairingProof(srv.client, m.id, agent);
    expect(
      (await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings`, { ...body, agentProof: proof })).status,
    ).toBe(201);
    const replay = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings`, { ...body, agentProof: proof });
    expect(replay.status).toBe(403);
    expect(replay.body.error.code).toBe('AGENT_PAIRING_PROOF_INVALID');
    expect(Number((await srv.db('agent_pairings').count({ n: '*' }))[0]!.n)).toBe(1);
  });

  it('validates agentDid: derived when absent, checked when given', async () => {
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    const agent = agentWallet('d');
    const ok = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings/challenges`, {
      agentAddress: agent.address.toLowerCase(),
      agentProvider: 'openai',
      agentRole: 'ops',
      agentDid: `did:pkh:eip155:3338:${agent.address.toLowerCase()}`,
    });
    expect(ok.status).toBe(201);
    expect(ok.body.item.agentDid).toBe(`did:pkh:eip155:3338:${agent.address}`);
    expect(ok.body.item.agentAddress).toBe(agent.address);
    for (const agentDid of [
      `did:pkh:eip155:1:${Wallet.createRandom().address}`,
      `did:key:${agent.address}`,
      `did:pkh:eip155:0:${agent.address}`,
      `did:pkh:eip155:1:${agent.address.slice(0, 10)}`,
    ]) {
      const r = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings/challenges`, {
        agentAddress: agent.address,
        agentProvider: 'openai',
        agentRole: 'ops',
        agentDid,
      });
      expect(r.status, agentDid).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_ERROR');
    }
    const badChecksum =
      agent.address.slice(0, 2) +
      agent.address
        .slice(2)
        .split('')
        .map((c) => (/[a-f]/.test(c) ? c.toUpperCase() : /[A-F]/.test(c) ? c.toLowerCase() : c))
        .join('');
    const r = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings/challenges`, {
      agentAddress: badChecksum,
      agentProvider: 'openai',
      agentRole: 'ops',
    });
    expect(r.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('refuses pairing on draft, unverified, unbonded or unknown machines, and reports MCR outages', async () => {
    srv = await start({ PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'optional' });
    const agent = agentWallet('e');
    const draft = await srv.client.post(
      '/api/v1/machines',
      machineBody(machineDid(2), { identityProof: await machineProof(srv.client, machineDid(2), machineWallet(2)) }),
    );
    const challenge = (id: string) =>
      srv!.client.post(`/api/v1/machines/${id}/agent-pairings/challenges`, {
        agentAddress: agent.address,
        agentProvider: 'x',
        agentRole: 'y',
      });
    expect((await challenge(draft.body.item.id)).body.error.code).toBe('MACHINE_NOT_ACTIVE');
    const unverified = await srv.client.post('/api/v1/machines', machineBody(machineDid(3)));
    expect((await challenge(unverified.body.item.id)).body.error.code).toBe('MACHINE_IDENTITY_PROOF_REQUIRED');
    const unbonded = await activeMachine(srv.client, 4);
    const ub = await challenge(unbonded.id);
    expect(ub.status).toBe(409);
    expect(ub.body.error.code).toBe('MACHINE_NOT_ACTIVE');
    expect((await challenge('mch_missing')).status).toBe(404);
    const m = await activeMachine(srv.client, 1);
    const proof = await pairingProof(srv.client, m.id, agent);
    registry.setFailure('503');
    const down = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings`, {
      agentAddress: agent.address,
      agentProvider: 'anthropic',
      agentRole: 'buyer',
      agentProof: proof,
    });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('AGENT_PAIRING_UNAVAILABLE');
    expect(Number((await srv.db('agent_pairings').count({ n: '*' }))[0]!.n)).toBe(0);
  });

  it('repolicies, pauses, resumes and revokes; revoked pairings are kept and frozen', async () => {
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    const agent = agentWallet('f');
    const p = await pair(srv.client, m.id, agent, { delegationPolicy: { perTransactionLimit: 5 } });
    const repolicy = await srv.client.patch(`/api/v1/machines/${m.id}/agent-pairings/${p.id}`, {
      delegationPolicy: { dailySpendLimit: 50, deniedSkillKeys: ['agentic.exa-search'] },
    });
    expect(repolicy.status).toBe(200);
    expect(repolicy.body.item.delegationPolicy).toMatchObject({
      perTransactionLimit: 5,
      dailySpendLimit: 50,
      deniedSkillKeys: ['agentic.exa-search'],
    });
    expect(repolicy.body.item).not.toHaveProperty('pairingToken');
    const paused = await srv.client.patch(`/api/v1/machines/${m.id}/agent-pairings/${p.id}`, {
      status: 'paused',
      description: 'on hold',
    });
    expect(paused.body.item).toMatchObject({ status: 'paused', description: 'on hold' });
    expect((await rotate(srv.client, m.id, p.id, agent)).body.error.code).toBe('AGENT_PAIRING_INACTIVE');
    expect(
      (await srv.client.patch(`/api/v1/machines/${m.id}/agent-pairings/${p.id}`, { status: 'active' })).body.item
        .status,
    ).toBe('active');
    const bad = await srv.client.patch(`/api/v1/machines/${m.id}/agent-pairings/${p.id}`, { status: 'revoked' });
    expect(bad.body.error.code).toBe('VALIDATION_ERROR');
    const revoked = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings/${p.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.item).toMatchObject({ status: 'revoked', hasAuthToken: false });
    expect((await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings/${p.id}/revoke`)).body.item.status).toBe(
      'revoked',
    );
    expect(
      (await srv.client.patch(`/api/v1/machines/${m.id}/agent-pairings/${p.id}`, { status: 'active' })).body.error.code,
    ).toBe('AGENT_PAIRING_INACTIVE');
    expect((await srv.client.get(`/api/v1/machines/${m.id}/agent-pairings?status=revoked`)).body.items).toHaveLength(1);
    const types = (await srv.client.get(`/api/v1/audit-events?resourceId=${p.id}`)).body.items.map(
      (e: { type: string }) => e.type,
    );
    expect(types).toEqual([
      'agent-pairing.created',
      'agent-pairing.updated',
      'agent-pairing.updated',
      'agent-pairing.updated',
      'agent-pairing.revoked',
    ]);
    const other = await activeMachine(srv.client, 2);
    expect((await srv.client.get(`/api/v1/machines/${other.id}/agent-pairings/${p.id}`)).status).toBe(404);
  });

  it('disabled pairing verification pairs without a proof; optional verifies one when given', async () => {
    srv = await start({ PEAQOS_AGENT_PAIRING_VERIFICATION: 'disabled' });
    const m = await activeMachine(srv.client, 1);
    const r = await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings`, {
      agentAddress: agentWallet('g').address,
      agentProvider: 'virtuals',
      agentRole: 'ops',
    });
    expect(r.status).toBe(201);
    expect(r.body.item.verification).toBeNull();
    expect(r.body.item.pairingToken).toBeTruthy();
    await srv.close();
    srv = await start({ PEAQOS_AGENT_PAIRING_VERIFICATION: 'optional' });
    const m2 = await activeMachine(srv.client, 1);
    const agent = agentWallet('h');
    const forged = {
      ...(await pairingProof(srv.client, m2.id, agent)),
      signature: await Wallet.createRandom().signMessage('x'),
    };
    const bad = await srv.client.post(`/api/v1/machines/${m2.id}/agent-pairings`, {
      agentAddress: agent.address,
      agentProvider: 'virtuals',
      agentRole: 'ops',
      agentProof: forged,
    });
    expect(bad.body.error.code).toBe('AGENT_PAIRING_PROOF_INVALID');
  });

  it('pages the pairing list', async () => {
    srv = await start({ PEAQOS_AGENT_PAIRING_VERIFICATION: 'disabled' });
    const m = await activeMachine(srv.client, 1);
    for (let i = 0; i < 5; i++)
      await srv.client.post(`/api/v1/machines/${m.id}/agent-pairings`, {
        agentAddress: agentWallet(`p${i}`).address,
        agentProvider: 'x',
        agentRole: 'y',
      });
    const first = await srv.client.get(`/api/v1/machines/${m.id}/agent-pairings?limit=3`);
    expect(first.body.items).toHaveLength(3);
    const second = await srv.client.get(
      `/api/v1/machines/${m.id}/agent-pairings?limit=3&cursor=${first.body.nextCursor}`,
    );
    expect(second.body.items).toHaveLength(2);
    expect(second.body).not.toHaveProperty('nextCursor');
    expect(new Set([...first.body.items, ...second.body.items].map((p: { id: string }) => p.id)).size).toBe(5);
  });
});
