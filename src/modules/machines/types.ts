// A machine and its identity proof are the contract's own types (generated from openapi.yaml).
export type { Machine, MachineIdentityProof, MachineStatus } from '../../../generated/types.gen.ts';
