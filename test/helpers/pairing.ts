import { Wallet, keccak256, toUtf8Bytes, type Signer } from 'ethers';
import type { ContractClient } from './contract-client.ts';

/** Deterministic agent wallets keep failures reproducible. */
export const agentWallet = (label = 'agent') => new Wallet(keccak256(toUtf8Bytes(`peaqos-test-agent:${label}`)));

export async function pairingProof(
  client: ContractClient,
  machineId: string,
  signer: Pick<Signer, 'signMessage' | 'getAddress'>,
  identity: { agentProvider?: string; agentRole?: string; agentDid?: string } = {},
) {
  const agentAddress = await signer.getAddress();
  const c = await client.post(`/api/v1/machines/${machineId}/agent-pairings/challenges`, {
    agentAddress,
    agentProvider: identity.agentProvider ?? 'anthropic',
    agentRole: identity.agentRole ?? 'buyer',
    ...(identity.agentDid ? { agentDid: identity.agentDid } : {}),
  });
  if (c.status !== 201) throw new Error(`pairing challenge failed: ${c.status} ${JSON.stringify(c.body)}`);
  return {
    challengeId: c.body.item.challengeId as string,
    signature: await signer.signMessage(c.body.item.message as string),
  };
}

/** Pairs `signer` with the machine; returns the pairing (with its token). */
export async function pair(
  client: ContractClient,
  machineId: string,
  signer: Pick<Signer, 'signMessage' | 'getAddress'>,
  extra: Record<string, unknown> = {},
) {
  const agentProof = await pairingProof(client, machineId, signer);
  const r = await client.post(`/api/v1/machines/${machineId}/agent-pairings`, {
    agentAddress: await signer.getAddress(),
    agentProvider: 'anthropic',
    agentRole: 'buyer',
    agentProof,
    ...extra,
  });
  if (r.status !== 201) throw new Error(`pairing failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.item as { id: string; pairingToken: string; [k: string]: unknown };
}

export async function rotate(
  client: ContractClient,
  machineId: string,
  pairingId: string,
  signer: Pick<Signer, 'signMessage' | 'getAddress'>,
) {
  const agentProof = await pairingProof(client, machineId, signer);
  return client.post(`/api/v1/machines/${machineId}/agent-pairings/${pairingId}/sessions`, { agentProof });
}
