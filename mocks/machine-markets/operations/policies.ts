// Policies.
import { ApiError } from '../../../src/errors.ts';
import { mockId, now } from '../state.ts';
import { type Operation, ok, created, gone, page, sorted, audit, type OpsContext } from './common.ts';

export function policiesOperations(_ctx: OpsContext): Record<string, Operation> {
  return {
    listPolicies: (state, req) => ok(page(sorted(state.policies), req.query)),
    createPolicy: (state, req) => {
      const at = now(state);
      const b = req.body;
      const p = {
        id: mockId(state, 'pol'),
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
      state.policies.set(p.id, p);
      audit(state, 'policy.created', 'policy', p.id);
      return created({ item: p });
    },
    getPolicy: (state, req) => ok({ item: state.policies.get(req.params.policyId!) ?? gone('Policy') }),
    updatePolicy: (state, req) => {
      const p = state.policies.get(req.params.policyId!) ?? gone('Policy');
      Object.assign(p, req.body, { updatedAt: now(state) });
      audit(state, 'policy.updated', 'policy', p.id);
      return ok({ item: p });
    },
    deletePolicy: (state, req) => {
      const p = state.policies.get(req.params.policyId!) ?? gone('Policy');
      if ([...state.machines.values()].some((m) => m.policyIds.includes(p.id)))
        throw new ApiError('VALIDATION_ERROR', 'The policy is used by a machine.');
      state.policies.delete(p.id);
      audit(state, 'policy.deleted', 'policy', p.id);
      return { status: 204 };
    },
  };
}
