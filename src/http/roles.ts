// The access matrix, read from openapi.yaml: every operation lists the roles it admits under x-peaqos-roles.
import type { Role } from '../auth/caller.ts';
import { listOperations, type OpenApiDoc } from '../contract/spec.ts';

export const ROLES: readonly Role[] = ['operator', 'agent', 'machine-agent', 'public'];

export function rolesByOperation(doc: OpenApiDoc): Map<string, Role[]> {
  const out = new Map<string, Role[]>();
  for (const op of listOperations(doc)) {
    const roles = op.operation['x-peaqos-roles'];
    if (!Array.isArray(roles) || roles.length === 0 || roles.some((r: unknown) => !ROLES.includes(r as Role))) {
      throw new Error(`openapi.yaml: ${op.operationId} needs x-peaqos-roles, a non-empty list of ${ROLES.join(', ')}`);
    }
    out.set(op.operationId, roles as Role[]);
  }
  return out;
}
