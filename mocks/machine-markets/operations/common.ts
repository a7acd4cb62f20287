// What the mock's operations share: request and result shapes, paging, audit events, identity challenges and the
// helpers several modules use. The rules are the reference server's where they are pure.
import { getAddress, verifyMessage } from 'ethers';
import type { Catalog } from '../../../src/modules/catalog/catalog-core.ts';
import type { MachinePolicyRule } from '../../../src/modules/market/ranking.ts';
import { toMicros } from '../../../src/modules/orders/amounts.ts';
import { MONEY_COMMITTED, type PaymentStatus } from '../../../src/modules/orders/state.ts';
import { challengeMessage } from '../../../src/identity/challenge-message.ts';
import { ApiError } from '../../../src/errors.ts';
import type {
  AgentPairing,
  Machine,
  MarketOrderRecord,
  OutcomeRecord,
  RouteRecord,
  RunRecord,
  TaskRecord,
} from '../../../generated/types.gen.ts';
import { FIXTURE_IDENTITIES, clockMs, mockId, now, type MockState } from '../state.ts';

export interface OpRequest {
  params: Record<string, string>;
  query: Record<string, string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- validated against the operation's request schema before an operation reads it
  body: any;
  headers: Headers;
}
export interface OpResult {
  status: number;
  body?: unknown;
}
export type Operation = (state: MockState, req: OpRequest) => OpResult | Promise<OpResult>;

export const ok = (body: unknown): OpResult => ({ status: 200, body });
export const created = (body: unknown): OpResult => ({ status: 201, body });
export const gone = (what: string): never => {
  throw new ApiError('NOT_FOUND', `${what} not found.`);
};

export function page<T>(
  items: T[],
  q: Record<string, string>,
  key: (t: T) => string = (t) => `${(t as { createdAt: string }).createdAt}|${(t as { id: string }).id}`,
) {
  const limit = q.limit ? Number(q.limit) : 100;
  let start = 0;
  if (q.cursor !== undefined) {
    let after: string;
    try {
      after = JSON.parse(atob(q.cursor.replace(/-/g, '+').replace(/_/g, '/'))).k;
      if (typeof after !== 'string') throw new Error();
    } catch {
      throw new ApiError('VALIDATION_ERROR', 'Malformed cursor: pass nextCursor back exactly as returned.', [
        { location: 'query', path: '/cursor', rule: 'cursor', message: 'is not a cursor issued by this server' },
      ]);
    }
    start = items.findIndex((i) => key(i) > after);
    if (start < 0) start = items.length;
  }
  const slice = items.slice(start, start + limit);
  const more = start + limit < items.length;
  const last = slice[slice.length - 1];
  const cursor = last
    ? btoa(JSON.stringify({ k: key(last) }))
        .replace(/\+/g, '-')
        .replace(/\//g, '_')
        .replace(/=+$/, '')
    : undefined;
  return { items: slice, ...(more && cursor ? { nextCursor: cursor } : {}) };
}
export const sorted = <T extends { createdAt: string; id: string }>(m: Map<string, T>) =>
  [...m.values()].sort((a, b) => (`${a.createdAt}|${a.id}` < `${b.createdAt}|${b.id}` ? -1 : 1));

export function audit(
  state: MockState,
  type: string,
  resourceType: string,
  resourceId: string,
  payload: Record<string, unknown> = {},
) {
  const id = mockId(state, 'aev');
  state.audit.set(id, { id, actor: 'api', type, resourceType, resourceId, payload, createdAt: now(state) });
}

export function machine(state: MockState, id: string): Machine {
  return state.machines.get(id) ?? gone('Machine');
}
export function activeMachine(state: MockState, id: string): Machine {
  const m = machine(state, id);
  if (!m.identityProof) throw new ApiError('MACHINE_NOT_ACTIVATED', 'The machine has no verified identity.');
  if (m.status !== 'active') throw new ApiError('MACHINE_NOT_ACTIVE', `The machine is ${m.status}, not active.`);
  return m;
}
/** Resolves an identityRef to its controller addresses (and the machine's DID), or null when it does not resolve. */
export type IdentityResolver = (identityRef: string) => Promise<{ controllers: string[]; did?: string } | null>;

/** The default: the mock MCR fixture fleet, in memory (works in a browser). */
export const fixtureResolver: IdentityResolver = async (ref) => {
  const pub = /^peaqos:machine:(\d+)$/.exec(ref);
  const f = FIXTURE_IDENTITIES.find((x) =>
    pub ? x.mcrId === Number(pub[1]) : x.did.toLowerCase() === ref.toLowerCase(),
  );
  return f ? { controllers: [f.address, ...(f.operator ? [f.operator] : [])], did: f.did } : null;
};

/** What counts against a pairing's daily limit today (UTC), as the server counts it (orders/repo.ts spentToday). */
export function spentToday(state: MockState, pairingId: string): number {
  const day = new Date(clockMs(state)).toISOString().slice(0, 10);
  return [...state.orders.values()]
    .filter(
      (o) =>
        o.agentPairingId === pairingId &&
        o.createdAt.slice(0, 10) === day &&
        (o.status !== 'cancelled' || MONEY_COMMITTED.includes(o.paymentStatus as PaymentStatus)),
    )
    .reduce((n, o) => n + (toMicros(o.amount) ?? 0), 0);
}

export function consume(
  state: MockState,
  proof: { challengeId: string; signature: string },
  purpose: 'machine-identity' | 'agent-pairing',
  subject: string,
  codes: {
    invalid: 'MACHINE_IDENTITY_PROOF_INVALID' | 'AGENT_PAIRING_PROOF_INVALID';
    expired: 'MACHINE_IDENTITY_PROOF_EXPIRED' | 'AGENT_PAIRING_PROOF_EXPIRED';
  },
  signers: string[],
) {
  const c = state.challenges.get(proof.challengeId);
  if (!c || c.purpose !== purpose || c.subject.toLowerCase() !== subject.toLowerCase())
    throw new ApiError(codes.invalid, 'Unknown challenge: request a new one.');
  if (c.used) throw new ApiError(codes.invalid, 'The challenge has already been used: request a new one.');
  if (Date.parse(c.expiresAt) <= clockMs(state))
    throw new ApiError(codes.expired, 'The challenge expired: request a new one.');
  let signer: string;
  try {
    signer = getAddress(verifyMessage(c.message, proof.signature));
  } catch {
    throw new ApiError(codes.invalid, 'The signature is not a valid EIP-191 signature of the challenge message.');
  }
  if (!signers.map((a) => a.toLowerCase()).includes(signer.toLowerCase()))
    throw new ApiError(codes.invalid, 'The signature does not recover to an authorised address.');
  c.used = true;
  return { signer, challenge: c };
}

export function issueChallenge(
  state: MockState,
  purpose: 'machine-identity' | 'agent-pairing',
  subject: string,
  machineId: string | null,
  controllers: string[],
  keyed?: Record<string, string>,
) {
  const id = mockId(state, purpose === 'machine-identity' ? 'mic' : 'apc');
  const issuedAt = new Date(clockMs(state)).toISOString();
  const expiresAt = new Date(clockMs(state) + 600_000).toISOString();
  const message = challengeMessage({
    purpose,
    subjectLabel: purpose === 'machine-identity' ? 'Identity' : 'Agent',
    subject,
    machineId,
    id,
    nonce: Math.random().toString(16).slice(2),
    issuedAt,
    expiresAt,
  });
  state.challenges.set(id, { id, purpose, subject, machineId, message, expiresAt, used: false, controllers, keyed });
  return { id, message, expiresAt };
}

export function pairingFor(state: MockState, headers: Headers, machineId?: string): AgentPairing & { token?: string } {
  const token = headers.get('x-agent-pairing-token');
  if (!token) throw new ApiError('AGENT_AUTH_REQUIRED', 'This call needs the x-agent-pairing-token header.');
  const p = [...state.pairings.values()].find((x) => x.token === token);
  if (!p || (machineId && p.machineId !== machineId))
    throw new ApiError('AGENT_AUTH_INVALID', 'The pairing token is not valid.');
  if (p.status !== 'active') throw new ApiError('AGENT_PAIRING_INACTIVE', `The pairing is ${p.status}.`);
  return p;
}

export function policiesOf(state: MockState, m: Machine): MachinePolicyRule[] {
  return m.policyIds
    .map((id) => state.policies.get(id))
    .filter((p): p is NonNullable<typeof p> => !!p)
    .map((p) => ({ ...p, budgetCap: p.budgetCap ?? null }));
}

export function runtimeProviders(state: MockState, machineId: string) {
  const nowIso = new Date(clockMs(state)).toISOString();
  return new Set(
    [...state.endpoints.values()]
      .filter(
        (e) => e.machineId === machineId && e.status === 'active' && (!e.leaseExpiresAt || e.leaseExpiresAt > nowIso),
      )
      .map((e) => e.providerKey),
  );
}

/** Runs a route in the mock: a native service with an active runtime endpoint completes, a handoff is external. */
export function executeRoute(
  state: MockState,
  catalog: Catalog,
  t: TaskRecord,
  route: RouteRecord,
): { outcome: OutcomeRecord; run: RunRecord; status: number } {
  const at = now(state);
  const service = catalog.service(route.selectedServiceId);
  const native = route.executionMode === 'native';
  const reachable = native && runtimeProviders(state, t.machineId).has(service?.providerKey ?? '');
  const status: OutcomeRecord['status'] = native ? (reachable ? 'completed' : 'failed') : 'external';
  const outcome: OutcomeRecord = {
    id: mockId(state, 'out'),
    machineId: t.machineId,
    taskId: t.id,
    routeId: route.id,
    status,
    skillKey: route.selectedSkillKey,
    serviceId: route.selectedServiceId,
    executionMode: route.executionMode,
    receiptRef: null,
    logsRef: null,
    externalRef: status === 'external' ? (route.handoff?.url ?? null) : null,
    errorCode: status === 'failed' ? 'RUNTIME_UNAVAILABLE' : null,
    errorMessage: status === 'failed' ? `no active runtime endpoint for ${service?.providerKey}` : null,
    ...(status === 'completed' ? { result: { status: 200, body: { mock: true, echo: t.input } } } : {}),
    createdAt: at,
    updatedAt: at,
  };
  const run: RunRecord = {
    id: mockId(state, 'run'),
    machineId: t.machineId,
    taskId: t.id,
    routeId: route.id,
    outcomeId: outcome.id,
    status: status === 'external' ? 'external' : status === 'completed' ? 'completed' : 'failed',
    executionMode: route.executionMode,
    skillKey: route.selectedSkillKey,
    serviceId: route.selectedServiceId,
    summary: `mock ${status}`,
    createdAt: at,
    updatedAt: at,
  };
  state.outcomes.set(outcome.id, outcome);
  state.runs.set(run.id, run);
  route.status = status === 'completed' ? 'completed' : status === 'external' ? 'handed_off' : 'failed';
  t.status = status === 'completed' ? 'completed' : status === 'external' ? 'handed_off' : 'failed';
  t.outcomeId = outcome.id;
  t.updatedAt = at;
  audit(state, 'task.executed', 'task', t.id, { runId: run.id, status });
  return { outcome, run, status: status === 'completed' ? 200 : status === 'external' ? 202 : 503 };
}

export function order(state: MockState, id: string): MarketOrderRecord {
  return state.orders.get(id) ?? gone('Order');
}
/** What every module's operations share: the catalogue, how identities resolve, and the identity checks built on it. */
export interface OpsContext {
  catalog: Catalog;
  resolve: IdentityResolver;
  /** Whether a machine's identity still resolves (a machine registered without a proof always does). */
  resolves(m: Machine): Promise<boolean>;
  /** Pairing writes need the machine's identity to resolve now; an unreachable MCR is AGENT_PAIRING_UNAVAILABLE there. */
  pairable(state: MockState, machineId: string): Promise<Machine>;
}

export function opsContext(catalog: Catalog, resolve: IdentityResolver): OpsContext {
  const resolves = async (m: Machine) => !m.identityProof || !!(await resolve(m.identityRef));
  const pairable = async (state: MockState, machineId: string): Promise<Machine> => {
    const m = activeMachine(state, machineId);
    try {
      if (!(await resolves(m)))
        throw new ApiError('MACHINE_NOT_ACTIVATED', 'The machine identity no longer resolves through peaqOS MCR.');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'PEAQOS_IDENTITY_UNAVAILABLE')
        throw new ApiError(
          'AGENT_PAIRING_UNAVAILABLE',
          'Pairing cannot be verified right now: peaqOS MCR is unavailable.',
        );
      throw err;
    }
    return m;
  };
  return { catalog, resolve, resolves, pairable };
}
