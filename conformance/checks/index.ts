// Every check the kit runs, one file per group, in the order a full run takes them. Checks marked `designed` run in
// the reference profile only; checks that need machines with MCR-backed proofs are skipped with --no-identity.
// No group relies on another having run: the state a check builds on comes from the shared context, set up on
// first use (checks/context.ts).
import type { Kit } from '../kit.ts';
import type { Fixtures } from '../fixtures.ts';
import { createContext, type CheckContext } from './context.ts';
import { registerHealth } from './health.ts';
import { registerAuth } from './auth.ts';
import { registerErrors } from './errors.ts';
import { registerPagination } from './pagination.ts';
import { registerNegative } from './negative.ts';
import { registerIdentity } from './identity.ts';
import { registerPairings } from './pairings.ts';
import { registerSecurity } from './security.ts';
import { registerRuntime } from './runtime.ts';
import { registerTasks } from './tasks.ts';
import { registerGraph } from './graph.ts';
import { registerPolicies } from './policies.ts';
import { registerCatalogue } from './catalogue.ts';
import { registerMarket } from './market.ts';
import { registerCodes } from './codes.ts';
import { registerLimits } from './limits.ts';

const GROUP_REGISTRARS: Array<[string, (kit: Kit, ctx: CheckContext) => void]> = [
  ['health', registerHealth],
  ['auth', registerAuth],
  ['errors', registerErrors],
  ['pagination', registerPagination],
  ['negative', registerNegative],
  ['identity', registerIdentity],
  ['pairings', registerPairings],
  ['security', registerSecurity],
  ['runtime', registerRuntime],
  ['tasks', registerTasks],
  ['graph', registerGraph],
  ['policies', registerPolicies],
  ['catalogue', registerCatalogue],
  ['market', registerMarket],
  ['codes', registerCodes],
  // Last: it spends this client's challenge budget on the target.
  ['limits', registerLimits],
];

export const GROUPS: readonly string[] = GROUP_REGISTRARS.map(([name]) => name);

export function registerChecks(kit: Kit, fx: Fixtures): void {
  const ctx = createContext(kit, fx);
  for (const [, register] of GROUP_REGISTRARS) register(kit, ctx);
}
