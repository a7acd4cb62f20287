// Who is calling, as the HTTP layer established it; services decide with this and never see headers.
//
// Roles (openapi.yaml `x-peaqos-roles` on every operation):
// - operator: holds a deployment key (PEAQOS_API_KEY / PEAQOS_API_KEYS). With PEAQOS_REQUIRE_API_AUTH=false (the
//   documented default) every caller without an agent-scoped key is an operator.
// - agent: holds an agent-scoped key (PEAQOS_AGENT_API_KEYS) and a pairing session token; admitted to agent
//   operations only, and there only to its own machine, pairing and orders.
// - machine-agent: a runtime agent's enrolment token (heartbeat only).
// - public: no credentials (GET /health).
export type Role = 'operator' | 'agent' | 'machine-agent' | 'public';

export interface Caller {
  /** What the API key (or its absence on an open deployment) makes the caller. */
  role: 'operator' | 'agent';
  /** The x-agent-pairing-token header, unverified: the pairing service checks it. */
  pairingToken?: string;
}

export const OPERATOR: Caller = { role: 'operator' };
