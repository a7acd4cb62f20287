export type MachineStatus = 'draft' | 'active' | 'degraded' | 'blocked' | 'archived';

export interface MachineIdentityProof {
  method: 'eip191';
  identityRef: string;
  signerAddress: string;
  challengeId: string;
  verifiedAt: string;
  challengeExpiresAt: string;
  controllerAddresses: string[];
  resolutionSource: 'peaqos-mcr';
}

export interface Machine {
  id: string;
  displayName: string;
  status: MachineStatus;
  ownerId: string;
  identityRef: string;
  identityProof: MachineIdentityProof | null;
  machineType: string;
  runtimeProfile: string;
  capabilities: string[];
  labels: Record<string, string>;
  policyIds: string[];
  skillKeys: string[];
  createdAt: string;
  updatedAt: string;
}
