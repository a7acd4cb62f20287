// Health and readiness.
import { type Operation, ok, type OpsContext } from './common.ts';

export function healthOperations(ctx: OpsContext): Record<string, Operation> {
  const { catalog } = ctx;
  return {
    getHealth: () => ok({ ok: true }),
    getReadiness: () =>
      ok({
        status: 'ready',
        checks: [
          { name: 'store', ok: true, detail: 'mock (in memory)' },
          { name: 'catalog', ok: true, detail: `${catalog.services.length} services` },
        ],
      }),
  };
}
