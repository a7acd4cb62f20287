// Pairing session tokens: HS256 JWTs signed with PEAQOS_AGENT_PAIRING_SESSION_SECRET (jose, HS256 only).
import { createHash, timingSafeEqual } from 'node:crypto';
import { SignJWT, jwtVerify, errors } from 'jose';
import { ApiError } from '../../errors.ts';

export const TOKEN_ISSUER = 'peaqos-machine-markets';

export interface SessionClaims {
  machineId: string;
  pairingId: string;
  sessionId: string;
  agentAddress: string;
  agentDid: string | null;
  delegationPolicyHash: string;
  jti: string;
  iat: number;
  exp: number;
}

export const tokenDigest = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionSigner {
  private readonly key: Uint8Array;
  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(
    c: Omit<SessionClaims, 'jti' | 'iat' | 'exp'>,
    jti: string,
    issuedAt: Date,
    expiresAt: Date,
  ): Promise<string> {
    return new SignJWT({
      machineId: c.machineId,
      pairingId: c.pairingId,
      sessionId: c.sessionId,
      agentAddress: c.agentAddress,
      agentDid: c.agentDid,
      delegationPolicyHash: c.delegationPolicyHash,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(c.pairingId)
      .setJti(jti)
      .setIssuedAt(Math.floor(issuedAt.getTime() / 1000))
      .setNotBefore(Math.floor(issuedAt.getTime() / 1000))
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.key);
  }

  /** Verifies signature, algorithm (HS256 only), issuer and time claims; maps failures to AGENT_AUTH_*. */
  async verify(token: string, now: Date): Promise<SessionClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        currentDate: now,
      });
      const p = payload as Record<string, unknown>;
      for (const k of ['machineId', 'pairingId', 'sessionId', 'agentAddress', 'delegationPolicyHash', 'jti']) {
        if (typeof p[k] !== 'string')
          throw new ApiError('AGENT_AUTH_INVALID', `The pairing token lacks its ${k} claim.`);
      }
      return p as unknown as SessionClaims;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (err instanceof errors.JWTExpired)
        throw new ApiError(
          'AGENT_AUTH_EXPIRED',
          'The pairing token has expired: rotate it through the pairing sessions endpoint.',
        );
      throw new ApiError('AGENT_AUTH_INVALID', 'The pairing token is not valid.');
    }
  }
}
