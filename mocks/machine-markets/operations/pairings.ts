// Agent pairings: challenges, pairing, session rotation, repolicy and revoke.
import { getAddress } from 'ethers';
import { canonicalJson, normalisePolicy, type DelegationPolicy } from '../../../src/modules/pairings/policy.ts';
import { CLOSED_ORDER_STATUSES, type OrderStatus } from '../../../src/modules/orders/state.ts';
import { ApiError } from '../../../src/errors.ts';
import type { AgentPairing } from '../../../generated/types.gen.ts';
import { clockMs, mockId, now, type MockState } from '../state.ts';
import {
  type Operation,
  ok,
  created,
  gone,
  page,
  sorted,
  audit,
  machine,
  activeMachine,
  consume,
  issueChallenge,
  type OpsContext,
} from './common.ts';

const publicPairing = (p: AgentPairing & { token?: string }): AgentPairing => {
  const { token: _t, ...rest } = p;
  void _t;
  return rest;
};

/** A stand-in for the server's policy hash (FNV-1a over the canonical JSON): the mock signs nothing. */
function mockPolicyHash(p: unknown): string {
  let h = 0x811c9dc5;
  for (const ch of canonicalJson(p)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').repeat(8);
}

/** A JWT-shaped token with the documented claims. The mock does not sign it: it recognises it by value. */
function newToken(state: MockState, p: AgentPairing) {
  const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const iat = Math.floor(Date.parse(p.sessionIssuedAt ?? new Date(clockMs(state)).toISOString()) / 1000);
  const claims = {
    machineId: p.machineId,
    pairingId: p.id,
    sessionId: p.sessionId,
    agentAddress: p.agentAddress,
    agentDid: p.agentDid,
    delegationPolicyHash: mockPolicyHash(p.delegationPolicy),
    jti: p.sessionTokenId,
    iat,
    exp: iat + 3600,
    iss: 'peaqos-machine-markets-mock',
  };
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.mock-signature-${state.seq}`;
}

function rotate(state: MockState, p: AgentPairing & { token?: string }) {
  const at = now(state);
  p.sessionId = mockId(state, 'ses');
  p.sessionTokenId = mockId(state, 'jti');
  p.sessionIssuedAt = at;
  p.sessionExpiresAt = new Date(Date.parse(at) + 3_600_000).toISOString();
  p.token = newToken(state, p);
  p.hasAuthToken = true;
  p.tokenLastFour = p.token.slice(-4);
  p.updatedAt = at;
  return p.token;
}

export function pairingsOperations(ctx: OpsContext): Record<string, Operation> {
  const { pairable } = ctx;
  return {
    listAgentPairings: (state, req) => {
      machine(state, req.params.machineId!);
      return ok(
        page(
          sorted(state.pairings)
            .filter((p) => p.machineId === req.params.machineId && (!req.query.status || p.status === req.query.status))
            .map(publicPairing),
          req.query,
        ),
      );
    },
    getAgentPairing: (state, req) => {
      const p = state.pairings.get(req.params.pairingId!);
      if (!p || p.machineId !== req.params.machineId) gone('Agent pairing');
      return ok({ item: publicPairing(p!) });
    },
    createAgentPairingChallenge: async (state, req) => {
      const m = await pairable(state, req.params.machineId!);
      const address = getAddress(req.body.agentAddress);
      const did = req.body.agentDid ?? `did:pkh:eip155:1:${address}`;
      const c = issueChallenge(state, 'agent-pairing', address, m.id, [address], {
        agentProvider: req.body.agentProvider,
        agentRole: req.body.agentRole,
      });
      return created({
        item: {
          challengeId: c.id,
          machineId: m.id,
          agentAddress: address,
          agentDid: did,
          agentProvider: req.body.agentProvider,
          agentRole: req.body.agentRole,
          message: c.message,
          expiresAt: c.expiresAt,
          verificationMethod: 'eip191',
        },
      });
    },
    createAgentPairing: (state, req) => {
      const m = activeMachine(state, req.params.machineId!);
      const b = req.body;
      const address = getAddress(b.agentAddress);
      if (!b.agentProof) throw new ApiError('AGENT_PAIRING_PROOF_REQUIRED', 'agentProof is required.');
      const v = consume(
        state,
        b.agentProof,
        'agent-pairing',
        address,
        { invalid: 'AGENT_PAIRING_PROOF_INVALID', expired: 'AGENT_PAIRING_PROOF_EXPIRED' },
        [address],
      );
      const at = now(state);
      const p: AgentPairing & { token?: string } = {
        id: mockId(state, 'apr'),
        machineId: m.id,
        status: 'active',
        agentAddress: address,
        agentDid: b.agentDid ?? `did:pkh:eip155:1:${address}`,
        agentProvider: b.agentProvider,
        agentRole: b.agentRole,
        description: b.description ?? null,
        verification: {
          method: 'eip191',
          signerAddress: v.signer,
          verifiedAt: at,
          challengeExpiresAt: v.challenge.expiresAt,
        },
        delegationPolicy: normalisePolicy(b.delegationPolicy) as AgentPairing['delegationPolicy'],
        hasAuthToken: false,
        tokenLastFour: null,
        sessionId: null,
        sessionTokenId: null,
        sessionIssuedAt: null,
        sessionExpiresAt: null,
        createdAt: at,
        updatedAt: at,
      };
      const token = rotate(state, p);
      state.pairings.set(p.id, p);
      audit(state, 'agent-pairing.created', 'agent-pairing', p.id, { machineId: m.id });
      return created({ item: { ...publicPairing(p), pairingToken: token } });
    },
    createAgentPairingSession: (state, req) => {
      const p = state.pairings.get(req.params.pairingId!);
      if (!p || p.machineId !== req.params.machineId) gone('Agent pairing');
      if (p!.status !== 'active') throw new ApiError('AGENT_PAIRING_INACTIVE', `The pairing is ${p!.status}.`);
      if (!req.body?.agentProof)
        throw new ApiError('AGENT_PAIRING_PROOF_REQUIRED', 'agentProof over a fresh challenge is required.');
      consume(
        state,
        req.body.agentProof,
        'agent-pairing',
        p!.agentAddress,
        { invalid: 'AGENT_PAIRING_PROOF_INVALID', expired: 'AGENT_PAIRING_PROOF_EXPIRED' },
        [p!.agentAddress],
      );
      const token = rotate(state, p!);
      audit(state, 'agent-pairing.session-rotated', 'agent-pairing', p!.id);
      return created({ item: { ...publicPairing(p!), pairingToken: token } });
    },
    updateAgentPairing: (state, req) => {
      const p = state.pairings.get(req.params.pairingId!);
      if (!p || p.machineId !== req.params.machineId) gone('Agent pairing');
      if (p!.status === 'revoked') throw new ApiError('AGENT_PAIRING_INACTIVE', 'A revoked pairing cannot be changed.');
      if (req.body.delegationPolicy) {
        p!.delegationPolicy = normalisePolicy(
          req.body.delegationPolicy,
          p!.delegationPolicy as DelegationPolicy,
        ) as AgentPairing['delegationPolicy'];
        p!.token = undefined; // a policy change retires the session token
      }
      if (req.body.description !== undefined) p!.description = req.body.description;
      if (req.body.status) p!.status = req.body.status;
      p!.updatedAt = now(state);
      audit(state, 'agent-pairing.updated', 'agent-pairing', p!.id, { changed: Object.keys(req.body) });
      return ok({ item: publicPairing(p!) });
    },
    revokeAgentPairing: (state, req) => {
      const p = state.pairings.get(req.params.pairingId!);
      if (!p || p.machineId !== req.params.machineId) gone('Agent pairing');
      if (
        [...state.orders.values()].some(
          (o) => o.agentPairingId === p!.id && !CLOSED_ORDER_STATUSES.includes(o.status as OrderStatus),
        )
      )
        throw new ApiError('OPEN_MARKET_ORDERS', 'The pairing has open market orders.');
      p!.status = 'revoked';
      p!.hasAuthToken = false;
      // The token is still recognised, as the server does, so that using it answers AGENT_PAIRING_INACTIVE.
      p!.updatedAt = now(state);
      audit(state, 'agent-pairing.revoked', 'agent-pairing', p!.id);
      return ok({ item: publicPairing(p!) });
    },
  };
}
