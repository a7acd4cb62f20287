// Signs challenges the way a DID controller or an agent wallet would (EIP-191 personal_sign with ethers).
import type { Signer } from 'ethers';
import { didOf, testWallet } from '../../mocks/mcr/fixtures.ts';
import type { ContractClient } from './contract-client.ts';

export async function machineProof(client: ContractClient, identityRef: string, signer: Pick<Signer, 'signMessage'>) {
  const c = await client.post('/api/v1/machine-identity/challenges', { identityRef });
  if (c.status !== 201) throw new Error(`challenge failed: ${c.status} ${JSON.stringify(c.body)}`);
  return {
    challengeId: c.body.item.challengeId as string,
    signature: await signer.signMessage(c.body.item.message as string),
  };
}

export const machineWallet = (id: number) => testWallet(`machine:${id}`);
export const machineDid = (id: number) => didOf(machineWallet(id));

export function machineBody(identityRef: string, over: Record<string, unknown> = {}) {
  return {
    displayName: 'Rover',
    ownerId: 'acme',
    machineType: 'rover',
    runtimeProfile: 'jetson-orin',
    identityRef,
    capabilities: ['llm.inference'],
    ...over,
  };
}

/** Registers and activates machine `mcrId` of the mock MCR; returns its record. */
export async function activeMachine(client: ContractClient, mcrId: number, over: Record<string, unknown> = {}) {
  const ref = machineDid(mcrId);
  const created = await client.post(
    '/api/v1/machines',
    machineBody(ref, { ...over, identityProof: await machineProof(client, ref, machineWallet(mcrId)) }),
  );
  if (created.status !== 201) throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
  const activated = await client.patch(`/api/v1/machines/${created.body.item.id}`, { status: 'active' });
  if (activated.status !== 200)
    throw new Error(`activate failed: ${activated.status} ${JSON.stringify(activated.body)}`);
  return activated.body.item as { id: string; identityRef: string; [k: string]: unknown };
}
