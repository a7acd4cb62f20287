// What every check group shares: the HTTP client, the fixtures, and the state checks build on (a registered,
// active machine; a pairing with its token). That state is set up on first use by whichever check needs it, so a
// group runs the same alone (`--only`) as in a full run, and no group depends on the order groups run in.
import { Wallet } from 'ethers';
import { CheckFailure, type Kit } from '../kit.ts';
import type { Fixtures, KitMachineIdentity } from '../fixtures.ts';
import type { Exchange, KitHttp } from '../http.ts';

export interface Machine {
  id: string;
  identity: KitMachineIdentity;
}
export interface Pairing {
  id: string;
  token: string;
  agent: Wallet;
  machineId: string;
}

/** Appended to every expectation that only a target keeping state can meet. */
export const STATELESS = 'a target that keeps no state cannot pass this';

export interface CheckContext {
  kit: Kit;
  fx: Fixtures;
  h: KitHttp;
  /** A value the target must never echo (a provider credential, a runtime auth token). */
  secret: string;
  tokenHeader(token: string): Record<string, string>;
  machineChallenge(ref: string): Promise<Exchange>;
  register(identity: KitMachineIdentity, signer?: Wallet): Promise<Exchange>;
  /** Registers and activates a new machine. */
  activeMachine(): Promise<Machine>;
  pairingChallenge(machineId: string, agent: Wallet): Promise<{ challengeId: string; signature: string }>;
  /** Pairs a new agent to the machine, with a delegation policy when given. */
  pairAgent(machineId: string, delegationPolicy?: Record<string, unknown>): Promise<Pairing>;
  /** The run's shared machine and pairing, created on first use. */
  machine(): Promise<Machine>;
  pairing(): Promise<Pairing>;
  /** A second machine with its own pairing, for checks across machines. */
  otherPairing(): Promise<Pairing>;
}

/**
 * A value set up once and shared. When setting it up fails, every check that needs it fails with the same cause,
 * prefixed with what was being set up: a check that cannot build its state has not shown the behaviour it names.
 */
function once<T>(what: string, make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return async () => {
    pending ??= make();
    try {
      return await pending;
    } catch (err) {
      if (err instanceof CheckFailure)
        throw new CheckFailure({ ...err.failure, expectation: `setting up ${what}: ${err.failure.expectation}` });
      throw err;
    }
  };
}

export function createContext(kit: Kit, fx: Fixtures): CheckContext {
  const h = kit.http;
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
      body: {
        displayName: `conformance ${identity.mcrId}`,
        ownerId: 'conformance-kit',
        machineType: 'test-rig',
        runtimeProfile: 'conformance',
        identityRef: identity.did,
        identityProof: { challengeId: c.body.item.challengeId, signature },
        capabilities: ['llm.inference'],
      },
    });
  }
  async function activeMachine(): Promise<Machine> {
    const identity = fx.newMachine();
    const created = kit.ok(await register(identity), 'createMachine', 201);
    const act = kit.ok(
      await h.send('PATCH', `/api/v1/machines/${created.body.item.id}`, { body: { status: 'active' } }),
      'updateMachine',
      200,
    );
    kit.assert(
      act.body.item.status === 'active',
      act,
      'updateMachine',
      `status active after activation (${STATELESS})`,
    );
    return { id: created.body.item.id, identity };
  }
  async function pairingChallenge(machineId: string, agent: Wallet) {
    const c = await h.send('POST', `/api/v1/machines/${machineId}/agent-pairings/challenges`, {
      body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer' },
    });
    kit.ok(c, 'createAgentPairingChallenge', 201);
    return { challengeId: c.body.item.challengeId as string, signature: await agent.signMessage(c.body.item.message) };
  }
  async function pairAgent(machineId: string, delegationPolicy?: Record<string, unknown>): Promise<Pairing> {
    const agent = Wallet.createRandom() as unknown as Wallet;
    const proof = await pairingChallenge(machineId, agent);
    const r = kit.ok(
      await h.send('POST', `/api/v1/machines/${machineId}/agent-pairings`, {
        body: {
          agentAddress: agent.address,
          agentProvider: 'conformance',
          agentRole: 'buyer',
          agentProof: proof,
          ...(delegationPolicy ? { delegationPolicy } : {}),
        },
      }),
      'createAgentPairing',
      201,
    );
    kit.assert(
      typeof r.body.item.pairingToken === 'string',
      r,
      'createAgentPairing',
      'pairingToken in the create response',
    );
    kit.assert(
      r.body.item.machineId === machineId && r.body.item.agentAddress?.toLowerCase() === agent.address.toLowerCase(),
      r,
      'createAgentPairing',
      `the pairing names the machine and the agent it was created for (${STATELESS})`,
    );
    return { id: r.body.item.id, token: r.body.item.pairingToken, agent, machineId };
  }

  const machine = once('a registered, active machine', activeMachine);
  const pairing = once('a pairing on that machine', async () => pairAgent((await machine()).id));
  const otherPairing = once('a second machine with its own pairing', async () => pairAgent((await activeMachine()).id));

  return {
    kit,
    fx,
    h,
    secret: `kit-secret-${Math.random().toString(36).slice(2)}`,
    tokenHeader,
    machineChallenge,
    register,
    activeMachine,
    pairingChallenge,
    pairAgent,
    machine,
    pairing,
    otherPairing,
  };
}
