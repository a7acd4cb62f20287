// The audit log.
import { type Operation, ok, page, sorted, type OpsContext } from './common.ts';

export function auditOperations(_ctx: OpsContext): Record<string, Operation> {
  return {
    listAuditEvents: (state, req) =>
      ok(
        page(
          sorted(state.audit).filter(
            (e) =>
              (!req.query.type || e.type === req.query.type) &&
              (!req.query.resourceType || e.resourceType === req.query.resourceType) &&
              (!req.query.resourceId || e.resourceId === req.query.resourceId),
          ),
          req.query,
        ),
      ),
  };
}
