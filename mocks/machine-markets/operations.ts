// Every operation of openapi.yaml over the mock's in-memory state. The rules are the reference server's where
// they are pure (ranking, delegation policy, order and payment state machines, challenge messages); identity
// proofs are real EIP-191 signatures checked against the mock MCR fixture fleet.
import { getAddress, verifyMessage } from 'ethers';
import type { Catalog, CatalogService } from '../../src/modules/catalog/catalog-core.ts';
import { rankServices, type MachinePolicyRule } from '../../src/modules/market/ranking.ts';
import { chargeOf, policyRefusals } from '../../src/modules/market/policy-check.ts';
import { toMicros } from '../../src/modules/orders/amounts.ts';
import { canonicalJson, normalisePolicy, type DelegationPolicy } from '../../src/modules/pairings/policy.ts';
import {
  orderStep,
  paymentStep,
  CLOSED_ORDER_STATUSES,
  MONEY_COMMITTED,
  type OrderStatus,
  type PaymentStatus,
} from '../../src/modules/orders/state.ts';
import { challengeMessage } from '../../src/identity/challenge-message.ts';
import { ApiError } from '../../src/errors.ts';
import type {
  AgentPairing,
  Machine,
  MarketOrderRecord,
  MarketPayment,
  OutcomeRecord,
  RouteRecord,
  RunRecord,
  TaskRecord,
} from '../../generated/types.gen.ts';
import { FIXTURE_IDENTITIES, clockMs, mockId, now, type MockState } from './state.ts';

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
export type Operation = (s: MockState, req: OpRequest) => OpResult | Promise<OpResult>;

const ok = (body: unknown): OpResult => ({ status: 200, body });
const created = (body: unknown): OpResult => ({ status: 201, body });
const gone = (what: string): never => {
  throw new ApiError('NOT_FOUND', `${what} not found.`);
};

function page<T>(
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
const sorted = <T extends { createdAt: string; id: string }>(m: Map<string, T>) =>
  [...m.values()].sort((a, b) => (`${a.createdAt}|${a.id}` < `${b.createdAt}|${b.id}` ? -1 : 1));

function audit(
  s: MockState,
  type: string,
  resourceType: string,
  resourceId: string,
  payload: Record<string, unknown> = {},
) {
  const id = mockId(s, 'aev');
  s.audit.set(id, { id, actor: 'api', type, resourceType, resourceId, payload, createdAt: now(s) });
}

function machine(s: MockState, id: string): Machine {
  return s.machines.get(id) ?? gone('Machine');
}
function activeMachine(s: MockState, id: string): Machine {
  const m = machine(s, id);
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
function spentToday(s: MockState, pairingId: string): number {
  const day = new Date(clockMs(s)).toISOString().slice(0, 10);
  return [...s.orders.values()]
    .filter(
      (o) =>
        o.agentPairingId === pairingId &&
        o.createdAt.slice(0, 10) === day &&
        (o.status !== 'cancelled' || MONEY_COMMITTED.includes(o.paymentStatus as PaymentStatus)),
    )
    .reduce((n, o) => n + (toMicros(o.amount) ?? 0), 0);
}

/** One MCR machine is one identity whichever identityRef form names it (the DID, lower-cased, when known). */
const identityKey = (ref: string, did?: string) => (did ?? (/^did:peaq:/.test(ref) ? ref : `ref:${ref}`)).toLowerCase();

function consume(
  s: MockState,
  proof: { challengeId: string; signature: string },
  purpose: 'machine-identity' | 'agent-pairing',
  subject: string,
  codes: {
    invalid: 'MACHINE_IDENTITY_PROOF_INVALID' | 'AGENT_PAIRING_PROOF_INVALID';
    expired: 'MACHINE_IDENTITY_PROOF_EXPIRED' | 'AGENT_PAIRING_PROOF_EXPIRED';
  },
  signers: string[],
) {
  const c = s.challenges.get(proof.challengeId);
  if (!c || c.purpose !== purpose || c.subject.toLowerCase() !== subject.toLowerCase())
    throw new ApiError(codes.invalid, 'Unknown challenge: request a new one.');
  if (c.used) throw new ApiError(codes.invalid, 'The challenge has already been used: request a new one.');
  if (Date.parse(c.expiresAt) <= clockMs(s))
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

function issueChallenge(
  s: MockState,
  purpose: 'machine-identity' | 'agent-pairing',
  subject: string,
  machineId: string | null,
  controllers: string[],
  keyed?: Record<string, string>,
) {
  const id = mockId(s, purpose === 'machine-identity' ? 'mic' : 'apc');
  const issuedAt = new Date(clockMs(s)).toISOString();
  const expiresAt = new Date(clockMs(s) + 600_000).toISOString();
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
  s.challenges.set(id, { id, purpose, subject, machineId, message, expiresAt, used: false, controllers, keyed });
  return { id, message, expiresAt };
}

function pairingFor(s: MockState, headers: Headers, machineId?: string): AgentPairing & { token?: string } {
  const token = headers.get('x-agent-pairing-token');
  if (!token) throw new ApiError('AGENT_AUTH_REQUIRED', 'This call needs the x-agent-pairing-token header.');
  const p = [...s.pairings.values()].find((x) => x.token === token);
  if (!p || (machineId && p.machineId !== machineId))
    throw new ApiError('AGENT_AUTH_INVALID', 'The pairing token is not valid.');
  if (p.status !== 'active') throw new ApiError('AGENT_PAIRING_INACTIVE', `The pairing is ${p.status}.`);
  return p;
}

const publicPairing = (p: AgentPairing & { token?: string }): AgentPairing => {
  const { token: _t, ...rest } = p;
  void _t;
  return rest;
};

/** A stand-in for the server's policy hash (FNV-1a over the canonical JSON): the mock signs nothing. */
function mockPolicyHash(p: unknown): string {
  let h = 0x811c9dc5;
  for (const ch of canonicalJson(p)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').repeat(8);
}

/** A JWT-shaped token with the documented claims. The mock does not sign it: it recognises it by value. */
function newToken(s: MockState, p: AgentPairing) {
  const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const iat = Math.floor(Date.parse(p.sessionIssuedAt ?? new Date(clockMs(s)).toISOString()) / 1000);
  const claims = {
    machineId: p.machineId,
    pairingId: p.id,
    sessionId: p.sessionId,
    agentAddress: p.agentAddress,
    agentDid: p.agentDid,
    delegationPolicyHash: mockPolicyHash(p.delegationPolicy),
    jti: p.sessionTokenId,
    iat,
    exp: iat + 3600,
    iss: 'peaqos-machine-markets-mock',
  };
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.mock-signature-${s.seq}`;
}

function rotate(s: MockState, p: AgentPairing & { token?: string }) {
  const at = now(s);
  p.sessionId = mockId(s, 'ses');
  p.sessionTokenId = mockId(s, 'jti');
  p.sessionIssuedAt = at;
  p.sessionExpiresAt = new Date(Date.parse(at) + 3_600_000).toISOString();
  p.token = newToken(s, p);
  p.hasAuthToken = true;
  p.tokenLastFour = p.token.slice(-4);
  p.updatedAt = at;
  return p.token;
}

function publicEndpoint<T extends { authToken?: string | null }>(e: T) {
  const { authToken: _a, ...rest } = e;
  void _a;
  return rest;
}
const publicAgent = <T extends { agentToken: string }>(a: T) => {
  const { agentToken: _t, ...rest } = a;
  void _t;
  return rest;
};

function policiesOf(s: MockState, m: Machine): MachinePolicyRule[] {
  return m.policyIds
    .map((id) => s.policies.get(id))
    .filter((p): p is NonNullable<typeof p> => !!p)
    .map((p) => ({ ...p, budgetCap: p.budgetCap ?? null }));
}

function runtimeProviders(s: MockState, machineId: string) {
  const nowIso = new Date(clockMs(s)).toISOString();
  return new Set(
    [...s.endpoints.values()]
      .filter(
        (e) => e.machineId === machineId && e.status === 'active' && (!e.leaseExpiresAt || e.leaseExpiresAt > nowIso),
      )
      .map((e) => e.providerKey),
  );
}

function upsertEndpoint(
  s: MockState,
  machineId: string,
  providerKey: string,
  body: Record<string, string | undefined>,
  source: 'manual' | 'agent',
  agentId: string | null,
  lease: string | null,
) {
  let url: URL;
  try {
    url = new URL(body.endpointBaseUrl!);
    if (!['http:', 'https:'].includes(url.protocol)) throw new Error();
  } catch {
    throw new ApiError('VALIDATION_ERROR', 'endpointBaseUrl is not a valid http(s) URL.', [
      { location: 'body', path: '/endpointBaseUrl', rule: 'url', message: 'invalid URL' },
    ]);
  }
  const key = `${machineId}:${providerKey}`;
  const existing = s.endpoints.get(key);
  const at = now(s);
  const authType = (body.authType ?? 'none') as 'none' | 'api-key' | 'bearer';
  const authToken = authType === 'none' ? null : (body.authToken ?? existing?.authToken ?? null);
  const e = {
    id: existing?.id ?? mockId(s, 'rep'),
    machineId,
    providerKey,
    source,
    agentId,
    label: body.label ?? `${providerKey.toUpperCase()} runtime`,
    endpointBaseUrl: url.origin,
    authType,
    hasAuthToken: !!authToken,
    authToken,
    modelAlias: body.modelAlias ?? null,
    networkScope: (body.networkScope ?? (/^(localhost|127\.|\[::1\])/.test(url.host) ? 'loopback' : 'public')) as
      'loopback' | 'lan' | 'vpn' | 'public',
    probePath: body.probePath ?? (providerKey === 'qvac' ? '/v1/models' : '/health'),
    status: (body.status ?? 'active') as 'active' | 'degraded' | 'unreachable',
    leaseExpiresAt: lease ?? body.leaseExpiresAt ?? null,
    lastCheckedAt: existing?.lastCheckedAt ?? null,
    lastHealthyAt: existing?.lastHealthyAt ?? null,
    createdAt: existing?.createdAt ?? at,
    updatedAt: at,
  };
  s.endpoints.set(key, e);
  audit(s, 'runtime-endpoint.upserted', 'runtime-endpoint', e.id, { machineId, providerKey, source });
  return { created: !existing, endpoint: e };
}

function candidatesFor(
  s: MockState,
  catalog: Catalog,
  m: Machine,
  t: TaskRecord,
  opts: { allowExternalHandoff?: boolean; requireNativeExecution?: boolean; maxCandidates?: number },
) {
  const r = rankServices(
    catalog.services,
    {
      serviceType: t.serviceType,
      operation: t.operation,
      requiredCapabilities: t.constraints.requiredCapabilities,
      region: t.constraints.region,
      budget: t.constraints.budget !== undefined ? { amount: t.constraints.budget } : undefined,
      nativeOnly: opts.requireNativeExecution ?? t.constraints.requireNativeExecution,
      allowExternalHandoff: opts.allowExternalHandoff ?? t.constraints.allowExternalHandoff,
      machinePolicies: policiesOf(s, m),
      runtimeProviders: runtimeProviders(s, m.id),
      machineSkillKeys: m.skillKeys,
      preferredSkillKeys: t.constraints.preferredSkillKeys,
    },
    opts.maxCandidates ?? t.discovery.maxCandidates,
  );
  return r.ranked.map((x) => ({ service: x.service, score: x.score, reasons: x.reasons }));
}

function resolutionOf(c: Array<{ service: CatalogService; score: number; reasons: string[] }>) {
  const top = c[0];
  if (!top) return { kind: 'unavailable' as const, reason: 'No catalogue service matches the task.', candidates: [] };
  if (top.service.executionMode === 'external-handoff' && top.service.handoff)
    return { kind: 'handoff' as const, candidate: top, handoff: top.service.handoff };
  return { kind: 'native' as const, candidate: top };
}

/** Runs a route in the mock: a native service with an active runtime endpoint completes, a handoff is external. */
function executeRoute(
  s: MockState,
  catalog: Catalog,
  t: TaskRecord,
  route: RouteRecord,
): { outcome: OutcomeRecord; run: RunRecord; status: number } {
  const at = now(s);
  const service = catalog.service(route.selectedServiceId);
  const native = route.executionMode === 'native';
  const reachable = native && runtimeProviders(s, t.machineId).has(service?.providerKey ?? '');
  const status: OutcomeRecord['status'] = native ? (reachable ? 'completed' : 'failed') : 'external';
  const outcome: OutcomeRecord = {
    id: mockId(s, 'out'),
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
    id: mockId(s, 'run'),
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
  s.outcomes.set(outcome.id, outcome);
  s.runs.set(run.id, run);
  route.status = status === 'completed' ? 'completed' : status === 'external' ? 'handed_off' : 'failed';
  t.status = status === 'completed' ? 'completed' : status === 'external' ? 'handed_off' : 'failed';
  t.outcomeId = outcome.id;
  t.updatedAt = at;
  audit(s, 'task.executed', 'task', t.id, { runId: run.id, status });
  return { outcome, run, status: status === 'completed' ? 200 : status === 'external' ? 202 : 503 };
}

function order(s: MockState, id: string): MarketOrderRecord {
  return s.orders.get(id) ?? gone('Order');
}
function setOrderStatus(o: MarketOrderRecord, action: Parameters<typeof orderStep>[1], at: string) {
  o.status = orderStep(o.status as OrderStatus, action) as MarketOrderRecord['status'];
  o.updatedAt = at;
}
function setPayment(s: MockState, o: MarketOrderRecord, p: MarketPayment, status: PaymentStatus, at: string) {
  p.status = status;
  p.updatedAt = at;
  o.paymentStatus = status;
  s.payments.set(o.id, p);
}
function newPayment(s: MockState, o: MarketOrderRecord, rail: MarketPayment['rail'], at: string): MarketPayment {
  return {
    id: mockId(s, 'mpy'),
    orderId: o.id,
    machineId: o.machineId,
    status: rail === 'not-required' ? 'not_required' : 'intent_created',
    rail,
    required: rail !== 'not-required',
    amount: o.amount,
    currency: o.currency,
    chain: o.payment.network ?? null,
    payerAddress: null,
    payeeAddress: o.payment.payeeAddress ?? null,
    tokenAddress: o.payment.tokenAddress ?? null,
    txHash: null,
    verificationMode: null,
    verifiedAt: null,
    escrowRef: null,
    challenge:
      rail === 'x402'
        ? { scheme: 'x402', payTo: o.payment.payeeAddress ?? null, asset: o.currency, maxAmountRequired: o.amount }
        : null,
    note: null,
    createdAt: at,
    updatedAt: at,
  };
}

export function operations(catalog: Catalog, resolve: IdentityResolver = fixtureResolver): Record<string, Operation> {
  const resolves = async (m: Machine) => !m.identityProof || !!(await resolve(m.identityRef));
  /** Pairing writes need the machine's identity to resolve now; an unreachable MCR is AGENT_PAIRING_UNAVAILABLE there. */
  const pairable = async (s: MockState, machineId: string): Promise<Machine> => {
    const m = activeMachine(s, machineId);
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
  return {
    getHealth: () => ok({ ok: true }),
    getReadiness: () =>
      ok({
        status: 'ready',
        checks: [
          { name: 'store', ok: true, detail: 'mock (in memory)' },
          { name: 'catalog', ok: true, detail: `${catalog.services.length} services` },
        ],
      }),

    createMachineIdentityChallenge: async (s, r) => {
      const f = (await resolve(r.body.identityRef)) ?? gone('identityRef (it does not resolve through MCR)');
      const c = issueChallenge(s, 'machine-identity', r.body.identityRef, null, f.controllers);
      return created({
        item: {
          challengeId: c.id,
          identityRef: r.body.identityRef,
          message: c.message,
          expiresAt: c.expiresAt,
          verificationMethod: 'eip191',
          controllerAddresses: f.controllers,
        },
      });
    },
    listMachines: async (s, r) => {
      const verified = sorted(s.machines).filter((m) => m.identityProof);
      const keep = await Promise.all(verified.map(resolves));
      return ok(
        page(
          verified.filter((_, i) => keep[i]),
          r.query,
        ),
      );
    },
    createMachine: async (s, r) => {
      const b = r.body;
      if ([...s.machines.values()].some((m) => m.identityRef.toLowerCase() === b.identityRef.toLowerCase()))
        throw new ApiError('MACHINE_IDENTITY_EXISTS', 'A machine with this identityRef is already registered.');
      for (const id of b.policyIds ?? [])
        if (!s.policies.has(id)) throw new ApiError('VALIDATION_ERROR', `Unknown policy id ${id}.`);
      let proof: Machine['identityProof'];
      let resolvedDid: string | undefined;
      if (!b.identityProof)
        throw new ApiError(
          'MACHINE_IDENTITY_PROOF_REQUIRED',
          'identityProof is required: sign a challenge from POST /api/v1/machine-identity/challenges.',
        );
      {
        const f =
          (await resolve(b.identityRef)) ??
          (() => {
            throw new ApiError('MACHINE_IDENTITY_PROOF_INVALID', 'identityRef does not resolve.');
          })();
        resolvedDid = f.did;
        const v = consume(
          s,
          b.identityProof,
          'machine-identity',
          b.identityRef,
          { invalid: 'MACHINE_IDENTITY_PROOF_INVALID', expired: 'MACHINE_IDENTITY_PROOF_EXPIRED' },
          f.controllers,
        );
        proof = {
          method: 'eip191',
          identityRef: b.identityRef,
          signerAddress: v.signer,
          challengeId: v.challenge.id,
          verifiedAt: new Date(clockMs(s)).toISOString(),
          challengeExpiresAt: v.challenge.expiresAt,
          controllerAddresses: f.controllers,
          resolutionSource: 'peaqos-mcr',
        };
      }
      const key = identityKey(b.identityRef, resolvedDid);
      for (const other of s.machines.values()) {
        if (identityKey(other.identityRef, s.identityDids.get(other.id)) === key)
          throw new ApiError(
            'MACHINE_IDENTITY_EXISTS',
            'A machine with this identity is already registered (as this identityRef or its other form).',
          );
      }
      const at = now(s);
      const m: Machine = {
        id: mockId(s, 'mch'),
        displayName: b.displayName,
        status: 'draft',
        ownerId: b.ownerId,
        identityRef: b.identityRef,
        identityProof: proof,
        machineType: b.machineType,
        runtimeProfile: b.runtimeProfile,
        capabilities: b.capabilities ?? [],
        labels: b.labels ?? {},
        policyIds: b.policyIds ?? [],
        skillKeys: b.skillKeys ?? [],
        createdAt: at,
        updatedAt: at,
      };
      s.machines.set(m.id, m);
      if (resolvedDid) s.identityDids.set(m.id, resolvedDid);
      audit(s, 'machine.created', 'machine', m.id, { identityRef: m.identityRef });
      return created({ item: m });
    },
    getMachine: async (s, r) => {
      const m = machine(s, r.params.machineId!);
      if (!(await resolves(m)))
        throw new ApiError('MACHINE_NOT_ACTIVATED', 'The machine identity no longer resolves through peaqOS MCR.');
      return ok({ item: m });
    },
    updateMachine: async (s, r) => {
      const m = machine(s, r.params.machineId!);
      const b = r.body;
      if (b.identityRef !== undefined && b.identityRef !== m.identityRef)
        throw new ApiError('MACHINE_IDENTITY_IMMUTABLE', 'identityRef cannot be changed once set.');
      if (b.identityProof) {
        const f = (await resolve(m.identityRef)) ?? gone('identityRef');
        const v = consume(
          s,
          b.identityProof,
          'machine-identity',
          m.identityRef,
          { invalid: 'MACHINE_IDENTITY_PROOF_INVALID', expired: 'MACHINE_IDENTITY_PROOF_EXPIRED' },
          f.controllers,
        );
        m.identityProof = {
          method: 'eip191',
          identityRef: m.identityRef,
          signerAddress: v.signer,
          challengeId: v.challenge.id,
          verifiedAt: new Date(clockMs(s)).toISOString(),
          challengeExpiresAt: v.challenge.expiresAt,
          controllerAddresses: f.controllers,
          resolutionSource: 'peaqos-mcr',
        };
      }
      if (b.status === 'active' && !m.identityProof)
        throw new ApiError('MACHINE_NOT_ACTIVATED', 'Only a machine with a verified identity can be activated.');
      if (
        b.status === 'archived' &&
        [...s.orders.values()].some(
          (o) => o.machineId === m.id && !CLOSED_ORDER_STATUSES.includes(o.status as OrderStatus),
        )
      )
        throw new ApiError('OPEN_MARKET_ORDERS', 'The machine has open market orders.');
      for (const k of [
        'displayName',
        'ownerId',
        'machineType',
        'runtimeProfile',
        'capabilities',
        'labels',
        'policyIds',
        'skillKeys',
        'status',
      ] as const)
        if (b[k] !== undefined) (m as Record<string, unknown>)[k] = b[k];
      m.updatedAt = now(s);
      audit(s, 'machine.updated', 'machine', m.id, { changed: Object.keys(b) });
      return ok({ item: m });
    },

    listAgentPairings: (s, r) => {
      machine(s, r.params.machineId!);
      return ok(
        page(
          sorted(s.pairings)
            .filter((p) => p.machineId === r.params.machineId && (!r.query.status || p.status === r.query.status))
            .map(publicPairing),
          r.query,
        ),
      );
    },
    getAgentPairing: (s, r) => {
      const p = s.pairings.get(r.params.pairingId!);
      if (!p || p.machineId !== r.params.machineId) gone('Agent pairing');
      return ok({ item: publicPairing(p!) });
    },
    createAgentPairingChallenge: async (s, r) => {
      const m = await pairable(s, r.params.machineId!);
      const address = getAddress(r.body.agentAddress);
      const did = r.body.agentDid ?? `did:pkh:eip155:1:${address}`;
      const c = issueChallenge(s, 'agent-pairing', address, m.id, [address], {
        agentProvider: r.body.agentProvider,
        agentRole: r.body.agentRole,
      });
      return created({
        item: {
          challengeId: c.id,
          machineId: m.id,
          agentAddress: address,
          agentDid: did,
          agentProvider: r.body.agentProvider,
          agentRole: r.body.agentRole,
          message: c.message,
          expiresAt: c.expiresAt,
          verificationMethod: 'eip191',
        },
      });
    },
    createAgentPairing: (s, r) => {
      const m = activeMachine(s, r.params.machineId!);
      const b = r.body;
      const address = getAddress(b.agentAddress);
      if (!b.agentProof) throw new ApiError('AGENT_PAIRING_PROOF_REQUIRED', 'agentProof is required.');
      const v = consume(
        s,
        b.agentProof,
        'agent-pairing',
        address,
        { invalid: 'AGENT_PAIRING_PROOF_INVALID', expired: 'AGENT_PAIRING_PROOF_EXPIRED' },
        [address],
      );
      const at = now(s);
      const p: AgentPairing & { token?: string } = {
        id: mockId(s, 'apr'),
        machineId: m.id,
        status: 'active',
        agentAddress: address,
        agentDid: b.agentDid ?? `did:pkh:eip155:1:${address}`,
        agentProvider: b.agentProvider,
        agentRole: b.agentRole,
        description: b.description ?? null,
        verification: {
          method: 'eip191',
          signerAddress: v.signer,
          verifiedAt: at,
          challengeExpiresAt: v.challenge.expiresAt,
        },
        delegationPolicy: normalisePolicy(b.delegationPolicy) as AgentPairing['delegationPolicy'],
        hasAuthToken: false,
        tokenLastFour: null,
        sessionId: null,
        sessionTokenId: null,
        sessionIssuedAt: null,
        sessionExpiresAt: null,
        createdAt: at,
        updatedAt: at,
      };
      const token = rotate(s, p);
      s.pairings.set(p.id, p);
      audit(s, 'agent-pairing.created', 'agent-pairing', p.id, { machineId: m.id });
      return created({ item: { ...publicPairing(p), pairingToken: token } });
    },
    createAgentPairingSession: (s, r) => {
      const p = s.pairings.get(r.params.pairingId!);
      if (!p || p.machineId !== r.params.machineId) gone('Agent pairing');
      if (p!.status !== 'active') throw new ApiError('AGENT_PAIRING_INACTIVE', `The pairing is ${p!.status}.`);
      if (!r.body?.agentProof)
        throw new ApiError('AGENT_PAIRING_PROOF_REQUIRED', 'agentProof over a fresh challenge is required.');
      consume(
        s,
        r.body.agentProof,
        'agent-pairing',
        p!.agentAddress,
        { invalid: 'AGENT_PAIRING_PROOF_INVALID', expired: 'AGENT_PAIRING_PROOF_EXPIRED' },
        [p!.agentAddress],
      );
      const token = rotate(s, p!);
      audit(s, 'agent-pairing.session-rotated', 'agent-pairing', p!.id);
      return created({ item: { ...publicPairing(p!), pairingToken: token } });
    },
    updateAgentPairing: (s, r) => {
      const p = s.pairings.get(r.params.pairingId!);
      if (!p || p.machineId !== r.params.machineId) gone('Agent pairing');
      if (p!.status === 'revoked') throw new ApiError('AGENT_PAIRING_INACTIVE', 'A revoked pairing cannot be changed.');
      if (r.body.delegationPolicy) {
        p!.delegationPolicy = normalisePolicy(
          r.body.delegationPolicy,
          p!.delegationPolicy as DelegationPolicy,
        ) as AgentPairing['delegationPolicy'];
        p!.token = undefined; // a policy change retires the session token
      }
      if (r.body.description !== undefined) p!.description = r.body.description;
      if (r.body.status) p!.status = r.body.status;
      p!.updatedAt = now(s);
      audit(s, 'agent-pairing.updated', 'agent-pairing', p!.id, { changed: Object.keys(r.body) });
      return ok({ item: publicPairing(p!) });
    },
    revokeAgentPairing: (s, r) => {
      const p = s.pairings.get(r.params.pairingId!);
      if (!p || p.machineId !== r.params.machineId) gone('Agent pairing');
      if (
        [...s.orders.values()].some(
          (o) => o.agentPairingId === p!.id && !CLOSED_ORDER_STATUSES.includes(o.status as OrderStatus),
        )
      )
        throw new ApiError('OPEN_MARKET_ORDERS', 'The pairing has open market orders.');
      p!.status = 'revoked';
      p!.hasAuthToken = false;
      // The token is still recognised, as the server does, so that using it answers AGENT_PAIRING_INACTIVE.
      p!.updatedAt = now(s);
      audit(s, 'agent-pairing.revoked', 'agent-pairing', p!.id);
      return ok({ item: publicPairing(p!) });
    },

    listSkills: (_s, r) =>
      ok(
        page(
          catalog.skills.filter(
            (k) =>
              (!r.query.serviceType || k.serviceTypes.includes(r.query.serviceType as never)) &&
              (!r.query.providerKey || k.providerKey === r.query.providerKey) &&
              (!r.query.executionMode || k.executionMode === r.query.executionMode) &&
              (!r.query.integrationStatus || k.integrationStatus === r.query.integrationStatus),
          ),
          r.query,
          (k) => k.key,
        ),
      ),
    getSkill: (_s, r) => ok({ item: catalog.skill(r.params.skillKey!) ?? gone('Skill') }),
    listMarketServices: (_s, r) =>
      ok(
        page(
          catalog.services.filter(
            (x) =>
              (!r.query.serviceType || x.serviceType === r.query.serviceType) &&
              (!r.query.skillKey || x.skillKey === r.query.skillKey) &&
              (!r.query.providerKey || x.providerKey === r.query.providerKey) &&
              (!r.query.executionMode || x.executionMode === r.query.executionMode) &&
              (!r.query.integrationStatus || x.integrationStatus === r.query.integrationStatus) &&
              (!r.query.region || x.region === r.query.region),
          ),
          r.query,
          (x) => x.id,
        ),
      ),
    getMarketService: (_s, r) => ok({ item: catalog.service(r.params.serviceId!) ?? gone('Service') }),
    listMarketAdapters: (_s, r) =>
      ok(
        page(
          catalog.adapters.filter(
            (a) =>
              (!r.query.serviceType || a.serviceTypes.includes(r.query.serviceType as never)) &&
              (!r.query.executionMode || a.executionMode === r.query.executionMode) &&
              (!r.query.integrationStatus || a.integrationStatus === r.query.integrationStatus),
          ),
          r.query,
          (a) => a.providerKey,
        ),
      ),
    getMarketAdapter: (_s, r) => ok({ item: catalog.adapter(r.params.providerKey!) ?? gone('Adapter') }),
    searchMarket: (s, r) => {
      const p = pairingFor(s, r.headers, r.body.machineId);
      const m = activeMachine(s, r.body.machineId);
      const b = r.body;
      const spentTodayMicros = spentToday(s, p.id);
      const result = rankServices(
        catalog.services,
        {
          serviceType: b.serviceType,
          skillKey: b.skillKey,
          operation: b.operation,
          requiredCapabilities: b.requiredCapabilities,
          region: b.region,
          budget: b.budget,
          nativeOnly: b.executionPreference?.nativeOnly ?? false,
          allowExternalHandoff: b.executionPreference?.allowExternalHandoff ?? true,
          delegationPolicy: p.delegationPolicy as DelegationPolicy,
          machinePolicies: policiesOf(s, m),
          spentTodayMicros,
          runtimeProviders: runtimeProviders(s, m.id),
          credentialProviders: new Set(Object.keys(b.providerCredentials ?? {})),
          machineSkillKeys: m.skillKeys,
        },
        b.maxResults ?? 10,
      );
      const at = now(s);
      const expiresAt = new Date(clockMs(s) + 600_000).toISOString();
      const quotes = result.ranked.map((x) => ({
        id: mockId(s, 'mqt'),
        serviceId: x.service.id,
        skillKey: x.service.skillKey,
        providerKey: x.service.providerKey,
        executionMode: x.service.executionMode,
        integrationStatus: x.service.integrationStatus,
        operation: b.operation ?? x.service.operations[0]!,
        score: x.score,
        reasons: x.reasons,
        pricing: {
          mode: x.service.pricing.mode,
          amount: x.service.pricing.amount ?? null,
          currency: x.service.pricing.currency ?? null,
          rate: x.service.pricing.rate ?? null,
          notes: x.service.pricing.notes,
        },
        payment: x.service.payment,
        runtimeEndpointAvailable: runtimeProviders(s, m.id).has(x.service.providerKey),
        handoff: x.service.executionMode === 'external-handoff' ? (x.service.handoff ?? null) : null,
        expiresAt,
      }));
      const { providerCredentials, ...query } = b;
      const redacted = providerCredentials
        ? Object.fromEntries(
            Object.entries(providerCredentials as Record<string, Record<string, string>>).map(([k, v]) => [
              k,
              Object.fromEntries(Object.keys(v).map((f) => [f, '[REDACTED]'])),
            ]),
          )
        : undefined;
      const item = {
        id: mockId(s, 'msr'),
        machineId: m.id,
        agentPairingId: p.id,
        status: quotes.length ? ('matched' as const) : ('no_match' as const),
        query: { ...query, ...(redacted ? { providerCredentials: redacted } : {}) },
        quotes,
        excluded: result.excluded,
        expiresAt,
        createdAt: at,
      };
      s.searches.set(item.id, item as never);
      audit(s, 'market.search.performed', 'market-search', item.id, { machineId: m.id });
      return created({ item });
    },

    listMarketOrders: (s, r) => {
      activeMachine(s, r.query.machineId!);
      return ok(
        page(
          sorted(s.orders).filter(
            (o) => o.machineId === r.query.machineId && (!r.query.status || o.status === r.query.status),
          ),
          r.query,
        ),
      );
    },
    createMarketOrder: (s, r) => {
      const b = r.body;
      const p = pairingFor(s, r.headers, b.machineId);
      activeMachine(s, b.machineId);
      let service: CatalogService | undefined;
      let operation = b.operation;
      let quoteBudget: { amount?: number; currency?: string } | undefined;
      if (b.searchId || b.quoteId) {
        const search = s.searches.get(b.searchId) ?? gone('Market search');
        const q = search.quotes.find((x) => x.id === b.quoteId) ?? gone('Quote');
        if (Date.parse(q.expiresAt) <= clockMs(s))
          throw new ApiError('QUOTE_EXPIRED', 'The quote has expired: search again.');
        service = catalog.service(q.serviceId);
        operation ??= q.operation;
        quoteBudget = (search.query as { budget?: { amount?: number; currency?: string } }).budget;
      } else if (b.serviceId) service = catalog.service(b.serviceId);
      else throw new ApiError('VALIDATION_ERROR', 'Name the service (serviceId) or the quote (searchId and quoteId).');
      if (!service) gone('Service');
      // The server's evaluation, shared with search: a quote the mock offered is an order it accepts.
      const policy = p.delegationPolicy as DelegationPolicy;
      const spend = {
        delegationPolicy: policy,
        machinePolicies: policiesOf(s, activeMachine(s, b.machineId)),
        budget: b.budget ?? quoteBudget ?? null,
        spentTodayMicros: spentToday(s, p.id),
      };
      const refusal = policyRefusals(service!, spend)?.[0];
      if (refusal) throw new ApiError(refusal.code, `${refusal.reason}.`);
      const { amount } = chargeOf(service!, spend);
      const at = now(s);
      const o: MarketOrderRecord = {
        id: mockId(s, 'mor'),
        machineId: b.machineId,
        agentPairingId: p.id,
        searchId: b.searchId ?? null,
        quoteId: b.quoteId ?? null,
        serviceId: service!.id,
        skillKey: service!.skillKey,
        providerKey: service!.providerKey,
        serviceType: service!.serviceType,
        operation: operation ?? service!.operations[0]!,
        executionMode: service!.executionMode,
        integrationStatus: service!.integrationStatus,
        status: 'created',
        input: b.input ?? {},
        budget: b.budget ?? null,
        payment: service!.payment,
        serviceSnapshot: { id: service!.id, name: service!.name },
        taskId: null,
        routeId: null,
        runId: null,
        outcomeId: null,
        handoff: service!.executionMode === 'external-handoff' ? (service!.handoff ?? null) : null,
        amount,
        currency: service!.pricing.currency ?? b.budget?.currency ?? null,
        paymentStatus: null,
        errorMessage: null,
        disputeReason: null,
        createdAt: at,
        updatedAt: at,
      };
      s.orders.set(o.id, o);
      audit(s, 'market.order.created', 'market-order', o.id, { serviceId: o.serviceId });
      return created({ item: o });
    },
    getMarketOrder: (s, r) => ok({ item: order(s, r.params.orderId!) }),
    createMarketPaymentIntent: (s, r) => {
      const o = order(s, r.params.orderId!);
      pairingFor(s, r.headers, o.machineId);
      const existing = s.payments.get(o.id);
      if (existing) return ok({ item: existing });
      if (CLOSED_ORDER_STATUSES.includes(o.status as OrderStatus))
        throw new ApiError('ORDER_CLOSED', `The order is ${o.status}.`);
      const rail = r.body?.rail ?? o.payment.defaultRail;
      if (rail === 'not-required' && o.payment.required)
        throw new ApiError('VALIDATION_ERROR', 'This service requires payment.');
      const at = now(s);
      const p = newPayment(s, o, rail, at);
      if (r.body?.payerAddress) p.payerAddress = r.body.payerAddress;
      setPayment(s, o, p, p.status as PaymentStatus, at);
      setOrderStatus(o, p.status === 'not_required' ? 'ready' : 'await-payment', at);
      audit(s, 'market.payment.intent-created', 'market-payment', p.id, { orderId: o.id });
      return created({ item: p });
    },
    submitMarketPaymentProof: (s, r) => {
      const o = order(s, r.params.orderId!);
      pairingFor(s, r.headers, o.machineId);
      if (CLOSED_ORDER_STATUSES.includes(o.status as OrderStatus))
        throw new ApiError('ORDER_CLOSED', `The order is ${o.status}.`);
      if (r.body.verificationMode === 'rpc')
        throw new ApiError('PAYMENT_RPC_REQUIRED', 'The mock has no EVM RPC: use verificationMode recorded.');
      const at = now(s);
      const p =
        s.payments.get(o.id) ??
        newPayment(s, o, o.payment.defaultRail === 'not-required' ? 'wallet' : o.payment.defaultRail, at);
      if (p.status === 'held' && p.txHash === r.body.txHash) return ok({ item: p });
      Object.assign(p, {
        txHash: r.body.txHash,
        verificationMode: 'recorded',
        chain: r.body.chain ?? p.chain,
        payerAddress: r.body.payerAddress ?? p.payerAddress,
      });
      setPayment(s, o, p, paymentStep(p.status as PaymentStatus, 'hold'), at);
      if (o.status === 'created' || o.status === 'payment_pending') setOrderStatus(o, 'ready', at);
      audit(s, 'market.payment.proof-recorded', 'market-payment', p.id, { orderId: o.id });
      return ok({ item: p });
    },
    getMarketPayment: (s, r) =>
      ok({ item: (order(s, r.params.orderId!), s.payments.get(r.params.orderId!)) ?? gone('Payment') }),
    lockMarketPaymentEscrow: (s, r) => {
      const o = order(s, r.params.orderId!);
      pairingFor(s, r.headers, o.machineId);
      const at = now(s);
      const p = s.payments.get(o.id) ?? newPayment(s, o, 'escrow', at);
      if (p.status === 'held') return ok({ item: p });
      if (CLOSED_ORDER_STATUSES.includes(o.status as OrderStatus))
        throw new ApiError('ORDER_CLOSED', `The order is ${o.status}.`);
      p.escrowRef = r.body?.escrowRef ?? p.escrowRef;
      setPayment(s, o, p, paymentStep(p.status as PaymentStatus, 'hold'), at);
      if (o.status === 'created' || o.status === 'payment_pending') setOrderStatus(o, 'ready', at);
      audit(s, 'market.payment.escrow-held', 'market-payment', p.id, { orderId: o.id });
      return ok({ item: p });
    },
    releaseMarketPayment: (s, r) => {
      const o = order(s, r.params.orderId!);
      const p = s.payments.get(o.id) ?? gone('Payment');
      setPayment(s, o, p, paymentStep(p.status as PaymentStatus, 'release'), now(s));
      audit(s, 'market.payment.released', 'market-payment', p.id, { orderId: o.id });
      return ok({ item: p });
    },
    refundMarketPayment: (s, r) => {
      const o = order(s, r.params.orderId!);
      const p = s.payments.get(o.id) ?? gone('Payment');
      const at = now(s);
      setPayment(s, o, p, paymentStep(p.status as PaymentStatus, 'refund'), at);
      if (['created', 'payment_pending', 'ready'].includes(o.status)) setOrderStatus(o, 'cancel', at);
      audit(s, 'market.payment.refunded', 'market-payment', p.id, { orderId: o.id });
      return ok({ item: p });
    },
    executeMarketOrder: (s, r) => {
      const o = order(s, r.params.orderId!);
      pairingFor(s, r.headers, o.machineId);
      const at = now(s);
      setOrderStatus(o, 'execute', at);
      const service = catalog.service(o.serviceId)!;
      const t: TaskRecord = {
        id: mockId(s, 'tsk'),
        machineId: o.machineId,
        serviceType: o.serviceType,
        operation: o.operation,
        taskType: 'market-order',
        status: 'executing',
        input: { ...o.input, ...(r.body?.input ?? {}) },
        constraints: { allowExternalHandoff: true, requireNativeExecution: false, requiredCapabilities: [] },
        discovery: { maxCandidates: 1 },
        routeId: null,
        outcomeId: null,
        createdAt: at,
        updatedAt: at,
      };
      const route: RouteRecord = {
        id: mockId(s, 'rte'),
        machineId: o.machineId,
        taskId: t.id,
        selectedSkillKey: o.skillKey,
        selectedServiceId: o.serviceId,
        executionMode: o.executionMode,
        integrationStatus: o.integrationStatus,
        status: 'selected',
        reason: `market order ${o.id}`,
        score: 1,
        fallbackChain: [],
        handoff: o.handoff,
        createdAt: at,
        updatedAt: at,
      };
      t.routeId = route.id;
      s.tasks.set(t.id, t);
      s.routes.set(route.id, route);
      const ex = executeRoute(s, catalog, t, route);
      const at2 = now(s);
      setOrderStatus(
        o,
        ex.outcome.status === 'completed' ? 'deliver' : ex.outcome.status === 'external' ? 'hand-off' : 'fail',
        at2,
      );
      Object.assign(o, {
        taskId: t.id,
        routeId: route.id,
        runId: ex.run.id,
        outcomeId: ex.outcome.id,
        errorMessage: ex.outcome.errorMessage ?? null,
      });
      audit(s, 'market.order.executed', 'market-order', o.id, { status: o.status });
      void service;
      if (ex.status >= 500)
        throw new ApiError('RUNTIME_UNAVAILABLE', ex.outcome.errorMessage ?? 'No runtime endpoint.');
      return { status: ex.status, body: { item: o, outcome: ex.outcome, run: ex.run, handoff: o.handoff } };
    },
    confirmMarketOrder: (s, r) => {
      const o = order(s, r.params.orderId!);
      pairingFor(s, r.headers, o.machineId);
      const at = now(s);
      setOrderStatus(o, 'confirm', at);
      const p = s.payments.get(o.id);
      if (p?.status === 'held') setPayment(s, o, p, paymentStep('held', 'await-release'), at);
      audit(s, 'market.order.confirmed', 'market-order', o.id);
      return ok({ item: o });
    },
    disputeMarketOrder: (s, r) => {
      const o = order(s, r.params.orderId!);
      pairingFor(s, r.headers, o.machineId);
      const at = now(s);
      setOrderStatus(o, 'dispute', at);
      o.disputeReason = r.body.reason;
      const p = s.payments.get(o.id);
      if (p && (p.status === 'held' || p.status === 'release_pending'))
        setPayment(s, o, p, paymentStep(p.status, 'freeze'), at);
      audit(s, 'market.order.disputed', 'market-order', o.id, { reason: r.body.reason });
      return ok({ item: o });
    },
    cancelMarketOrder: (s, r) => {
      const o = order(s, r.params.orderId!);
      pairingFor(s, r.headers, o.machineId);
      const paid = s.payments.get(o.id);
      if (paid && MONEY_COMMITTED.includes(paid.status)) {
        orderStep(o.status, 'cancel');
        throw new ApiError(
          'ORDER_PAYMENT_HELD',
          `The order's payment is ${paid.status}: the operator refunds it, which cancels the order.`,
        );
      }
      setOrderStatus(o, 'cancel', now(s));
      audit(s, 'market.order.cancelled', 'market-order', o.id);
      return ok({ item: o });
    },

    listRuntimeEndpoints: (s, r) => {
      activeMachine(s, r.params.machineId!);
      return ok(
        page(
          sorted(s.endpoints)
            .filter((e) => e.machineId === r.params.machineId)
            .map(publicEndpoint),
          r.query,
        ),
      );
    },
    getRuntimeEndpoint: (s, r) => {
      activeMachine(s, r.params.machineId!);
      return ok({
        item: publicEndpoint(
          s.endpoints.get(`${r.params.machineId}:${r.params.providerKey!.toLowerCase()}`) ?? gone('Runtime endpoint'),
        ),
      });
    },
    upsertRuntimeEndpoint: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const u = upsertEndpoint(
        s,
        r.params.machineId!,
        r.params.providerKey!.toLowerCase(),
        r.body,
        'manual',
        null,
        null,
      );
      return { status: u.created ? 201 : 200, body: { item: publicEndpoint(u.endpoint) } };
    },
    deleteRuntimeEndpoint: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const key = `${r.params.machineId}:${r.params.providerKey!.toLowerCase()}`;
      const e = s.endpoints.get(key) ?? gone('Runtime endpoint');
      s.endpoints.delete(key);
      audit(s, 'runtime-endpoint.deleted', 'runtime-endpoint', e.id);
      return { status: 204 };
    },
    listMachineAgents: (s, r) => {
      activeMachine(s, r.params.machineId!);
      return ok(
        page(
          sorted(s.agents)
            .filter((a) => a.machineId === r.params.machineId)
            .map(publicAgent),
          r.query,
        ),
      );
    },
    enrollMachineAgent: (s, r) => {
      const m = activeMachine(s, r.params.machineId!);
      const at = now(s);
      const keys = (r.body?.allowedProviderKeys ?? r.body?.providerKeys ?? ['qvac']).map((k: string) =>
        k.toLowerCase(),
      );
      const a = {
        id: mockId(s, 'mag'),
        machineId: m.id,
        label: r.body?.label ?? 'Machine runtime agent',
        allowedProviderKeys: keys,
        status: 'provisioned' as const,
        hasAgentToken: true,
        lastSeenAt: null,
        createdAt: at,
        updatedAt: at,
        agentToken: `mat_mock_${s.seq}_${Math.random().toString(36).slice(2)}`,
      };
      s.agents.set(a.id, a);
      audit(s, 'machine-agent.enrolled', 'machine-agent', a.id);
      return created({ item: a });
    },
    revokeMachineAgent: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const a = s.agents.get(r.params.agentId!);
      if (!a || a.machineId !== r.params.machineId) gone('Machine agent');
      a!.status = 'revoked';
      a!.hasAgentToken = false;
      a!.updatedAt = now(s);
      return ok({ item: publicAgent(a!) });
    },
    machineAgentHeartbeat: (s, r) => {
      const b = r.body;
      const bearer = /^Bearer\s+(.+)$/i.exec(r.headers.get('authorization') ?? '')?.[1];
      const token = b.agentToken ?? r.headers.get('x-agent-pairing-token') ?? bearer;
      if (!token) throw new ApiError('AGENT_AUTH_REQUIRED', 'Send the agentToken.');
      const a = s.agents.get(b.agentId);
      if (!a || a.machineId !== b.machineId) gone('Machine agent');
      if (a!.status === 'revoked') throw new ApiError('AGENT_PAIRING_INACTIVE', 'This runtime agent has been revoked.');
      if (a!.agentToken !== token) throw new ApiError('AGENT_AUTH_INVALID', 'The agent token is not valid.');
      activeMachine(s, b.machineId);
      const denied = (b.endpoints ?? []).filter(
        (e: { providerKey: string }) => !a!.allowedProviderKeys.includes(e.providerKey.toLowerCase()),
      );
      if (denied.length) throw new ApiError('AGENT_POLICY_DENIED', 'Provider key not allowed for this agent.');
      const lease = new Date(clockMs(s) + (b.leaseSeconds ?? 120) * 1000).toISOString();
      const endpoints = (b.endpoints ?? []).map((e: Record<string, string>) =>
        publicEndpoint(upsertEndpoint(s, b.machineId, e.providerKey!.toLowerCase(), e, 'agent', a!.id, lease).endpoint),
      );
      const at = now(s);
      Object.assign(a!, { status: 'active', lastSeenAt: at, updatedAt: at });
      audit(s, 'machine-agent.heartbeat', 'machine-agent', a!.id);
      return ok({ item: publicAgent(a!), endpoints });
    },

    getGraph: (s, r) => {
      activeMachine(s, r.params.machineId!);
      return ok({
        nodes: sorted(s.nodes).filter((n) => n.machineId === r.params.machineId),
        edges: sorted(s.edges).filter((e) => e.machineId === r.params.machineId),
      });
    },
    createGraphNode: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const at = now(s);
      const n = {
        id: mockId(s, 'gnd'),
        machineId: r.params.machineId!,
        type: r.body.type,
        refId: r.body.refId ?? null,
        title: r.body.title,
        status: 'draft' as const,
        position: { x: r.body.position?.x ?? 0, y: r.body.position?.y ?? 0 },
        data: r.body.data ?? {},
        createdAt: at,
        updatedAt: at,
      };
      s.nodes.set(n.id, n);
      audit(s, 'graph.node.created', 'graph-node', n.id);
      return created({ item: n });
    },
    updateGraphNode: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const n = s.nodes.get(r.params.nodeId!);
      if (!n || n.machineId !== r.params.machineId) gone('Graph node');
      const b = r.body;
      Object.assign(n!, {
        ...(b.type ? { type: b.type } : {}),
        ...(b.title ? { title: b.title } : {}),
        ...(b.refId !== undefined ? { refId: b.refId } : {}),
        ...(b.status ? { status: b.status } : {}),
        position: { x: b.position?.x ?? n!.position.x, y: b.position?.y ?? n!.position.y },
        data: { ...n!.data, ...(b.data ?? {}) },
        updatedAt: now(s),
      });
      audit(s, 'graph.node.updated', 'graph-node', n!.id);
      return ok({ item: n });
    },
    deleteGraphNode: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const n = s.nodes.get(r.params.nodeId!);
      if (!n || n.machineId !== r.params.machineId) gone('Graph node');
      for (const e of [...s.edges.values()])
        if (e.sourceNodeId === n!.id || e.targetNodeId === n!.id) s.edges.delete(e.id);
      s.nodes.delete(n!.id);
      audit(s, 'graph.node.deleted', 'graph-node', n!.id);
      return { status: 204 };
    },
    createGraphEdge: (s, r) => {
      activeMachine(s, r.params.machineId!);
      for (const f of ['sourceNodeId', 'targetNodeId'])
        if (s.nodes.get(r.body[f])?.machineId !== r.params.machineId)
          throw new ApiError('VALIDATION_ERROR', `${f} must name a node of this machine.`, [
            { location: 'body', path: `/${f}`, rule: 'same-machine', message: 'no such node on this machine' },
          ]);
      const at = now(s);
      const e = {
        id: mockId(s, 'ged'),
        machineId: r.params.machineId!,
        sourceNodeId: r.body.sourceNodeId,
        targetNodeId: r.body.targetNodeId,
        type: r.body.type,
        ...(r.body.label ? { label: r.body.label } : {}),
        data: r.body.data ?? {},
        createdAt: at,
        updatedAt: at,
      };
      s.edges.set(e.id, e);
      audit(s, 'graph.edge.created', 'graph-edge', e.id);
      return created({ item: e });
    },
    updateGraphEdge: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const e = s.edges.get(r.params.edgeId!);
      if (!e || e.machineId !== r.params.machineId) gone('Graph edge');
      Object.assign(e!, {
        ...(r.body.type ? { type: r.body.type } : {}),
        ...(r.body.label ? { label: r.body.label } : {}),
        data: { ...e!.data, ...(r.body.data ?? {}) },
        updatedAt: now(s),
      });
      audit(s, 'graph.edge.updated', 'graph-edge', e!.id);
      return ok({ item: e });
    },
    deleteGraphEdge: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const e = s.edges.get(r.params.edgeId!);
      if (!e || e.machineId !== r.params.machineId) gone('Graph edge');
      s.edges.delete(e!.id);
      audit(s, 'graph.edge.deleted', 'graph-edge', e!.id);
      return { status: 204 };
    },

    listTasks: (s, r) => {
      activeMachine(s, r.params.machineId!);
      return ok(
        page(
          sorted(s.tasks).filter((t) => t.machineId === r.params.machineId),
          r.query,
        ),
      );
    },
    createTask: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const b = r.body;
      const unknown = (b.constraints?.preferredSkillKeys ?? []).filter((k: string) => !catalog.skill(k));
      if (unknown.length) throw new ApiError('VALIDATION_ERROR', `Unknown skill(s): ${unknown.join(', ')}.`);
      const at = now(s);
      const c = b.constraints ?? {};
      const t: TaskRecord = {
        id: mockId(s, 'tsk'),
        machineId: r.params.machineId!,
        serviceType: b.serviceType,
        ...(b.operation ? { operation: b.operation } : {}),
        taskType: b.taskType,
        status: 'queued',
        input: b.input ?? {},
        constraints: {
          ...(c.region ? { region: c.region } : {}),
          ...(c.budget !== undefined ? { budget: c.budget } : {}),
          allowExternalHandoff: c.allowExternalHandoff ?? true,
          requireNativeExecution: c.requireNativeExecution ?? false,
          requiredCapabilities: c.requiredCapabilities ?? [],
          ...(c.preferredSkillKeys ? { preferredSkillKeys: c.preferredSkillKeys } : {}),
        },
        discovery: { maxCandidates: b.discovery?.maxCandidates ?? 10 },
        routeId: null,
        outcomeId: null,
        createdAt: at,
        updatedAt: at,
      };
      s.tasks.set(t.id, t);
      audit(s, 'task.created', 'task', t.id);
      return created({ item: t });
    },
    getTask: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const t = s.tasks.get(r.params.taskId!);
      if (!t || t.machineId !== r.params.machineId) gone('Task');
      return ok({ item: t });
    },
    discoverTask: (s, r) => {
      const m = activeMachine(s, r.params.machineId!);
      const t = s.tasks.get(r.params.taskId!);
      if (!t || t.machineId !== m.id) gone('Task');
      const c = candidatesFor(s, catalog, m, t!, r.body ?? {});
      return ok({ taskId: t!.id, machineId: m.id, resolution: resolutionOf(c), candidates: c });
    },
    resolveTask: (s, r) => {
      const m = activeMachine(s, r.params.machineId!);
      const t = s.tasks.get(r.params.taskId!);
      if (!t || t.machineId !== m.id) gone('Task');
      const c = candidatesFor(s, catalog, m, t!, r.body ?? {});
      const resolution = resolutionOf(c);
      if (resolution.kind === 'unavailable')
        throw new ApiError('ROUTE_REQUIRED', `No route can be resolved: ${resolution.reason}`);
      const top = resolution.candidate;
      const at = now(s);
      const route: RouteRecord = {
        id: mockId(s, 'rte'),
        machineId: m.id,
        taskId: t!.id,
        selectedSkillKey: top.service.skillKey,
        selectedServiceId: top.service.id,
        executionMode: top.service.executionMode,
        integrationStatus: top.service.integrationStatus,
        status: 'selected',
        reason: top.reasons[0] ?? 'best candidate',
        score: top.score,
        fallbackChain: c.slice(1).map((x) => ({
          skillKey: x.service.skillKey,
          serviceId: x.service.id,
          executionMode: x.service.executionMode,
        })),
        handoff: resolution.kind === 'handoff' ? resolution.handoff : null,
        createdAt: at,
        updatedAt: at,
      };
      s.routes.set(route.id, route);
      Object.assign(t!, { status: 'resolved', routeId: route.id, updatedAt: at });
      audit(s, 'task.resolved', 'task', t!.id);
      return created({ item: route, resolution });
    },
    executeTask: (s, r) => {
      activeMachine(s, r.params.machineId!);
      const t = s.tasks.get(r.params.taskId!);
      if (!t || t.machineId !== r.params.machineId) gone('Task');
      if (!t!.routeId) throw new ApiError('ROUTE_REQUIRED', 'Resolve the task before executing it.');
      const route = s.routes.get(t!.routeId)!;
      if (r.body?.input) t!.input = { ...t!.input, ...r.body.input };
      const ex = executeRoute(s, catalog, t!, route);
      const service = catalog.service(route.selectedServiceId)!;
      const candidate = { service, score: route.score, reasons: [route.reason] };
      const resolution =
        route.executionMode === 'external-handoff' && route.handoff
          ? { kind: 'handoff', candidate, handoff: route.handoff }
          : { kind: 'native', candidate };
      if (ex.status >= 500)
        return {
          status: ex.status,
          body: {
            error: { code: 'RUNTIME_UNAVAILABLE', message: ex.outcome.errorMessage },
            item: ex.outcome,
            run: ex.run,
            resolution,
          },
        };
      return { status: ex.status, body: { item: ex.outcome, run: ex.run, resolution } };
    },
    listRoutes: (s, r) => {
      activeMachine(s, r.params.machineId!);
      return ok(
        page(
          sorted(s.routes).filter((x) => x.machineId === r.params.machineId),
          r.query,
        ),
      );
    },
    listOutcomes: (s, r) => {
      activeMachine(s, r.params.machineId!);
      return ok(
        page(
          sorted(s.outcomes).filter((x) => x.machineId === r.params.machineId),
          r.query,
        ),
      );
    },
    listRuns: (s, r) => {
      activeMachine(s, r.query.machineId!);
      const q = r.query;
      return ok(
        page(
          sorted(s.runs).filter(
            (x) =>
              x.machineId === q.machineId &&
              (!q.status || x.status === q.status) &&
              (!q.skillKey || x.skillKey === q.skillKey) &&
              (!q.serviceId || x.serviceId === q.serviceId) &&
              (!q.executionMode || x.executionMode === q.executionMode),
          ),
          q,
        ),
      );
    },
    getRun: (s, r) => {
      const run = s.runs.get(r.params.runId!) ?? gone('Run');
      return ok({ run, outcome: (run.outcomeId && s.outcomes.get(run.outcomeId)) || null });
    },

    listPolicies: (s, r) => ok(page(sorted(s.policies), r.query)),
    createPolicy: (s, r) => {
      const at = now(s);
      const b = r.body;
      const p = {
        id: mockId(s, 'pol'),
        name: b.name,
        allowedSkillKeys: b.allowedSkillKeys ?? [],
        deniedSkillKeys: b.deniedSkillKeys ?? [],
        budgetCap: b.budgetCap ?? null,
        regionRules: b.regionRules ?? [],
        nativeOnly: b.nativeOnly ?? false,
        handoffAllowed: b.handoffAllowed ?? true,
        requiredCapabilities: b.requiredCapabilities ?? [],
        createdAt: at,
        updatedAt: at,
      };
      s.policies.set(p.id, p);
      audit(s, 'policy.created', 'policy', p.id);
      return created({ item: p });
    },
    getPolicy: (s, r) => ok({ item: s.policies.get(r.params.policyId!) ?? gone('Policy') }),
    updatePolicy: (s, r) => {
      const p = s.policies.get(r.params.policyId!) ?? gone('Policy');
      Object.assign(p, r.body, { updatedAt: now(s) });
      audit(s, 'policy.updated', 'policy', p.id);
      return ok({ item: p });
    },
    deletePolicy: (s, r) => {
      const p = s.policies.get(r.params.policyId!) ?? gone('Policy');
      if ([...s.machines.values()].some((m) => m.policyIds.includes(p.id)))
        throw new ApiError('VALIDATION_ERROR', 'The policy is used by a machine.');
      s.policies.delete(p.id);
      audit(s, 'policy.deleted', 'policy', p.id);
      return { status: 204 };
    },
    listAuditEvents: (s, r) =>
      ok(
        page(
          sorted(s.audit).filter(
            (e) =>
              (!r.query.type || e.type === r.query.type) &&
              (!r.query.resourceType || e.resourceType === r.query.resourceType) &&
              (!r.query.resourceId || e.resourceId === r.query.resourceId),
          ),
          r.query,
        ),
      ),
  };
}
