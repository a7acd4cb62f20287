// Machine Agent pairings: challenge-based pairing, HS256 session tokens bound to the current session and policy,
// repolicy/pause/resume, revoke. Also the one authenticator every market call uses for x-agent-pairing-token.
import { withTransaction } from '../../store/tx.ts';
import type { Knex } from 'knex';
import { getAddress } from 'ethers';
import type { Config } from '../../config.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { ApiError, notFound, validationError } from '../../errors.ts';
import { keysetPage, type Page, type PageQuery } from '../../store/pages.ts';
import { recordAudit } from '../audit/service.ts';
import { consumeProof, issueChallenge, PAIRING_PROOF_CODES } from '../../identity/challenges.ts';
import type { MachinesService } from '../machines/service.ts';
import type { Machine } from '../machines/types.ts';
import { findMachine } from '../machines/repo.ts';
import {
  fromRow,
  findPairing,
  insertPairing,
  pairingsQuery,
  readPairing,
  savePairing,
  type PairingRecord,
} from './repo.ts';
import type { PreparedReads } from '../../store/prepared.ts';
import { normalisePolicy, type DelegationPolicyInput } from './policy.ts';
import { policyHash } from './policy-hash.ts';
import { OPERATOR, type Caller } from '../../auth/caller.ts';
import type { AgentPairing } from '../../../generated/types.gen.ts';
import { SessionSigner, digestsEqual, tokenDigest } from './session.ts';

export type AgentPairingView = AgentPairing;

/** A pairing as the contract shows it: never its policy hash or token digest. */
export function toView(p: PairingRecord): AgentPairing {
  const { policyHash: _hash, tokenHash, ...rest } = p;
  return { ...rest, hasAuthToken: !!tokenHash };
}

/** The one answer that carries the pairing token: the create or rotate call that issued it. */
export function withToken(p: PairingRecord, pairingToken: string): AgentPairing & { pairingToken: string } {
  return { ...toView(p), pairingToken };
}

interface AgentIdentity {
  agentAddress: string;
  agentProvider: string;
  agentRole: string;
  agentDid?: string;
}

const DID_PKH = /^did:pkh:eip155:([1-9][0-9]{0,19}):(0x[0-9a-fA-F]{40})$/;

/** The documented agentDid rule: derive did:pkh:eip155:1:<address>, or check a given one names the same address. */
export function resolveAgentDid(agentAddress: string, agentDid?: string): { address: string; did: string } {
  let address: string;
  try {
    address = getAddress(agentAddress);
  } catch {
    throw validationError('agentAddress is not a valid EVM address (bad checksum?).', [
      { location: 'body', path: '/agentAddress', rule: 'address', message: 'invalid address' },
    ]);
  }
  if (agentDid === undefined) return { address, did: `did:pkh:eip155:1:${address}` };
  const m = DID_PKH.exec(agentDid);
  const detail = [
    {
      location: 'body',
      path: '/agentDid',
      rule: 'did-pkh',
      message: 'must be did:pkh:eip155:<chainId>:<agentAddress>',
    },
  ];
  if (!m) throw validationError('agentDid must have the form did:pkh:eip155:<chainId>:<agentAddress>.', detail);
  let didAddress: string;
  try {
    didAddress = getAddress(m[2]!);
  } catch {
    throw validationError('agentDid holds an address with a bad checksum.', detail);
  }
  if (didAddress !== address) throw validationError('agentDid names a different address than agentAddress.', detail);
  return { address, did: `did:pkh:eip155:${m[1]}:${address}` };
}

/** What the pairing-token authenticator puts on a market request. */
export interface PairingPrincipal {
  pairing: PairingRecord;
  tokenPresented: boolean;
}

/** What pairings need, with whether a pairing has open orders (which blocks revoking it) as a required port. */
export interface PairingsServiceDeps {
  db: Knex;
  config: Config;
  clock: Clock;
  machines: MachinesService;
  /** Reads outside transactions (the pairing a token names): prepared statements on the read-only handle. */
  reads: PreparedReads;
  hasOpenOrders(trx: Knex.Transaction, pairingId: string): Promise<boolean>;
}

export class PairingsService {
  readonly signer: SessionSigner;
  private readonly db: Knex;
  private readonly reads: PreparedReads;
  private readonly config: Config;
  private readonly clock: Clock;
  private readonly machines: MachinesService;
  private readonly hasOpenOrders: PairingsServiceDeps['hasOpenOrders'];

  constructor(deps: PairingsServiceDeps) {
    ({ db: this.db, config: this.config, clock: this.clock, machines: this.machines } = deps);
    this.hasOpenOrders = deps.hasOpenOrders;
    this.reads = deps.reads;
    this.signer = new SessionSigner(deps.config.agentPairingSessionSecret);
  }

  private get mode() {
    return this.config.agentPairingVerification;
  }

  /** Pairing writes need an active, identity-verified, bonded machine; MCR trouble is AGENT_PAIRING_UNAVAILABLE here. */
  private async pairableMachine(machineId: string): Promise<Machine> {
    try {
      return (
        await this.machines.requireActive(machineId, {
          bonded: true,
          unverifiedCode: 'MACHINE_IDENTITY_PROOF_REQUIRED',
        })
      ).machine;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'PEAQOS_IDENTITY_UNAVAILABLE') {
        throw new ApiError(
          'AGENT_PAIRING_UNAVAILABLE',
          'Pairing cannot be verified right now: peaqOS MCR is unavailable.',
          undefined,
          err.headers,
        );
      }
      throw err;
    }
  }

  private async machineExists(machineId: string): Promise<void> {
    if (!(await findMachine(this.db, machineId))) throw notFound('Machine');
  }

  /** The pairing of `machineId`; inside a transaction (`lock`) its row stays locked until the transaction ends. */
  private async pairingOf(
    db: Knex | Knex.Transaction,
    machineId: string,
    pairingId: string,
    lock = false,
  ): Promise<PairingRecord> {
    const p = await findPairing(db, pairingId, lock);
    if (!p || p.machineId !== machineId) throw notFound('Agent pairing');
    return p;
  }

  async createChallenge(machineId: string, input: AgentIdentity) {
    const machine = await this.pairableMachine(machineId);
    const { address, did } = resolveAgentDid(input.agentAddress, input.agentDid);
    const c = await issueChallenge(this.db, {
      purpose: 'agent-pairing',
      subject: address,
      subjectLabel: 'Agent',
      machineId: machine.id,
      payload: { agentProvider: input.agentProvider, agentRole: input.agentRole, agentDid: did },
      now: this.clock.now(),
      ttlMs: this.config.agentPairingChallengeTtlMs,
    });
    return {
      challengeId: c.id,
      machineId: machine.id,
      agentAddress: address,
      agentDid: did,
      agentProvider: input.agentProvider,
      agentRole: input.agentRole,
      message: c.message,
      expiresAt: c.expiresAt,
      verificationMethod: 'eip191' as const,
    };
  }

  /** Issues a fresh session on `p` (mutates it) and returns the token, which is never stored. */
  private async issueSession(p: PairingRecord, now: Date): Promise<string> {
    const sessionId = newId('ses', now.getTime());
    const jti = newId('jti', now.getTime());
    const expires = new Date(now.getTime() + this.config.agentPairingSessionTtlMs);
    const token = await this.signer.sign(
      {
        machineId: p.machineId,
        pairingId: p.id,
        sessionId,
        agentAddress: p.agentAddress,
        agentDid: p.agentDid,
        delegationPolicyHash: p.policyHash,
      },
      jti,
      now,
      expires,
    );
    p.sessionId = sessionId;
    p.sessionTokenId = jti;
    p.sessionIssuedAt = now.toISOString();
    p.sessionExpiresAt = expires.toISOString();
    p.tokenHash = tokenDigest(token);
    p.tokenLastFour = token.slice(-4);
    return token;
  }

  async create(
    machineId: string,
    input: AgentIdentity & {
      agentProof?: { challengeId: string; signature: string };
      description?: string | null;
      delegationPolicy?: DelegationPolicyInput;
    },
  ) {
    const now = this.clock.now();
    const machine = await this.pairableMachine(machineId);
    const { address, did } = resolveAgentDid(input.agentAddress, input.agentDid);
    if (this.mode === 'required' && !input.agentProof) {
      throw new ApiError(
        'AGENT_PAIRING_PROOF_REQUIRED',
        'agentProof is required: sign a challenge from POST .../agent-pairings/challenges.',
      );
    }
    const policy = normalisePolicy(input.delegationPolicy);
    return withTransaction(this.db, async (trx) => {
      let verification: PairingRecord['verification'] = null;
      if (this.mode !== 'disabled' && input.agentProof) {
        const v = await consumeProof(trx, {
          proof: input.agentProof,
          purpose: 'agent-pairing',
          subject: address,
          machineId: machine.id,
          allowedSigners: [address],
          now,
          codes: PAIRING_PROOF_CODES,
        });
        const keyed = v.challenge.payload as { agentProvider?: string; agentRole?: string; agentDid?: string };
        if (
          keyed.agentProvider !== input.agentProvider ||
          keyed.agentRole !== input.agentRole ||
          keyed.agentDid !== did
        ) {
          throw new ApiError(
            'AGENT_PAIRING_PROOF_INVALID',
            'The challenge was issued for a different agentProvider, agentRole or agentDid.',
          );
        }
        verification = {
          method: 'eip191',
          signerAddress: v.signerAddress,
          verifiedAt: now.toISOString(),
          challengeExpiresAt: v.challenge.expiresAt,
        };
      }
      const at = now.toISOString();
      const p: PairingRecord = {
        id: newId('apr', now.getTime()),
        machineId: machine.id,
        status: 'active',
        agentAddress: address,
        agentDid: did,
        agentProvider: input.agentProvider,
        agentRole: input.agentRole,
        description: input.description ?? null,
        verification,
        delegationPolicy: policy,
        policyHash: policyHash(policy),
        tokenHash: null,
        tokenLastFour: null,
        sessionId: null,
        sessionTokenId: null,
        sessionIssuedAt: null,
        sessionExpiresAt: null,
        createdAt: at,
        updatedAt: at,
      };
      const token = await this.issueSession(p, now);
      await insertPairing(trx, p);
      await recordAudit(trx, {
        type: 'agent-pairing.created',
        resourceType: 'agent-pairing',
        resourceId: p.id,
        payload: {
          machineId: p.machineId,
          agentAddress: p.agentAddress,
          agentProvider: p.agentProvider,
          agentRole: p.agentRole,
          verified: !!verification,
          sessionId: p.sessionId,
          delegationPolicyHash: p.policyHash,
        },
        at,
      });
      return withToken(p, token);
    });
  }

  /** A new session token. An agent-scoped caller proves it is the pairing's agent by signing, whatever the mode. */
  async rotate(
    machineId: string,
    pairingId: string,
    input: { agentProof?: { challengeId: string; signature: string } },
    caller: Caller = OPERATOR,
  ) {
    const now = this.clock.now();
    const current = await this.pairingOf(this.db, machineId, pairingId);
    if (current.status !== 'active')
      throw new ApiError(
        'AGENT_PAIRING_INACTIVE',
        `The pairing is ${current.status}; only an active pairing can rotate its session.`,
      );
    await this.pairableMachine(machineId);
    const mustSign = this.mode === 'required' || caller.role === 'agent';
    if (mustSign && !input.agentProof)
      throw new ApiError(
        'AGENT_PAIRING_PROOF_REQUIRED',
        'agentProof over a fresh challenge is required to rotate the session.',
      );
    return withTransaction(this.db, async (trx) => {
      const p = await this.pairingOf(trx, machineId, pairingId, true);
      if (p.status !== 'active') throw new ApiError('AGENT_PAIRING_INACTIVE', `The pairing is ${p.status}.`);
      if ((this.mode !== 'disabled' || caller.role === 'agent') && input.agentProof) {
        const v = await consumeProof(trx, {
          proof: input.agentProof,
          purpose: 'agent-pairing',
          subject: p.agentAddress,
          machineId,
          allowedSigners: [p.agentAddress],
          now,
          codes: PAIRING_PROOF_CODES,
        });
        p.verification = {
          method: 'eip191',
          signerAddress: v.signerAddress,
          verifiedAt: now.toISOString(),
          challengeExpiresAt: v.challenge.expiresAt,
        };
      }
      const previousSession = p.sessionId;
      const token = await this.issueSession(p, now);
      p.updatedAt = now.toISOString();
      await savePairing(trx, p);
      await recordAudit(trx, {
        type: 'agent-pairing.session-rotated',
        resourceType: 'agent-pairing',
        resourceId: p.id,
        payload: {
          machineId,
          previousSessionId: previousSession,
          sessionId: p.sessionId,
          sessionExpiresAt: p.sessionExpiresAt,
          delegationPolicyHash: p.policyHash,
        },
        at: p.updatedAt,
      });
      return withToken(p, token);
    });
  }

  async update(
    machineId: string,
    pairingId: string,
    input: { delegationPolicy?: DelegationPolicyInput; description?: string | null; status?: 'active' | 'paused' },
  ) {
    const now = this.clock.now();
    await this.machineExists(machineId);
    return withTransaction(this.db, async (trx) => {
      const p = await this.pairingOf(trx, machineId, pairingId, true);
      if (p.status === 'revoked') throw new ApiError('AGENT_PAIRING_INACTIVE', 'A revoked pairing cannot be changed.');
      const before = { status: p.status, hash: p.policyHash };
      if (input.delegationPolicy) {
        p.delegationPolicy = normalisePolicy(input.delegationPolicy, p.delegationPolicy);
        p.policyHash = policyHash(p.delegationPolicy);
      }
      if (input.description !== undefined) p.description = input.description;
      if (input.status) p.status = input.status;
      p.updatedAt = now.toISOString();
      await savePairing(trx, p);
      await recordAudit(trx, {
        type: 'agent-pairing.updated',
        resourceType: 'agent-pairing',
        resourceId: p.id,
        payload: {
          machineId,
          changed: Object.keys(input),
          fromStatus: before.status,
          status: p.status,
          policyChanged: before.hash !== p.policyHash,
          delegationPolicy: p.delegationPolicy,
          delegationPolicyHash: p.policyHash,
        },
        at: p.updatedAt,
      });
      return toView(p);
    });
  }

  async revoke(machineId: string, pairingId: string) {
    const now = this.clock.now();
    await this.machineExists(machineId);
    return withTransaction(this.db, async (trx) => {
      const p = await this.pairingOf(trx, machineId, pairingId, true);
      if (p.status === 'revoked') return toView(p);
      if (await this.hasOpenOrders(trx, p.id)) {
        throw new ApiError(
          'OPEN_MARKET_ORDERS',
          'The pairing has open market orders: settle or cancel them before revoking.',
        );
      }
      const from = p.status;
      p.status = 'revoked';
      p.tokenHash = null;
      p.updatedAt = now.toISOString();
      await savePairing(trx, p);
      await recordAudit(trx, {
        type: 'agent-pairing.revoked',
        resourceType: 'agent-pairing',
        resourceId: p.id,
        payload: { machineId, fromStatus: from, sessionId: p.sessionId },
        at: p.updatedAt,
      });
      return toView(p);
    });
  }

  /** An agent-scoped caller reads only the pairing its token belongs to. */
  async get(machineId: string, pairingId: string, caller: Caller = OPERATOR) {
    await this.machineExists(machineId);
    if (caller.role === 'agent') await this.authenticate(caller, { machineId, agentPairingId: pairingId });
    return toView(await this.pairingOf(this.db, machineId, pairingId));
  }

  async list(machineId: string, status: string | undefined, page: PageQuery): Promise<Page<AgentPairingView>> {
    await this.machineExists(machineId);
    return keysetPage(pairingsQuery(this.db, machineId, status), page, (r) => toView(fromRow(r as never)));
  }

  /**
   * The x-agent-pairing-token check for every market call. A token is valid only while its session is the
   * pairing's current one, the pairing is active and its policy hash is the current policy's.
   * Without a token: AGENT_AUTH_REQUIRED when PEAQOS_REQUIRE_AGENT_PAIRING_AUTH=true; otherwise the request must
   * name its pairing (`agentPairingId`), else AGENT_PAIRING_REQUIRED.
   */
  async authenticate(caller: Caller, ctx: { machineId?: string; agentPairingId?: string }): Promise<PairingPrincipal> {
    const token = caller.pairingToken;
    if (!token) {
      // An agent-scoped key always needs its token: naming a pairing is an operator's convenience.
      if (this.config.requireAgentPairingAuth || caller.role === 'agent')
        throw new ApiError('AGENT_AUTH_REQUIRED', 'This call needs the x-agent-pairing-token header.');
      if (!ctx.agentPairingId)
        throw new ApiError(
          'AGENT_PAIRING_REQUIRED',
          'Name the Machine Agent pairing (agentPairingId) or send its x-agent-pairing-token.',
        );
      const p = await readPairing(this.reads, ctx.agentPairingId);
      if (!p || (ctx.machineId && p.machineId !== ctx.machineId))
        throw new ApiError('AGENT_PAIRING_REQUIRED', 'No such pairing for this machine.');
      if (p.status !== 'active') throw new ApiError('AGENT_PAIRING_INACTIVE', `The pairing is ${p.status}.`);
      return { pairing: p, tokenPresented: false };
    }
    const claims = await this.signer.verify(token, this.clock.now());
    const p = await readPairing(this.reads, claims.pairingId);
    if (!p || p.machineId !== claims.machineId)
      throw new ApiError('AGENT_AUTH_INVALID', 'The pairing token does not name a known pairing.');
    if (ctx.machineId && ctx.machineId !== claims.machineId)
      throw new ApiError('AGENT_AUTH_INVALID', 'The pairing token belongs to another machine.');
    if (ctx.agentPairingId && ctx.agentPairingId !== claims.pairingId)
      throw new ApiError('AGENT_AUTH_INVALID', 'The pairing token belongs to another pairing.');
    if (p.status !== 'active') throw new ApiError('AGENT_PAIRING_INACTIVE', `The pairing is ${p.status}.`);
    if (
      claims.sessionId !== p.sessionId ||
      claims.jti !== p.sessionTokenId ||
      !p.tokenHash ||
      !digestsEqual(tokenDigest(token), p.tokenHash)
    ) {
      throw new ApiError('AGENT_AUTH_INVALID', 'The pairing token was replaced by a newer session.');
    }
    if (claims.delegationPolicyHash !== p.policyHash) {
      throw new ApiError(
        'AGENT_AUTH_INVALID',
        'The delegation policy changed since this token was issued: rotate the session.',
      );
    }
    return { pairing: p, tokenPresented: true };
  }
}
