// Resolves machine identities through peaqOS MCR (PEAQOS_MCR_API_URL):
//   did:peaq:0x<40 hex>     -> GET /machine/{did}   (profile: peaqos.did, operator, bond_status, mcr)
//   peaqos:machine:<id>     -> GET /machines/{id}   (Machine Card: did, operator, bond_status)
// controllerAddresses = the address in the machine DID, plus the operator's address when the operator is a
// did:peaq:0x... DID. 404/400/422 mean "does not resolve"; a network error, timeout, 429 or 5xx is
// PEAQOS_IDENTITY_UNAVAILABLE. MCR allows 90 requests/minute per client, so answers are cached for a short TTL
// and concurrent look-ups of one identityRef share one request.
import { getAddress } from 'ethers';
import { ApiError } from '../http/errors.ts';

export interface IdentityResolution {
  identityRef: string;
  did: string;
  machineId: number | null;
  controllerAddresses: string[];
  operator: string | null;
  bondStatus: 'bonded' | 'unbonded';
  mcr: { rating: string; score: number } | null;
}

export interface McrClientOptions {
  baseUrl: string;
  timeoutMs: number;
  cacheTtlMs: number;
  fetch?: typeof fetch;
  now?: () => number;
}

const DID_RE = /^did:peaq:(0x[0-9a-fA-F]{40})$/;
const PUBLIC_ID_RE = /^peaqos:machine:([1-9][0-9]{0,19})$/;

export function isIdentityRef(ref: string): boolean {
  return DID_RE.test(ref) || PUBLIC_ID_RE.test(ref);
}

function didAddress(did: unknown): string | null {
  if (typeof did !== 'string') return null;
  const m = /^did:peaq:(0x[0-9a-fA-F]{40})$/.exec(did);
  return m ? getAddress(m[1]!.toLowerCase()) : null;
}

const ZERO = '0x0000000000000000000000000000000000000000';

export class McrClient {
  private readonly cache = new Map<string, { value: IdentityResolution | null; expires: number }>();
  private readonly inflight = new Map<string, Promise<IdentityResolution | null>>();
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  /** Requests actually sent to MCR (benchmarks report calls per API request). */
  requestsSent = 0;

  constructor(private readonly opts: McrClientOptions) {
    this.fetchImpl = opts.fetch ?? ((...a) => fetch(...a));
    this.now = opts.now ?? Date.now;
  }

  /** Resolves an identityRef, or null when MCR says it does not exist. Throws PEAQOS_IDENTITY_UNAVAILABLE. */
  async resolve(identityRef: string): Promise<IdentityResolution | null> {
    if (this.opts.cacheTtlMs > 0) {
      const hit = this.cache.get(identityRef);
      if (hit && hit.expires > this.now()) return hit.value;
    }
    const pending = this.inflight.get(identityRef);
    if (pending) return pending;
    const p = this.lookup(identityRef)
      .then((value) => {
        if (this.opts.cacheTtlMs > 0) this.cache.set(identityRef, { value, expires: this.now() + this.opts.cacheTtlMs });
        return value;
      })
      .finally(() => this.inflight.delete(identityRef));
    this.inflight.set(identityRef, p);
    return p;
  }

  /** Forgets cached answers (all, or one identityRef). */
  invalidate(identityRef?: string): void {
    if (identityRef) this.cache.delete(identityRef);
    else this.cache.clear();
  }

  async ping(): Promise<boolean> {
    try {
      const res = await this.get('/health');
      return res.status === 200;
    } catch {
      return false;
    }
  }

  private async get(path: string): Promise<Response> {
    this.requestsSent++;
    return this.fetchImpl(`${this.opts.baseUrl}${path}`, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
  }

  private async fetchJson(path: string): Promise<Record<string, unknown> | null> {
    let res: Response;
    try {
      res = await this.get(path);
    } catch (err) {
      const reason = (err as Error)?.name === 'TimeoutError' ? `timed out after ${this.opts.timeoutMs} ms` : 'could not be reached';
      throw new ApiError('PEAQOS_IDENTITY_UNAVAILABLE', `peaqOS MCR ${reason}.`);
    }
    if (res.status === 404 || res.status === 400 || res.status === 422) {
      await drain(res);
      return null;
    }
    if (res.status === 429) {
      await drain(res);
      throw new ApiError('PEAQOS_IDENTITY_UNAVAILABLE', 'peaqOS MCR is rate limiting this orchestrator; retry shortly.');
    }
    if (res.status !== 200) {
      await drain(res);
      throw new ApiError('PEAQOS_IDENTITY_UNAVAILABLE', `peaqOS MCR answered ${res.status}.`);
    }
    try {
      return (await res.json()) as Record<string, unknown>;
    } catch {
      throw new ApiError('PEAQOS_IDENTITY_UNAVAILABLE', 'peaqOS MCR sent an unreadable answer.');
    }
  }

  private async lookup(identityRef: string): Promise<IdentityResolution | null> {
    const did = DID_RE.exec(identityRef);
    if (did) {
      const body = await this.fetchJson(`/machine/${encodeURIComponent(identityRef)}`);
      if (!body) return null;
      const p = (body.peaqos ?? {}) as Record<string, unknown>;
      return this.build(identityRef, (p.did as string) ?? identityRef, p.operator, p.bond_status, typeof p.machine_id === 'number' ? p.machine_id : null, p.mcr, p.mcr_score);
    }
    const pub = PUBLIC_ID_RE.exec(identityRef);
    if (pub) {
      const body = await this.fetchJson(`/machines/${pub[1]}`);
      if (!body) return null;
      return this.build(identityRef, body.did, body.operator, body.bond_status, Number(pub[1]), null, null);
    }
    return null;
  }

  private build(identityRef: string, did: unknown, operator: unknown, bond: unknown, machineId: number | null, rating: unknown, score: unknown): IdentityResolution | null {
    const machineAddress = didAddress(did);
    if (!machineAddress || machineAddress.toLowerCase() === ZERO) return null;
    const controllers = [machineAddress];
    const operatorAddress = didAddress(operator);
    if (operatorAddress && operatorAddress.toLowerCase() !== ZERO && !controllers.includes(operatorAddress)) controllers.push(operatorAddress);
    return {
      identityRef,
      did: did as string,
      machineId,
      controllerAddresses: controllers,
      operator: typeof operator === 'string' ? operator : null,
      bondStatus: bond === 'bonded' ? 'bonded' : 'unbonded',
      mcr: typeof rating === 'string' ? { rating, score: typeof score === 'number' ? score : 0 } : null,
    };
  }
}

/** Reads and discards an error body so the connection can be reused (cancelling the stream can stall undici). */
async function drain(res: Response): Promise<void> {
  try {
    await res.arrayBuffer();
  } catch {
    /* the body is of no interest */
  }
}
