import { Wallet } from 'ethers';
import { decodeJwt } from 'jose';
import type { Kit } from '../kit.ts';
import { STATELESS, type CheckContext } from './context.ts';

export function registerPairings(kit: Kit, ctx: CheckContext): void {
  const { h, tokenHeader, pairingChallenge, pairAgent, machine, pairing } = ctx;
  kit.group('pairings', (check) => {
    check(
      'pair an agent; the token is returned once and never shown again',
      async () => {
        const m = await machine();
        const p = await pairing();
        const list = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/agent-pairings`), 'listAgentPairings', 200);
        kit.assert(
          !JSON.stringify(list.body).includes(p.token),
          list,
          'listAgentPairings',
          'the list never shows pairingToken',
        );
        const claims = decodeJwt(p.token);
        for (const c of ['machineId', 'pairingId', 'sessionId', 'agentAddress', 'delegationPolicyHash', 'exp'])
          kit.assert(c in claims, null, 'createAgentPairing', `the token carries ${c}`, JSON.stringify(claims));
      },
      { identity: true },
    );
    check(
      'GET one pairing never shows the token',
      async () => {
        const p = await pairing();
        const r = kit.ok(
          await h.send('GET', `/api/v1/machines/${p.machineId}/agent-pairings/${p.id}`),
          'getAgentPairing',
          200,
        );
        kit.assert(!JSON.stringify(r.body).includes(p.token), r, 'getAgentPairing', 'no pairingToken');
      },
      { identity: true, designed: true },
    );
    check(
      'a replayed pairing challenge and a foreign signature are refused',
      async () => {
        const m = await machine();
        const agent = Wallet.createRandom() as unknown as Wallet;
        const proof = await pairingChallenge(m.id, agent);
        const body = {
          agentAddress: agent.address,
          agentProvider: 'conformance',
          agentRole: 'buyer',
          agentProof: proof,
        };
        kit.ok(await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, { body }), 'createAgentPairing', 201);
        kit.error(
          await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, { body }),
          'createAgentPairing',
          'AGENT_PAIRING_PROOF_INVALID',
        );
        const forged = await pairingChallenge(m.id, agent);
        const bad = {
          ...body,
          agentProof: { ...forged, signature: await (Wallet.createRandom() as unknown as Wallet).signMessage('x') },
        };
        kit.error(
          await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, { body: bad }),
          'createAgentPairing',
          'AGENT_PAIRING_PROOF_INVALID',
        );
        kit.error(
          await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, {
            body: { agentAddress: agent.address, agentProvider: 'c', agentRole: 'b' },
          }),
          'createAgentPairing',
          'AGENT_PAIRING_PROOF_REQUIRED',
        );
      },
      { identity: true },
    );
    check(
      'rotation issues a new token and retires the old one; a repolicy retires tokens',
      async () => {
        const m = await machine();
        const p = await pairAgent(m.id);
        const search = (t: string) =>
          h.send('POST', '/api/v1/market/search', { body: { machineId: m.id }, headers: tokenHeader(t) });
        const rot = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/${p.id}/sessions`, {
            body: { agentProof: await pairingChallenge(m.id, p.agent) },
          }),
          'createAgentPairingSession',
          201,
        );
        const fresh = rot.body.item.pairingToken as string;
        kit.assert(fresh && fresh !== p.token, rot, 'createAgentPairingSession', 'a new pairingToken');
        kit.error(await search(p.token), 'searchMarket', 'AGENT_AUTH_INVALID');
        kit.ok(await search(fresh), 'searchMarket', 201);
        kit.ok(
          await h.send('PATCH', `/api/v1/machines/${m.id}/agent-pairings/${p.id}`, {
            body: { delegationPolicy: { dailySpendLimit: 100 } },
          }),
          'updateAgentPairing',
          200,
        );
        kit.error(await search(fresh), 'searchMarket', ['AGENT_AUTH_INVALID', 'AGENT_AUTH_EXPIRED']);
      },
      { identity: true },
    );
    check(
      'a revoked pairing is kept and its token refused',
      async () => {
        const m = await machine();
        const p = await pairAgent(m.id);
        const r = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/${p.id}/revoke`),
          'revokeAgentPairing',
          200,
        );
        kit.assert(r.body.item.status === 'revoked', r, 'revokeAgentPairing', 'status revoked');
        const kept = kit.ok(
          await h.send('GET', `/api/v1/machines/${m.id}/agent-pairings/${p.id}`),
          'getAgentPairing',
          200,
        );
        kit.assert(
          kept.body.item.status === 'revoked',
          kept,
          'getAgentPairing',
          `the revoked pairing is still read back, as revoked (${STATELESS})`,
        );
        kit.error(
          await h.send('POST', '/api/v1/market/search', { body: { machineId: m.id }, headers: tokenHeader(p.token) }),
          'searchMarket',
          'AGENT_PAIRING_INACTIVE',
        );
      },
      { identity: true, designed: true },
    );
    check(
      'an expired pairing proof is AGENT_PAIRING_PROOF_EXPIRED',
      async () => {
        const m = await machine();
        const agent = Wallet.createRandom() as unknown as Wallet;
        const c = await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/challenges`, {
          body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer' },
        });
        kit.ok(c, 'createAgentPairingChallenge', 201);
        const wait = Date.parse(c.body.item.expiresAt) - Date.now();
        if (wait > 15_000)
          kit.skip(
            `the target's pairing challenges live ${Math.round(wait / 1000)} s; start it with a short challenge TTL to exercise expiry`,
          );
        await new Promise((r) => setTimeout(r, Math.max(0, wait) + 300));
        const agentProof = {
          challengeId: c.body.item.challengeId,
          signature: await agent.signMessage(c.body.item.message),
        };
        const r = await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings`, {
          body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer', agentProof },
        });
        kit.error(r, 'createAgentPairing', 'AGENT_PAIRING_PROOF_EXPIRED');
      },
      { identity: true },
    );
  });
}
