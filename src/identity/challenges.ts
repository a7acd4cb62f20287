// Signed challenges for machine identity and agent pairing. Stored in the database (several server processes can
// share them), single use (consumed in the same transaction as the write that used them), and they expire.
// Verification recovers the EIP-191 signer with ethers and compares checksummed addresses.
import { randomBytes } from 'node:crypto';
import { getAddress, verifyMessage } from 'ethers';
import type { Knex } from 'knex';
import { newId } from '../ids.ts';
import { fromJson, toJson } from '../store/db.ts';
import { emit } from '../observe.ts';
import { ApiError, type ErrorCode } from '../errors.ts';
import { challengeMessage } from './challenge-message.ts';

export { challengeMessage };

export type ChallengePurpose = 'machine-identity' | 'agent-pairing';

export interface IssuedChallenge {
  id: string;
  purpose: ChallengePurpose;
  subject: string;
  machineId: string | null;
  payload: Record<string, unknown>;
  message: string;
  issuedAt: string;
  expiresAt: string;
}

interface ChallengeRow {
  id: string;
  purpose: string;
  subject: string;
  machine_id: string | null;
  payload: string;
  message: string;
  issued_at: string;
  expires_at: string;
  consumed_at: string | null;
}

const PREFIX: Record<ChallengePurpose, string> = { 'machine-identity': 'mic', 'agent-pairing': 'apc' };

export async function issueChallenge(
  db: Knex,
  input: {
    purpose: ChallengePurpose;
    subject: string;
    subjectLabel: string;
    machineId?: string | null;
    payload: Record<string, unknown>;
    now: Date;
    ttlMs: number;
  },
): Promise<IssuedChallenge> {
  const id = newId(PREFIX[input.purpose], input.now.getTime());
  const issuedAt = input.now.toISOString();
  const expiresAt = new Date(input.now.getTime() + input.ttlMs).toISOString();
  const message = challengeMessage({
    purpose: input.purpose,
    subjectLabel: input.subjectLabel,
    subject: input.subject,
    machineId: input.machineId,
    id,
    nonce: randomBytes(16).toString('hex'),
    issuedAt,
    expiresAt,
  });
  await db('challenges').insert({
    id,
    purpose: input.purpose,
    subject: input.subject,
    machine_id: input.machineId ?? null,
    payload: toJson(input.payload),
    message,
    issued_at: issuedAt,
    expires_at: expiresAt,
    consumed_at: null,
  });
  emit({ kind: 'challenge', db, purpose: input.purpose });
  return {
    id,
    purpose: input.purpose,
    subject: input.subject,
    machineId: input.machineId ?? null,
    payload: input.payload,
    message,
    issuedAt,
    expiresAt,
  };
}

export interface ProofCodes {
  invalid: ErrorCode;
  expired: ErrorCode;
}

export const MACHINE_PROOF_CODES: ProofCodes = {
  invalid: 'MACHINE_IDENTITY_PROOF_INVALID',
  expired: 'MACHINE_IDENTITY_PROOF_EXPIRED',
};
export const PAIRING_PROOF_CODES: ProofCodes = {
  invalid: 'AGENT_PAIRING_PROOF_INVALID',
  expired: 'AGENT_PAIRING_PROOF_EXPIRED',
};

export interface VerifiedProof {
  challenge: IssuedChallenge;
  signerAddress: string;
}

/**
 * Checks a proof and consumes its challenge inside `trx`. The caller commits the write that used it in the same
 * transaction, so a rejected write leaves the challenge usable and an accepted one can never be replayed.
 */
export async function consumeProof(
  trx: Knex.Transaction,
  input: {
    proof: { challengeId: string; signature: string };
    purpose: ChallengePurpose;
    subject: string;
    machineId?: string | null;
    allowedSigners: string[];
    now: Date;
    codes: ProofCodes;
  },
): Promise<VerifiedProof> {
  const row = (await trx('challenges').where({ id: input.proof.challengeId }).first()) as ChallengeRow | undefined;
  const invalid = (why: string) => new ApiError(input.codes.invalid, why);
  if (!row || row.purpose !== input.purpose) throw invalid('Unknown challenge: request a new one.');
  if (row.subject.toLowerCase() !== input.subject.toLowerCase())
    throw invalid('The challenge was issued for a different identity.');
  if ((row.machine_id ?? null) !== (input.machineId ?? null))
    throw invalid('The challenge was issued for a different machine.');
  if (row.consumed_at) throw invalid('The challenge has already been used: request a new one.');
  if (Date.parse(row.expires_at) <= input.now.getTime())
    throw new ApiError(input.codes.expired, 'The challenge expired: request a new one.');

  let recovered: string;
  try {
    recovered = getAddress(verifyMessage(row.message, input.proof.signature));
  } catch {
    throw invalid('The signature is not a valid EIP-191 signature of the challenge message.');
  }
  const allowed = input.allowedSigners.map((a) => getAddress(a.toLowerCase()));
  if (!allowed.includes(recovered)) throw invalid('The signature does not recover to an authorised address.');

  const consumed = await trx('challenges')
    .where({ id: row.id })
    .whereNull('consumed_at')
    .update({ consumed_at: input.now.toISOString() });
  if (consumed !== 1) throw invalid('The challenge has already been used: request a new one.');

  return {
    challenge: {
      id: row.id,
      purpose: row.purpose as ChallengePurpose,
      subject: row.subject,
      machineId: row.machine_id,
      payload: fromJson(row.payload, {}),
      message: row.message,
      issuedAt: row.issued_at,
      expiresAt: row.expires_at,
    },
    signerAddress: recovered,
  };
}
