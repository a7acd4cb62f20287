// Fixture registry for the mock MCR: deterministic test wallets (private keys exported for tests — they guard
// nothing real), operators, bonded and unbonded machines, and a machine whose wallet is the zero address.
import { Wallet, keccak256, toUtf8Bytes } from 'ethers';

export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000';

export function testWallet(label: string): Wallet {
  return new Wallet(keccak256(toUtf8Bytes(`peaqos-mock-mcr:${label}`)));
}

export interface McrMachine {
  machineId: number;
  /** The machine wallet; null models the zero-address wallet. */
  wallet: Wallet | null;
  operator: Wallet | null;
  bondStatus: 'bonded' | 'unbonded';
  dataVisibility: 'private' | 'onchain' | 'public';
  dataApi: string | null;
  documentationUrl: string | null;
  eventCount: number;
  mcrScore: number;
  tokenId: number | null;
}

export const REGISTRY_ADDRESS = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
export const CHAIN_ID = 3338;

export const OPERATOR_A = testWallet('operator:a');
export const OPERATOR_B = testWallet('operator:b');

export function fixtureMachine(machineId: number, over: Partial<McrMachine> = {}): McrMachine {
  return {
    machineId,
    wallet: testWallet(`machine:${machineId}`),
    operator: null,
    bondStatus: 'bonded',
    dataVisibility: 'private',
    dataApi: null,
    documentationUrl: null,
    eventCount: 12,
    mcrScore: 62,
    tokenId: machineId,
    ...over,
  };
}

/** The default fleet: 1-3 bonded (1 and 2 under operator A), 4 unbonded, 5 with a zero-address wallet, 6 under operator B. */
export function defaultMachines(): McrMachine[] {
  return [
    fixtureMachine(1, { operator: OPERATOR_A, dataApi: 'https://rover-1.example.invalid/data' }),
    fixtureMachine(2, { operator: OPERATOR_A, mcrScore: 88 }),
    fixtureMachine(3, { mcrScore: 40 }),
    fixtureMachine(4, { bondStatus: 'unbonded', mcrScore: 0 }),
    fixtureMachine(5, { wallet: null }),
    fixtureMachine(6, { operator: OPERATOR_B, dataVisibility: 'public' }),
  ];
}

export const didOf = (w: { address: string }) => `did:peaq:${w.address}`;

export function rating(score: number, bond: 'bonded' | 'unbonded', events: number): string {
  if (bond === 'unbonded') return 'NR';
  if (events === 0) return 'Provisioned';
  if (score >= 95) return 'AAA';
  if (score >= 85) return 'AA';
  if (score >= 75) return 'A';
  if (score >= 60) return 'BBB';
  if (score >= 45) return 'BB';
  if (score >= 30) return 'B';
  return 'NR';
}
