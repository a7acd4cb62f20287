// The human-readable message a challenge asks to sign (EIP-191). No Node imports: the browser mock uses it too.
export type ChallengePurpose = 'machine-identity' | 'agent-pairing';

export function challengeMessage(c: {
  purpose: ChallengePurpose;
  subjectLabel: string;
  subject: string;
  machineId?: string | null;
  id: string;
  nonce: string;
  issuedAt: string;
  expiresAt: string;
}): string {
  const intro =
    c.purpose === 'machine-identity'
      ? 'peaqOS Machine Markets asks you to prove control of a machine identity.'
      : 'peaqOS Machine Markets asks you to pair a Machine Agent with a machine.';
  return [
    intro,
    '',
    `Service: peaqOS Machine Markets`,
    `Purpose: ${c.purpose}`,
    ...(c.machineId ? [`Machine: ${c.machineId}`] : []),
    `${c.subjectLabel}: ${c.subject}`,
    `Challenge ID: ${c.id}`,
    `Nonce: ${c.nonce}`,
    `Issued At: ${c.issuedAt}`,
    `Expires At: ${c.expiresAt}`,
  ].join('\n');
}
