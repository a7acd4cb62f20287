// Every operation's handler, by operationId. The router answers 501 NOT_IMPLEMENTED for one without a handler;
// the type below makes leaving one out a typecheck error.
import type { Handlers } from './http/types.ts';
import type { Services } from './services.ts';
import { healthHandlers } from './modules/health/handlers.ts';
import { machineHandlers } from './modules/machines/handlers.ts';
import { auditHandlers } from './modules/audit/handlers.ts';
import { pairingHandlers } from './modules/pairings/handlers.ts';
import { catalogHandlers } from './modules/catalog/handlers.ts';
import { policyHandlers } from './modules/policies/handlers.ts';
import { searchHandlers } from './modules/market/search-handlers.ts';
import { runtimeHandlers } from './modules/runtime/handlers.ts';
import { graphHandlers } from './modules/graph/handlers.ts';
import { taskHandlers } from './modules/tasks/handlers.ts';
import { orderHandlers } from './modules/orders/handlers.ts';

export function buildHandlers(s: Services): Handlers {
  // Typed as every operation of the contract: an operation without a handler fails `npm run typecheck`.
  return {
    ...healthHandlers(s),
    ...machineHandlers(s.machines),
    ...auditHandlers(s.reader),
    ...pairingHandlers(s.pairings),
    ...catalogHandlers(s.catalog),
    ...policyHandlers(s.policies),
    ...searchHandlers(s.search),
    ...runtimeHandlers(s.runtime),
    ...graphHandlers(s.graph),
    ...taskHandlers(s.tasks),
    ...orderHandlers(s.orders, s.payments),
  };
}
