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
  private readonly secret: Uint8Array<ArrayBuffer>;
  #key: Promise<CryptoKey> | undefined;
  constructor(secret: string) {
    this.secret = new TextEncoder().encode(secret);
  }

  /**
   * The secret as an HMAC key, imported once: given the raw bytes, jose imports a key on every sign and verify,
   * which was the largest part of checking a pairing token (bench/RESULTS.md).
   */
  private key(): Promise<CryptoKey> {
    return (this.#key ??= crypto.subtle.importKey('raw', this.secret, { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]));
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
      .sign(await this.key());
  }

  /**
   * Tokens whose signature and claims were verified, by the token's SHA-256 digest (never the token itself), with
   * their time window. The same bytes verify the same way under the same secret, so a token seen again within its
   * window skips jose (signature check with a key import and WebCrypto's promise, about 80 µs per order); outside
   * the window it is verified again and refused with jose's reason. Whether the session is still current (revoked,
   * rotated, re-policied) is checked against the store by the caller on every request, never cached.
   */
  readonly #verified = new Map<string, { claims: SessionClaims; notBefore: number; expires: number }>();
  static readonly VERIFIED_CACHE_SIZE = 10_000;
  /** How many verified tokens are remembered (for tests of the bound). */
  get verifiedCount(): number {
    return this.#verified.size;
  }

  /** Verifies signature, algorithm (HS256 only), issuer and time claims; maps failures to AGENT_AUTH_*. */
  async verify(token: string, now: Date): Promise<SessionClaims> {
    const digest = tokenDigest(token);
    const seen = this.#verified.get(digest);
    const t = now.getTime();
    if (seen && t >= seen.notBefore && t < seen.expires) return seen.claims;
    const claims = await this.verifyWithJose(token, now);
    if (this.#verified.size >= SessionSigner.VERIFIED_CACHE_SIZE)
      this.#verified.delete(this.#verified.keys().next().value!);
    const nbf = (claims as { nbf?: number }).nbf;
    this.#verified.set(digest, {
      claims,
      notBefore: typeof nbf === 'number' ? nbf * 1000 : -Infinity,
      expires: typeof claims.exp === 'number' ? claims.exp * 1000 : t,
    });
    return claims;
  }

  private async verifyWithJose(token: string, now: Date): Promise<SessionClaims> {
    try {
      const { payload } = await jwtVerify(token, await this.key(), {
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
