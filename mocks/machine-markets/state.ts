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
  /** The mock clock (ms): the last time it handed out. */
  clock: number;
  /** real: the clock follows the wall clock (plus `offset`); virtual: it moves only by writes and advanceClock. */
  clockMode: 'real' | 'virtual';
  offset: number;
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
  /** machine id -> the DID its identity resolved to (one MCR machine registers once). */
  identityDids: Map<string, string>;
}

export function emptyState(clock: number, clockMode: MockState['clockMode'] = 'virtual'): MockState {
  return {
    seq: 0,
    clock,
    clockMode,
    offset: 0,
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
    identityDids: new Map(),
  };
}

/** Ids that sort by creation, like the server's, so pagination orders the same way. */
export function mockId(s: MockState, prefix: string): string {
  s.seq += 1;
  return `${prefix}_${s.clock.toString(16).padStart(12, '0')}${s.seq.toString(16).padStart(8, '0')}`;
}

/** The mock clock's current time in ms, without moving it (for expiry checks). */
export const clockMs = (s: MockState): number =>
  s.clockMode === 'real' ? Math.max(s.clock, Date.now() + s.offset) : s.clock;

/** The time of a write: every write moves the clock by at least a millisecond, so createdAt orders writes. */
export function now(s: MockState): string {
  s.clock = Math.max(s.clock + 1, s.clockMode === 'real' ? Date.now() + s.offset : 0);
  return new Date(s.clock).toISOString();
}

/** Moves the mock clock forward by `ms`. */
export function advance(s: MockState, ms: number): void {
  if (s.clockMode === 'real') s.offset += ms;
  else s.clock += ms;
}

/** The mock MCR fleet that fixtures and proofs use (wallet keys are in mocks/mcr/fixtures.ts). */
export const FIXTURE_IDENTITIES = defaultMachines()
  .filter((m) => m.wallet)
  .map((m) => ({
    mcrId: m.machineId,
    did: didOf(m.wallet!),
    address: m.wallet!.address,
    operator: m.operator?.address ?? null,
    bonded: m.bondStatus === 'bonded',
  }));
