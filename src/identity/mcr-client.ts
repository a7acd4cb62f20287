// Resolves machine identities through peaqOS MCR (PEAQOS_MCR_API_URL):
//   did:peaq:0x<40 hex>     -> GET /machine/{did}   (profile: peaqos.did, operator, bond_status, mcr)
//   peaqos:machine:<id>     -> GET /machines/{id}   (Machine Card: did, operator, bond_status)
// controllerAddresses = the address in the machine DID, plus the operator's address when the operator is a
// did:peaq:0x... DID. 404/400/422 mean "does not resolve"; a network error, timeout, 429 or 5xx is
// PEAQOS_IDENTITY_UNAVAILABLE. MCR allows 90 requests/minute per client, so answers are cached for a short TTL,
// concurrent look-ups of one identityRef share one request, and outbound calls pass a token bucket of that budget
// (beyond it: 503 with Retry-After, before MCR starts answering 429 to every caller of this deployment).
// Fail closed: an answer over 1 MiB, or one that does not match the MCR contract, is PEAQOS_IDENTITY_UNAVAILABLE.
import { getAddress } from 'ethers';
import { ApiError } from '../errors.ts';
import { machineCardProblem, machineProfileProblem } from './mcr-contract.ts';

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
  /** Outbound requests allowed per minute (MCR's published limit is 90); 0 turns the budget off. */
  requestsPerMinute?: number;
  /** Largest answer read, in bytes (1 MiB). */
  maxResponseBytes?: number;
  fetch?: typeof fetch;
  now?: () => number;
  /** Metrics: every request sent (or refused by the budget), with its outcome and duration. */
  onRequest?: (outcome: 'ok' | 'not_found' | 'unavailable' | 'invalid' | 'budget', seconds: number) => void;
  /** Metrics: every resolution, answered from the cache or not. */
  onCache?: (hit: boolean) => void;
}

/** A token bucket: `capacity` requests at once, refilled at capacity per minute. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly capacity: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.last = now();
  }
  /** Takes a token; returns 0, or the milliseconds until one is free. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.capacity) / 60_000);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 60_000) / this.capacity);
  }
}

/** The canonical form of an identity: the machine's DID, lower-cased (both identityRef forms resolve to it). */
export const canonicalDid = (did: string): string => did.toLowerCase();

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

  private readonly bucket: TokenBucket | undefined;
  private readonly maxBytes: number;

  constructor(private readonly opts: McrClientOptions) {
    this.fetchImpl = opts.fetch ?? ((...a) => fetch(...a));
    this.now = opts.now ?? Date.now;
    const rpm = opts.requestsPerMinute ?? 90;
    // The budget is MCR's, in real time, whatever clock the cache follows.
    this.bucket = rpm > 0 ? new TokenBucket(rpm, Date.now) : undefined;
    this.maxBytes = opts.maxResponseBytes ?? 1024 * 1024;
  }

  /**
   * The cached answer for an identityRef while it is fresh (counted as a cache hit), else undefined: lets a caller
   * checking many identities (a page of machines) skip a promise per identity when MCR's answers are cached.
   */
  cached(identityRef: string): IdentityResolution | null | undefined {
    if (this.opts.cacheTtlMs <= 0) return undefined;
    const hit = this.cache.get(identityRef);
    if (!hit || hit.expires <= this.now()) return undefined;
    this.opts.onCache?.(true);
    return hit.value;
  }

  /** Resolves an identityRef, or null when MCR says it does not exist. Throws PEAQOS_IDENTITY_UNAVAILABLE. */
  async resolve(identityRef: string): Promise<IdentityResolution | null> {
    if (this.opts.cacheTtlMs > 0) {
      const hit = this.cache.get(identityRef);
      if (hit && hit.expires > this.now()) {
        this.opts.onCache?.(true);
        return hit.value;
      }
    }
    this.opts.onCache?.(false);
    const pending = this.inflight.get(identityRef);
    if (pending) return pending;
    const p = this.lookup(identityRef)
      .then((value) => {
        if (this.opts.cacheTtlMs > 0)
          this.cache.set(identityRef, { value, expires: this.now() + this.opts.cacheTtlMs });
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
    const wait = this.bucket?.take() ?? 0;
    if (wait > 0) {
      const seconds = String(Math.max(1, Math.ceil(wait / 1000)));
      throw new ApiError(
        'PEAQOS_IDENTITY_UNAVAILABLE',
        `This orchestrator has used its peaqOS MCR request budget (${this.opts.requestsPerMinute ?? 90}/minute): retry in ${seconds} s.`,
        undefined,
        { 'retry-after': seconds },
      );
    }
    this.requestsSent++;
    return this.fetchImpl(`${this.opts.baseUrl}${path}`, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
  }

  private async fetchJson(path: string): Promise<unknown> {
    let res: Response;
    try {
      res = await this.get(path);
    } catch (err) {
      if (err instanceof ApiError) throw err; // the request budget
      const reason =
        (err as Error)?.name === 'TimeoutError' ? `timed out after ${this.opts.timeoutMs} ms` : 'could not be reached';
      throw new ApiError('PEAQOS_IDENTITY_UNAVAILABLE', `peaqOS MCR ${reason}.`);
    }
    if (res.status === 404 || res.status === 400 || res.status === 422) {
      await drain(res);
      return null;
    }
    if (res.status === 429) {
      await drain(res);
      throw new ApiError(
        'PEAQOS_IDENTITY_UNAVAILABLE',
        'peaqOS MCR is rate limiting this orchestrator; retry shortly.',
      );
    }
    if (res.status !== 200) {
      await drain(res);
      throw new ApiError('PEAQOS_IDENTITY_UNAVAILABLE', `peaqOS MCR answered ${res.status}.`);
    }
    let text: string;
    try {
      text = await readCapped(res, this.maxBytes);
    } catch (err) {
      throw new ApiError(
        'PEAQOS_IDENTITY_UNAVAILABLE',
        err instanceof TooLarge
          ? `peaqOS MCR sent an answer over ${this.maxBytes} bytes.`
          : 'peaqOS MCR sent an unreadable answer.',
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ApiError('PEAQOS_IDENTITY_UNAVAILABLE', 'peaqOS MCR sent an answer that is not JSON.');
    }
  }

  private async lookup(identityRef: string): Promise<IdentityResolution | null> {
    if (!this.opts.onRequest) return this.lookupOnce(identityRef);
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const r = await this.lookupOnce(identityRef);
      this.opts.onRequest(r ? 'ok' : 'not_found', seconds());
      return r;
    } catch (err) {
      const m = (err as Error).message ?? '';
      this.opts.onRequest(
        /request budget/.test(m)
          ? 'budget'
          : /contract|another|not JSON|unreadable|over \d+ bytes/.test(m)
            ? 'invalid'
            : 'unavailable',
        seconds(),
      );
      throw err;
    }
  }

  private async lookupOnce(identityRef: string): Promise<IdentityResolution | null> {
    const did = DID_RE.exec(identityRef);
    if (did) {
      const body = await this.fetchJson(`/machine/${encodeURIComponent(identityRef)}`);
      if (body === null) return null;
      const problem = machineProfileProblem(body);
      if (problem)
        throw new ApiError(
          'PEAQOS_IDENTITY_UNAVAILABLE',
          `peaqOS MCR sent a machine profile that does not match its contract (${problem}).`,
        );
      const p = (body as { peaqos: Record<string, unknown> }).peaqos;
      // The profile must be the one asked for: a profile of another DID does not resolve this one.
      if (typeof p.did !== 'string' || p.did.toLowerCase() !== identityRef.toLowerCase()) {
        throw new ApiError('PEAQOS_IDENTITY_UNAVAILABLE', 'peaqOS MCR answered with the profile of another DID.');
      }
      return this.build(identityRef, p.did, p.operator, p.bond_status, p.machine_id as number, p.mcr, p.mcr_score);
    }
    const pub = PUBLIC_ID_RE.exec(identityRef);
    if (pub) {
      const body = await this.fetchJson(`/machines/${pub[1]}`);
      if (body === null) return null;
      const problem = machineCardProblem(body);
      if (problem)
        throw new ApiError(
          'PEAQOS_IDENTITY_UNAVAILABLE',
          `peaqOS MCR sent a Machine Card that does not match its contract (${problem}).`,
        );
      const card = body as {
        did: string;
        operator: unknown;
        bond_status: unknown;
        registrations: Array<{ machineId: number }>;
      };
      if (String(card.registrations[0]!.machineId) !== pub[1])
        throw new ApiError(
          'PEAQOS_IDENTITY_UNAVAILABLE',
          'peaqOS MCR answered with the Machine Card of another machine.',
        );
      return this.build(identityRef, card.did, card.operator, card.bond_status, Number(pub[1]), null, null);
    }
    return null;
  }

  private build(
    identityRef: string,
    did: unknown,
    operator: unknown,
    bond: unknown,
    machineId: number | null,
    rating: unknown,
    score: unknown,
  ): IdentityResolution | null {
    const machineAddress = didAddress(did);
    if (!machineAddress || machineAddress.toLowerCase() === ZERO) return null;
    const controllers = [machineAddress];
    const operatorAddress = didAddress(operator);
    if (operatorAddress && operatorAddress.toLowerCase() !== ZERO && !controllers.includes(operatorAddress))
      controllers.push(operatorAddress);
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

class TooLarge extends Error {}

/** Reads a body as UTF-8 text, giving up (and cancelling the stream) past `max` bytes. */
async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new TooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new TooLarge();
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
}

/** Reads and discards an error body (at most 64 KiB of it) so the connection can be reused. */
async function drain(res: Response): Promise<void> {
  try {
    await readCapped(res, 64 * 1024);
  } catch {
    /* the body is of no interest */
  }
}
