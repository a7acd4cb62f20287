// Pairing session tokens (src/modules/pairings/session.ts): HS256 with jose, and a token verified once is taken
// again within its time window without jose, but never outside it, never when altered, never under another secret.
import { describe, expect, it } from 'vitest';
import { SessionSigner } from '../src/modules/pairings/session.ts';
import { ApiError } from '../src/errors.ts';

const claims = {
  machineId: 'mch_1',
  pairingId: 'apr_1',
  sessionId: 'ses_1',
  agentAddress: '0x0000000000000000000000000000000000000001',
  agentDid: null,
  delegationPolicyHash: 'abc',
};
const issued = new Date('2026-01-01T00:00:00.000Z');
const expires = new Date('2026-01-01T01:00:00.000Z');
const at = (ms: number) => new Date(issued.getTime() + ms);
const code = async (p: Promise<unknown>) =>
  (
    (await p.then(
      () => undefined,
      (e: unknown) => e,
    )) as ApiError
  )?.code;

describe('session tokens', () => {
  it('verify again from the cache inside the window, and with jose outside it', async () => {
    const signer = new SessionSigner('s'.repeat(40));
    const token = await signer.sign(claims, 'jti_1', issued, expires);
    expect(await signer.verify(token, at(1000))).toMatchObject({ ...claims, jti: 'jti_1' });
    expect(await signer.verify(token, at(30 * 60_000))).toMatchObject({ pairingId: 'apr_1' });
    expect(await code(signer.verify(token, expires))).toBe('AGENT_AUTH_EXPIRED');
    expect(await code(signer.verify(token, at(2 * 3600_000)))).toBe('AGENT_AUTH_EXPIRED');
    // Before its not-before time a token is refused (jose), whatever was verified earlier.
    expect(await code(signer.verify(token, at(-60_000)))).toBe('AGENT_AUTH_INVALID');
  });

  it('refuse an altered token and a token signed with another secret, even after the genuine one was seen', async () => {
    const signer = new SessionSigner('s'.repeat(40));
    const token = await signer.sign(claims, 'jti_1', issued, expires);
    await signer.verify(token, at(1000));
    const [h, p, sig] = token.split('.');
    const flipped = `${h}.${p}.${sig!.slice(0, -2)}${sig!.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(await code(signer.verify(flipped, at(1000)))).toBe('AGENT_AUTH_INVALID');
    const forged = await new SessionSigner('t'.repeat(40)).sign(claims, 'jti_1', issued, expires);
    expect(await code(signer.verify(forged, at(1000)))).toBe('AGENT_AUTH_INVALID');
    expect(await code(new SessionSigner('t'.repeat(40)).verify(token, at(1000)))).toBe('AGENT_AUTH_INVALID');
  });

  it('keeps a bounded number of verified tokens', async () => {
    const signer = new SessionSigner('s'.repeat(40));
    const first = await signer.sign(claims, 'jti_0', issued, expires);
    await signer.verify(first, at(1000));
    const size = () => (signer as unknown as { verifiedCount: number }).verifiedCount;
    expect(size()).toBe(1);
    for (let i = 1; i <= SessionSigner.VERIFIED_CACHE_SIZE; i++)
      await signer.verify(await signer.sign(claims, `jti_${i}`, issued, expires), at(1000));
    expect(size()).toBe(SessionSigner.VERIFIED_CACHE_SIZE);
    // The oldest was dropped and verifies again with jose, as before.
    expect(await signer.verify(first, at(2000))).toMatchObject({ jti: 'jti_0' });
  });
});
