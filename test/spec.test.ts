// The contract itself: every operation is complete, and the error table in code equals the one in the spec.
import { describe, expect, it } from 'vitest';
import { loadSpec, listOperations } from '../src/contract/spec.ts';
import { ERROR_STATUS } from '../src/errors.ts';

const spec = loadSpec();
const ops = listOperations(spec);
const table = spec['x-peaqos-error-codes'] as Record<string, { status: number; source: string }>;

function resolveResponse(r: Record<string, unknown>) {
  const ref = r.$ref as string | undefined;
  return ref ? spec.components.responses[ref.split('/').pop()!] : r;
}

describe('openapi.yaml', () => {
  it('holds every operation the issues list (at least 60)', () => {
    expect(ops.length).toBeGreaterThanOrEqual(60);
    const ids = new Set(ops.map((o) => o.operationId));
    for (const id of [
      'getHealth',
      'getReadiness',
      'createMachineIdentityChallenge',
      'listMachines',
      'createMachine',
      'getMachine',
      'updateMachine',
      'listAgentPairings',
      'getAgentPairing',
      'createAgentPairingChallenge',
      'createAgentPairing',
      'createAgentPairingSession',
      'updateAgentPairing',
      'revokeAgentPairing',
      'listSkills',
      'getSkill',
      'listMarketServices',
      'getMarketService',
      'listMarketAdapters',
      'getMarketAdapter',
      'searchMarket',
      'listMarketOrders',
      'createMarketOrder',
      'getMarketOrder',
      'createMarketPaymentIntent',
      'submitMarketPaymentProof',
      'getMarketPayment',
      'lockMarketPaymentEscrow',
      'releaseMarketPayment',
      'refundMarketPayment',
      'executeMarketOrder',
      'confirmMarketOrder',
      'disputeMarketOrder',
      'cancelMarketOrder',
      'listRuntimeEndpoints',
      'getRuntimeEndpoint',
      'upsertRuntimeEndpoint',
      'deleteRuntimeEndpoint',
      'enrollMachineAgent',
      'machineAgentHeartbeat',
      'getGraph',
      'createGraphNode',
      'updateGraphNode',
      'deleteGraphNode',
      'createGraphEdge',
      'updateGraphEdge',
      'deleteGraphEdge',
      'listTasks',
      'createTask',
      'getTask',
      'discoverTask',
      'resolveTask',
      'executeTask',
      'listRoutes',
      'listOutcomes',
      'listRuns',
      'getRun',
      'listPolicies',
      'createPolicy',
      'getPolicy',
      'updatePolicy',
      'listAuditEvents',
    ]) {
      expect(ids.has(id), id).toBe(true);
    }
  });

  it.each(ops.map((o) => [o.operationId, o] as const))(
    '%s has summary, source, examples and documented errors',
    (_id, op) => {
      const o = op.operation;
      expect(o.summary).toBeTruthy();
      expect(['documented', 'designed']).toContain(o['x-peaqos-source']);
      expect(Array.isArray(o['x-peaqos-errors'])).toBe(true);
      expect(op.successStatuses.length).toBeGreaterThan(0);
      for (const s of op.successStatuses) {
        const r = resolveResponse(o.responses[s]);
        if (r.content)
          expect(Object.keys(r.content['application/json'].examples ?? {}).length, `${s} example`).toBeGreaterThan(0);
      }
      const body = o.requestBody?.content?.['application/json'];
      if (body) expect(Object.keys(body.examples ?? {}).length, 'request example').toBeGreaterThan(0);
      for (const code of o['x-peaqos-errors'] as string[]) {
        expect(table[code], `${code} in x-peaqos-error-codes`).toBeDefined();
        const status = String(table[code]!.status);
        expect(o.responses[status] ?? o.responses.default, `${code} -> ${status} documented`).toBeDefined();
        expect(o.responses[status], `${code} has its own ${status} response`).toBeDefined();
      }
      expect(o.responses.default, 'default error response').toBeDefined();
    },
  );

  it('has the same error table as the code', () => {
    const fromSpec = Object.fromEntries(Object.entries(table).map(([k, v]) => [k, v.status]));
    expect(fromSpec).toEqual(ERROR_STATUS);
  });

  it('lists every documented error code', () => {
    const documented = [
      'AUTH_REQUIRED',
      'AUTH_INVALID',
      'AGENT_AUTH_REQUIRED',
      'AGENT_AUTH_INVALID',
      'AGENT_AUTH_EXPIRED',
      'VALIDATION_ERROR',
      'NOT_FOUND',
      'MACHINE_NOT_ACTIVE',
      'MACHINE_NOT_ACTIVATED',
      'MACHINE_IDENTITY_EXISTS',
      'MACHINE_IDENTITY_IMMUTABLE',
      'MACHINE_IDENTITY_PROOF_REQUIRED',
      'MACHINE_IDENTITY_PROOF_INVALID',
      'MACHINE_IDENTITY_PROOF_EXPIRED',
      'PEAQOS_IDENTITY_UNAVAILABLE',
      'AGENT_PAIRING_PROOF_REQUIRED',
      'AGENT_PAIRING_PROOF_INVALID',
      'AGENT_PAIRING_PROOF_EXPIRED',
      'AGENT_PAIRING_UNAVAILABLE',
      'AGENT_PAIRING_REQUIRED',
      'AGENT_PAIRING_INACTIVE',
      'AGENT_POLICY_DENIED',
      'AGENT_SPEND_LIMIT_EXCEEDED',
      'AGENT_DAILY_LIMIT_EXCEEDED',
      'OPEN_MARKET_ORDERS',
      'QUOTE_EXPIRED',
      'ROUTE_REQUIRED',
      'ORDER_CLOSED',
      'ORDER_NOT_DELIVERED',
      'PAYMENT_REQUIRED',
      'PAYMENT_RPC_REQUIRED',
      'PAYMENT_RPC_ERROR',
      'PAYMENT_NOT_MINED',
      'PAYMENT_TX_FAILED',
      'PAYMENT_TRANSFER_NOT_FOUND',
    ];
    for (const c of documented) expect(table[c]?.source, c).toBe('documented');
    expect(table.PAYMENT_RPC_ERROR!.status).toBe(502);
    expect(table.PAYMENT_NOT_MINED!.status).toBe(409);
    expect(table.PAYMENT_TX_FAILED!.status).toBe(402);
    expect(table.PAYMENT_TRANSFER_NOT_FOUND!.status).toBe(400);
  });

  it('keeps the documented success statuses', () => {
    const byId = Object.fromEntries(ops.map((o) => [o.operationId, o]));
    expect(byId.upsertRuntimeEndpoint!.successStatuses.sort()).toEqual(['200', '201']);
    expect(byId.deleteRuntimeEndpoint!.successStatuses).toEqual(['204']);
    expect(byId.resolveTask!.successStatuses).toEqual(['201']);
    expect(byId.deleteGraphNode!.successStatuses).toEqual(['204']);
  });
});
