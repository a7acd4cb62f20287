// Every operation of openapi.yaml over the mock's in-memory state, one file per module. The rules are the reference
// server's where they are pure (ranking, delegation policy, order and payment state machines, challenge
// messages); identity proofs are real EIP-191 signatures checked against the mock MCR fixture fleet.
import type { Catalog } from '../../../src/modules/catalog/catalog-core.ts';
import { fixtureResolver, opsContext, type IdentityResolver, type Operation } from './common.ts';
import { healthOperations } from './health.ts';
import { machinesOperations } from './machines.ts';
import { pairingsOperations } from './pairings.ts';
import { catalogueOperations } from './catalogue.ts';
import { marketOperations } from './market.ts';
import { ordersOperations } from './orders.ts';
import { runtimeOperations } from './runtime.ts';
import { graphOperations } from './graph.ts';
import { tasksOperations } from './tasks.ts';
import { policiesOperations } from './policies.ts';
import { auditOperations } from './audit.ts';

export { fixtureResolver, type IdentityResolver, type Operation, type OpRequest, type OpResult } from './common.ts';

export function operations(catalog: Catalog, resolve: IdentityResolver = fixtureResolver): Record<string, Operation> {
  const ctx = opsContext(catalog, resolve);
  return {
    ...healthOperations(ctx),
    ...machinesOperations(ctx),
    ...pairingsOperations(ctx),
    ...catalogueOperations(ctx),
    ...marketOperations(ctx),
    ...ordersOperations(ctx),
    ...runtimeOperations(ctx),
    ...graphOperations(ctx),
    ...tasksOperations(ctx),
    ...policiesOperations(ctx),
    ...auditOperations(ctx),
  };
}
