// The conformance runner: groups of checks, profile-aware assertions against openapi.yaml, coverage, results.
import type { ContractValidator } from '../src/contract/validator.ts';
import type { Exchange, KitHttp } from './http.ts';
import type { Profile } from './spec-profile.ts';

export type Status = 'pass' | 'fail' | 'skip';

export interface Failure {
  operationId: string | null;
  request: string;
  expectation: string;
  actual: string;
}

export interface CheckResult {
  group: string;
  name: string;
  status: Status;
  reason?: string;
  failure?: Failure;
  ms: number;
}

const DOCUMENTED_STATUSES = new Set([
  'PAYMENT_RPC_ERROR',
  'PAYMENT_NOT_MINED',
  'PAYMENT_TX_FAILED',
  'PAYMENT_TRANSFER_NOT_FOUND',
]);

export class CheckFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.expectation);
  }
}

export class SkipCheck extends Error {}

const SECRET = /token|secret|signature|password|credential|authorization|api.?key|private|payment.?headers/i;

/** A copy of a request or response body for a report: values under secret-looking names are masked. */
export function maskSecrets(v: unknown, depth = 0): unknown {
  if (depth > 12 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => maskSecrets(x, depth + 1));
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>).map(([k, x]) => [
      k,
      SECRET.test(k) && typeof x === 'string' ? `${x.slice(0, 4)}…(masked)` : maskSecrets(x, depth + 1),
    ]),
  );
}

const excerpt = (v: unknown, n = 400) => {
  const s = typeof v === 'string' ? v : JSON.stringify(maskSecrets(v));
  return s === undefined ? '(empty)' : s.length > n ? `${s.slice(0, n)}…` : s;
};

export function describeRequest(ex: Exchange): string {
  return `${ex.method} ${ex.path}${ex.requestBody !== undefined ? ` ${excerpt(ex.requestBody, 300)}` : ''}`;
}

export interface KitOptions {
  profile: Profile;
  identity: boolean;
  only?: string[];
  seed: number;
  apiKeyGiven: boolean;
  /** An agent-scoped key of the target (checks of the role matrix run only with one). */
  agentApiKey?: string;
  /** How many challenges to send at most when looking for 429 RATE_LIMITED (the check runs only when set). */
  rateLimitBurst?: number;
  /** How long to wait for the target's identity cache after changing MCR (its PEAQOS_MCR_CACHE_TTL_MS). */
  mcrCacheWaitMs?: number;
  onResult?: (r: CheckResult) => void;
  onGroup?: (g: string) => void;
}

type CheckFn = () => Promise<void>;
interface CheckDef {
  name: string;
  fn: CheckFn;
  designed: boolean;
  needsIdentity: boolean;
}

export class Kit {
  readonly results: CheckResult[] = [];
  readonly coveredOperations = new Set<string>();
  readonly coveredErrorCodes = new Set<string>();
  /** Which groups called which operations (the report's coverage matrix). */
  readonly operationsByGroup = new Map<string, Set<string>>();
  private currentGroup = '';
  private readonly groups: Array<{ name: string; checks: CheckDef[] }> = [];
  private readonly errorTable: Record<string, { status: number; source: string }>;

  constructor(
    readonly http: KitHttp,
    readonly validator: ContractValidator,
    readonly opts: KitOptions,
  ) {
    this.errorTable = validator.doc['x-peaqos-error-codes'];
  }

  get profile() {
    return this.opts.profile;
  }

  group(
    name: string,
    define: (check: (name: string, fn: CheckFn, o?: { designed?: boolean; identity?: boolean }) => void) => void,
  ): void {
    const checks: CheckDef[] = [];
    define((n, fn, o = {}) => checks.push({ name: n, fn, designed: !!o.designed, needsIdentity: o.identity ?? false }));
    this.groups.push({ name, checks });
  }

  async run(): Promise<CheckResult[]> {
    for (const g of this.groups) {
      if (this.opts.only && !this.opts.only.includes(g.name)) continue;
      this.opts.onGroup?.(g.name);
      this.currentGroup = g.name;
      for (const c of g.checks) {
        const started = performance.now();
        let r: CheckResult;
        if (this.http.unreachable)
          r = {
            group: g.name,
            name: c.name,
            status: 'skip',
            reason: `not run: the target stopped answering (${this.http.lastCause})`,
            ms: 0,
          };
        else if (c.designed && this.profile === 'documented')
          r = {
            group: g.name,
            name: c.name,
            status: 'skip',
            reason: 'designed behaviour: checked by the reference profile only',
            ms: 0,
          };
        else if (c.needsIdentity && !this.opts.identity)
          r = {
            group: g.name,
            name: c.name,
            status: 'skip',
            reason: '--no-identity: this check needs machines registered with proofs from the mock MCR',
            ms: 0,
          };
        else {
          try {
            await c.fn();
            r = { group: g.name, name: c.name, status: 'pass', ms: performance.now() - started };
          } catch (err) {
            if (err instanceof SkipCheck)
              r = { group: g.name, name: c.name, status: 'skip', reason: err.message, ms: performance.now() - started };
            else if (err instanceof CheckFailure)
              r = {
                group: g.name,
                name: c.name,
                status: 'fail',
                failure: err.failure,
                ms: performance.now() - started,
              };
            else
              r = {
                group: g.name,
                name: c.name,
                status: 'fail',
                failure: {
                  operationId: null,
                  request: '(setup)',
                  expectation: 'the check runs',
                  actual: (err as Error).stack?.split('\n').slice(0, 3).join(' ') ?? String(err),
                },
                ms: performance.now() - started,
              };
          }
        }
        this.results.push(r);
        this.opts.onResult?.(r);
      }
    }
    return this.results;
  }

  fail(ex: Exchange | null, operationId: string | null, expectation: string, actual?: string): never {
    throw new CheckFailure({
      operationId,
      request: ex ? describeRequest(ex) : '(none)',
      expectation,
      actual:
        actual ?? (ex ? (ex.status === 0 ? ex.rawBody : `${ex.status} ${excerpt(ex.body ?? ex.rawBody)}`) : '(none)'),
    });
  }

  skip(reason: string): never {
    throw new SkipCheck(reason);
  }

  assert(
    cond: unknown,
    ex: Exchange | null,
    operationId: string | null,
    expectation: string,
    actual?: string,
  ): asserts cond {
    if (!cond) this.fail(ex, operationId, expectation, actual);
  }

  private statusIsDesigned(operationId: string, status: number): boolean {
    const r = this.validator.operation(operationId).operation.responses?.[String(status)];
    return r?.['x-peaqos-source'] === 'designed';
  }

  /** A success response: status (any 2xx in the documented profile when the status is designed), JSON, schema, envelope. */
  private cover(operationId: string): void {
    this.coveredOperations.add(operationId);
    let set = this.operationsByGroup.get(this.currentGroup);
    if (!set) this.operationsByGroup.set(this.currentGroup, (set = new Set()));
    set.add(operationId);
  }

  ok(ex: Exchange, operationId: string, expected: number | number[]): Exchange {
    this.cover(operationId);
    const wanted = Array.isArray(expected) ? expected : [expected];
    const lenient = this.profile === 'documented' && wanted.every((s) => this.statusIsDesigned(operationId, s));
    const statusOk = wanted.includes(ex.status) || (lenient && ex.status >= 200 && ex.status < 300);
    this.assert(
      statusOk,
      ex,
      operationId,
      `status ${wanted.join(' or ')}${lenient ? ' (any 2xx in the documented profile)' : ''}`,
    );
    if (ex.status !== 204)
      this.assert(
        ex.contentType?.startsWith('application/json'),
        ex,
        operationId,
        'content-type application/json',
        `content-type ${ex.contentType}`,
      );
    const key = wanted.includes(ex.status) ? ex.status : wanted[0]!;
    const v = this.validator.validateResponse(operationId, key, ex.status === 204 ? undefined : ex.body);
    this.assert(
      v.ok,
      ex,
      operationId,
      `the ${key} body matches openapi.yaml`,
      `${v.errors.slice(0, 4).join('; ')} in ${excerpt(ex.body)}`,
    );
    return ex;
  }

  /** An error response in the envelope with the documented code and the status the error table gives it. */
  error(ex: Exchange, operationId: string | null, code: string | string[]): Exchange {
    if (operationId) this.cover(operationId);
    const codes = Array.isArray(code) ? code : [code];
    const env = this.validator.validateSchema('ErrorResponse', ex.body);
    this.assert(
      env.ok,
      ex,
      operationId,
      `an error envelope {error:{code,message,details?}} with code ${codes.join(' or ')}`,
      ex.status === 0 ? ex.rawBody : `HTTP ${ex.status} ${excerpt(ex.body)}`,
    );
    const got = ex.body.error.code as string;
    this.assert(
      codes.includes(got),
      ex,
      operationId,
      `error code ${codes.join(' or ')}`,
      `${ex.status} ${got}: ${ex.body.error.message}`,
    );
    const entry = this.errorTable[got];
    // The public docs give HTTP statuses for the payment codes only; the reference profile checks them all.
    if (entry && (this.profile === 'reference' || DOCUMENTED_STATUSES.has(got))) {
      this.assert(ex.status === entry.status, ex, operationId, `HTTP ${entry.status} for ${got}`, `HTTP ${ex.status}`);
    } else {
      this.assert(
        ex.status >= 400 && ex.status < 600,
        ex,
        operationId,
        `an error status for ${got}`,
        `HTTP ${ex.status}`,
      );
    }
    this.coveredErrorCodes.add(got);
    return ex;
  }
}
