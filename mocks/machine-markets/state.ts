// The mock's in-memory state, typed with the generated contract types, and its seed fixtures.
import type {
  AgentPairing,
  AuditEventRecord,
  GraphEdgeRecord,
  GraphNodeRecord,
  Machine,
  MachineAgentView,
  MarketOrderRecord,
  MarketPayment,
  MarketSearch,
  OutcomeRecord,
  PolicyRecord,
  RouteRecord,
  RunRecord,
  RuntimeEndpointView,
  TaskRecord,
} from '../../generated/types.gen.ts';
import { defaultMachines, didOf } from '../mcr/fixtures.ts';

export interface Challenge {
  id: string;
  purpose: 'machine-identity' | 'agent-pairing';
  subject: string;
  machineId: string | null;
  message: string;
  expiresAt: string;
  used: boolean;
  controllers: string[];
  keyed?: Record<string, string>;
}

export interface MockState {
  seq: number;
  clock: number;
  machines: Map<string, Machine>;
  pairings: Map<string, AgentPairing & { token?: string }>;
  policies: Map<string, PolicyRecord>;
  endpoints: Map<string, RuntimeEndpointView & { authToken?: string | null }>;
  agents: Map<string, MachineAgentView & { agentToken: string }>;
  nodes: Map<string, GraphNodeRecord>;
  edges: Map<string, GraphEdgeRecord>;
  tasks: Map<string, TaskRecord>;
  routes: Map<string, RouteRecord>;
  outcomes: Map<string, OutcomeRecord>;
  runs: Map<string, RunRecord>;
  orders: Map<string, MarketOrderRecord>;
  payments: Map<string, MarketPayment>;
  searches: Map<string, MarketSearch>;
  audit: Map<string, AuditEventRecord>;
  challenges: Map<string, Challenge>;
}

export function emptyState(clock: number): MockState {
  return {
    seq: 0,
    clock,
    machines: new Map(),
    pairings: new Map(),
    policies: new Map(),
    endpoints: new Map(),
    agents: new Map(),
    nodes: new Map(),
    edges: new Map(),
    tasks: new Map(),
    routes: new Map(),
    outcomes: new Map(),
    runs: new Map(),
    orders: new Map(),
    payments: new Map(),
    searches: new Map(),
    audit: new Map(),
    challenges: new Map(),
  };
}

/** Ids that sort by creation, like the server's, so pagination orders the same way. */
export function mockId(s: MockState, prefix: string): string {
  s.seq += 1;
  return `${prefix}_${s.clock.toString(16).padStart(12, '0')}${s.seq.toString(16).padStart(8, '0')}`;
}

export function now(s: MockState): string {
  // Every write moves the mock clock by a millisecond, so createdAt orders writes.
  s.clock += 1;
  return new Date(s.clock).toISOString();
}

/** The mock MCR fleet that fixtures and proofs use (wallet keys are in mocks/mcr/fixtures.ts). */
export const FIXTURE_IDENTITIES = defaultMachines()
  .filter((m) => m.wallet)
  .map((m) => ({ mcrId: m.machineId, did: didOf(m.wallet!), address: m.wallet!.address, operator: m.operator?.address ?? null, bonded: m.bondStatus === 'bonded' }));
